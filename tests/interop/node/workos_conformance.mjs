// Drives the local WorkOS emulator with the official @workos-inc/node SDK (8.13.0) and prints one JSON object of
// results for tests/interop/test_sdk_conformance.py to assert on. Reads EMULATOR_PORT, EMULATOR_CLIENT_ID and
// EMULATOR_API_KEY from the environment. Never prints tokens.
import { WorkOS } from '@workos-inc/node';

const port = Number(process.env.EMULATOR_PORT);
const clientId = process.env.EMULATOR_CLIENT_ID;
const apiKey = process.env.EMULATOR_API_KEY;
const redirectUri = 'http://127.0.0.1:8000/callback';
const cookiePassword = 'node-conformance-cookie-password-0123456789';

const workos = new WorkOS(apiKey, { clientId, apiHostname: '127.0.0.1', port, https: false });
const um = workos.userManagement;

function claimsOf(token) {
  const part = token.split('.')[1];
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

async function errorOf(promise) {
  try {
    await promise;
    return { name: 'none' };
  } catch (e) {
    return { name: e.constructor.name, error: e.error ?? null, status: e.status ?? null };
  }
}

const out = {};

// 1. authorization URL and code (login_hint signs in without the page)
const { codeVerifier, codeChallenge } = await workos.pkce.generate();
out.authorizationUrl = um.getAuthorizationUrl({
  provider: 'authkit',
  clientId,
  redirectUri,
  state: 's1',
  codeChallenge,
  codeChallengeMethod: 'S256',
  loginHint: 'alice@example.com',
});
const authorize = await fetch(out.authorizationUrl, { redirect: 'manual' });
const code = new URL(authorize.headers.get('location')).searchParams.get('code');

const auth = await um.authenticateWithCode({
  clientId,
  code,
  codeVerifier,
  session: { sealSession: true, cookiePassword },
});
out.sessionId = claimsOf(auth.accessToken).sid;
out.code = { user: auth.user, organizationId: auth.organizationId, sealed: typeof auth.sealedSession === 'string' };

// 2. the sealed cookie verifies against the emulator's JWKS, then refreshes into another organization
const cookieSession = um.loadSealedSession({ sessionData: auth.sealedSession, cookiePassword });
const cookie = await cookieSession.authenticate();
out.cookie = { authenticated: cookie.authenticated, sessionId: cookie.sessionId ?? null, role: cookie.role ?? null };
const cookieRefresh = await cookieSession.refresh({ organizationId: 'org_globex' });
out.cookieRefresh = { authenticated: cookieRefresh.authenticated, organizationId: cookieRefresh.organizationId ?? null };

// 3. the first refresh token was rotated away: reusing it fails with invalid_grant
out.reuse = await errorOf(um.authenticateWithRefreshToken({ clientId, refreshToken: auth.refreshToken }));

// 4. a direct refresh back into the first organization rotates again
const latest = cookieRefresh.session.refreshToken;
const refreshed = await um.authenticateWithRefreshToken({
  clientId,
  refreshToken: latest,
  organizationId: 'org_acme',
  session: { sealSession: true, cookiePassword },
});
out.refresh = { organizationId: refreshed.organizationId, rotated: refreshed.refreshToken !== latest };

// 5. switching into an organization that requires SSO gives the SDK's sso_required reason
const ssoSession = um.loadSealedSession({ sessionData: refreshed.sealedSession, cookiePassword });
const sso = await ssoSession.refresh({ organizationId: 'org_sso' });
out.ssoRefresh = { authenticated: sso.authenticated, reason: sso.reason ?? null };

// 6. logout ends the session
const logoutUrl = um.getLogoutUrl({ sessionId: out.sessionId, returnTo: 'http://127.0.0.1:8000/bye' });
const logout = await fetch(logoutUrl, { redirect: 'manual' });
out.logout = { status: logout.status, location: logout.headers.get('location') };
out.afterLogout = await errorOf(um.authenticateWithRefreshToken({ clientId, refreshToken: refreshed.refreshToken }));

process.stdout.write(JSON.stringify(out));
