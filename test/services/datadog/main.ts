// Runs the test Datadog token service as a process (the tests' harness and
// the demo start it; scripts/build.mjs bundles it to dist/datadog-token-service.mjs).
// Prints "listening on <url>" on stdout once ready; events go to stderr as JSON lines.
//
//   node dist/datadog-token-service.mjs --sts-url http://127.0.0.1:5000 \
//     --org 0f8f...=arn:aws:iam::123456789012:role/ddcred-test [--org ...] \
//     [--orgs '<json>'] [--token-ttl 900] [--intake-key-ttl 3600] [--port 0] [--host 127.0.0.1]
//
// --intake-key-ttl is how long each org's intake key lives before the service
// rotates it (intake keys themselves carry no expiry). Proofs name real STS
// hosts; the service replays them to --sts-url with their signed Host intact.
//
// Each flag has an env twin: DDCRED_TEST_STS_URL (else AWS_ENDPOINT_URL_STS), DDCRED_TEST_ORGS (JSON),
// DDCRED_TEST_TOKEN_TTL_SECONDS, DDCRED_TEST_INTAKE_KEY_TTL_SECONDS, DDCRED_TEST_MAX_PROOF_AGE_SECONDS, PORT, HOST.
import { parseArgs } from "node:util";
import { parseOrgs } from "./control-api.js";
import type { OrgMapping } from "./identities.js";
import { createDatadogTokenService } from "./service.js";

function fail(message: string): never {
  process.stderr.write(`datadog-token-service: ${message}\n`);
  process.exit(2);
}

function positive(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!(n > 0)) fail(`${name} must be a positive number of seconds, got ${JSON.stringify(raw)}`);
  return n;
}

const { values } = parseArgs({
  options: {
    "sts-url": { type: "string" },
    org: { type: "string", multiple: true },
    orgs: { type: "string" },
    "token-ttl": { type: "string" },
    "intake-key-ttl": { type: "string" },
    "max-proof-age": { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
  },
});
const env = process.env;

const stsUrl = values["sts-url"] ?? env.DDCRED_TEST_STS_URL ?? env.AWS_ENDPOINT_URL_STS;
if (!stsUrl) fail("--sts-url (or DDCRED_TEST_STS_URL) is required: the STS emulator to verify proofs against");

const orgs: OrgMapping[] = [];
const orgsJson = values.orgs ?? env.DDCRED_TEST_ORGS;
if (orgsJson) {
  let parsed: OrgMapping[] | undefined;
  try {
    parsed = parseOrgs(JSON.parse(orgsJson));
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined) fail('--orgs must be JSON: [{"uuid": "...", "roleArns": ["arn:aws:iam::...:role/..."]}]');
  orgs.push(...parsed);
}
for (const flag of values.org ?? []) {
  const [uuid = "", arns = ""] = flag.split("=", 2);
  if (uuid === "" || arns === "") fail(`--org takes UUID=ROLE_ARN[,ROLE_ARN...], got ${JSON.stringify(flag)}`);
  orgs.push({ uuid, roleArns: arns.split(",") });
}

const service = createDatadogTokenService({
  stsUrl,
  orgs,
  tokenTtlSeconds: positive("--token-ttl", values["token-ttl"] ?? env.DDCRED_TEST_TOKEN_TTL_SECONDS),
  intakeKeyTtlSeconds: positive("--intake-key-ttl", values["intake-key-ttl"] ?? env.DDCRED_TEST_INTAKE_KEY_TTL_SECONDS),
  maxProofAgeSeconds: positive("--max-proof-age", values["max-proof-age"] ?? env.DDCRED_TEST_MAX_PROOF_AGE_SECONDS),
  log: (event) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`),
});

const url = await service.listen(Number(values.port ?? env.PORT ?? 0), values.host ?? env.HOST ?? "127.0.0.1");
process.stdout.write(`listening on ${url}\n`);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    service.close().finally(() => process.exit(0));
  });
}
