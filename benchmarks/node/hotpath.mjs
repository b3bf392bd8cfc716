// authkit-nextjs's per-request session check, timed inside node for benchmarks/hotpath.py.
//
// Reads {"sealed", "password", "jwks", "iterations"} as JSON on stdin; each iteration does what authkit-nextjs does
// for a request with a valid session: iron-session unsealData of the wos-session cookie, then jose jwtVerify of
// its access token against the JWKS (createLocalJWKSet: keys imported once, as createRemoteJWKSet caches them).
// Writes {"ok", "node", "samples_ns": [...]} on stdout: one process.hrtime.bigint() duration per iteration.
import { unsealData } from "iron-session";
import { createLocalJWKSet, jwtVerify } from "jose";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const jwks = createLocalJWKSet(request.jwks);

async function once() {
  const session = await unsealData(request.sealed, { password: request.password, ttl: 0 });
  const { payload } = await jwtVerify(session.accessToken, jwks, { algorithms: ["RS256"] });
  return payload.sub === session.user.id;
}

let ok = true;
for (let i = 0; i < 50; i++) ok = (await once()) && ok; // warm-up: JIT, key import
const samples = [];
for (let i = 0; i < request.iterations; i++) {
  const start = process.hrtime.bigint();
  ok = (await once()) && ok;
  samples.push(Number(process.hrtime.bigint() - start));
}
process.stdout.write(JSON.stringify({ ok, node: process.version, samples_ns: samples }));
