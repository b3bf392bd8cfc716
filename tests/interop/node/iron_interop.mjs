// Iron interop peer for tests/interop/test_iron_interop.py.
//
// Reads {"cases": [...]} as JSON on stdin and writes {"results": [...]} (one per case, same order) on stdout,
// so one node process serves a whole test file. Each case is one of:
//   {"op": "seal", "data": ..., "password": str | {id: str}, "ttl": seconds}      iron-session sealData
//   {"op": "unseal", "sealed": str, "password": str | {id: str}}                   iron-session unsealData
//   {"op": "workos_seal", "response": {...}, "password": str}                       @workos-inc/node sealing
//   {"op": "workos_unseal", "sealed": str, "password": str}                         @workos-inc/node getSessionFromCookie
//   {"op": "stringify", "data": ...}                                                 JSON.stringify (what iron encrypts)
// A result is {"ok": true, "value": ...} or {"ok": false, "error": message}.
import { sealData, unsealData } from "iron-session";
import { WorkOS } from "@workos-inc/node";

const workos = new WorkOS("sk_test_interop", { clientId: "client_interop" });

async function run(testCase) {
  switch (testCase.op) {
    case "seal":
      return sealData(testCase.data, { password: testCase.password, ttl: testCase.ttl ?? 0 });
    case "unseal":
      return unsealData(testCase.sealed, { password: testCase.password, ttl: 0 });
    case "workos_seal":
      // What authenticateWithCode({session: {sealSession: true, cookiePassword}}) returns as sealedSession;
      // calling the helper directly avoids needing a WorkOS API for the code exchange.
      return workos.userManagement.sealSessionDataFromAuthenticationResponse({
        authenticationResponse: testCase.response,
        cookiePassword: testCase.password,
      });
    case "workos_unseal":
      return workos.userManagement.getSessionFromCookie({
        sessionData: testCase.sealed,
        cookiePassword: testCase.password,
      });
    case "stringify":
      return JSON.stringify(testCase.data);
    default:
      throw new Error(`unknown op ${testCase.op}`);
  }
}

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { cases } = JSON.parse(input);
const results = [];
for (const testCase of cases) {
  try {
    results.push({ ok: true, value: (await run(testCase)) ?? null });
  } catch (error) {
    results.push({ ok: false, error: String(error?.message ?? error) });
  }
}
process.stdout.write(JSON.stringify({ results }));
