// `helm test`: run in a pod the chart's test hook creates in tests.namespace,
// with the labels a grant there selects. It passes only if the webhook
// injected the pod and its agent is ready: the agent runs as a native sidecar
// whose startup probe holds this container back until the first credentials
// are held, so reaching this script already says most of it; the checks
// below say which part failed when one did. Prints no credential.
import { statSync } from "node:fs";

const env = process.env;
const fail = (message) => {
  console.error(`FAIL: ${message}`);
  process.exit(1);
};

if (!env.DDCRED_ENDPOINT) {
  fail(
    "this pod was not injected: it has no DDCRED_ENDPOINT. Check that the namespace is labelled " +
      "ddcred.io/injection=enabled, that exactly one DatadogCredentialGrant there selects the labels in tests.podLabels " +
      "(kubectl get ddgrant -n <namespace> -o wide), and the warnings on the pod's creation (kubectl get events).",
  );
}
let ready;
try {
  ready = await fetch(new URL("/readyz", env.DDCRED_ENDPOINT), { signal: AbortSignal.timeout(5000) });
} catch (error) {
  fail(`the credential agent at ${env.DDCRED_ENDPOINT} did not answer: ${error.cause?.code ?? error.message}`);
}
const reason = (await ready.text()).trim();
if (ready.status !== 200) fail(`the credential agent is not ready (HTTP ${ready.status}): ${reason}. Its log says why: kubectl logs <pod> -c ddcred-agent`);

const files = [env.DD_BEARER_TOKEN_FILE, env.DD_API_KEY_FILE].filter(Boolean);
for (const file of files) {
  let size = 0;
  try {
    size = statSync(file).size;
  } catch (error) {
    fail(`the agent is ready but ${file} cannot be read: ${error.code ?? error.message}`);
  }
  if (size === 0) fail(`the agent is ready but ${file} is empty`);
}
console.log(
  `PASS: injected by ddcred; the credential agent is ready (${reason || "ok"}) for Datadog site ${env.DD_SITE}` +
    (files.length > 0 ? `, holding ${files.join(" and ")}` : "") +
    ".",
);
