// authkit-access-token.js: call your APIs from browser code with the signed-in user's WorkOS access token.
// Plain JavaScript, no build step. Needs the middleware's access_token_endpoints=True (POST /auth/access-token)
// and, on the API, accept_bearer=True (or a per-route bearer helper).
const authkit = (() => {
  const endpoint = "/auth/access-token";
  let cached = null; // {token, expiresAt (ms)}; kept in memory only, never in localStorage

  async function fetchToken(refresh) {
    const response = await fetch(endpoint + (refresh ? "?refresh=true" : ""), {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.status === 401) {
      cached = null; // signed out
      return null;
    }
    if (!response.ok) throw new Error(`access token: HTTP ${response.status}`);
    const body = await response.json();
    cached = { token: body.access_token, expiresAt: body.expires_at * 1000 };
    return cached.token;
  }

  // The current access token (fetched again 30 s before it expires), or null when signed out.
  async function getAccessToken() {
    if (cached && cached.expiresAt - Date.now() > 30000) return cached.token;
    return fetchToken(false);
  }

  // fetch() with "Authorization: Bearer <token>"; on a 401 the token is refreshed once and the call retried.
  async function fetchWithToken(url, init = {}) {
    const call = (token) =>
      fetch(url, { ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` } });
    let token = await getAccessToken();
    if (!token) return new Response(null, { status: 401 });
    let response = await call(token);
    if (response.status === 401) {
      token = await fetchToken(true);
      if (!token) return response;
      response = await call(token);
    }
    return response;
  }

  return { getAccessToken, refreshAccessToken: () => fetchToken(true), fetchWithToken };
})();
