// What injection costs a pod on a real node: the time from the create call
// to the app container running, for the same pod with and without the
// agent, measured in the same run on the test bed's node (so the ratio, not
// the bare figure, is what to compare between machines). Also the agent's own
// start to ready inside the pod (its log's startupMs: process start to first
// credentials held) and the image sizes. Prints figures; asserts nothing.
//
//   node scripts/run-ts.mjs bench/node/pod-start.ts [rounds]     (root; no test run at the same time)
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { adminKubeConfig } from "../../test/harness/cluster.js";
import { createGrant, TEST_ORG_UUID } from "../../test/harness/kube.js";
import { startNodeCluster } from "../../test/harness/node/node-cluster.js";
import { startCredentialStack } from "../../test/harness/node/credential-stack.js";
import { createNodeNamespace, podLog } from "../../test/harness/node/pods.js";
import { withIrsa } from "../../test/harness/node/irsa.js";
import { AGENT_CONTAINER_NAME } from "../../src/shared/names.js";

const ROUNDS = Number(process.argv[2] ?? 8);
const GRANTED_ROLE = "datadog/bench";
const BASE_ROLE = "irsa/bench-base";
const BASE_SESSION = "bench";

interface Sample {
  readonly appRunningMs: number;
  readonly agentStartupMs?: number;
}

const node = await startNodeCluster();
try {
  const admin = adminKubeConfig(node);
  const stack = await startCredentialStack(node, { grantedRoles: [GRANTED_ROLE], baseRoles: [{ role: BASE_ROLE, sessionName: BASE_SESSION }] });
  try {
    const plain = await createNodeNamespace(admin, { prefix: "bench-plain" });
    const injected = await createNodeNamespace(admin, { prefix: "bench-injected", injection: true });
    const core = admin.makeApiClient(CoreV1Api);
    // Both namespaces' pods carry the same IRSA identity; only the injected ones use it (in the agent).
    for (const namespace of [plain, injected]) await stack.sts.trust(stack.moto.roleArn(BASE_ROLE), `system:serviceaccount:${namespace}:default`);
    await createGrant(admin, injected, "bench", {
      podSelector: { matchLabels: { app: "bench" } },
      aws: { roleArn: stack.moto.roleArn(GRANTED_ROLE) },
      datadog: { orgUuid: TEST_ORG_UUID },
    });
    const identity = { roleArn: stack.moto.roleArn(BASE_ROLE), sessionName: BASE_SESSION, stsUrl: stack.sts.url };
    const pod = (name: string): V1Pod =>
      withIrsa(
        {
          metadata: { name, labels: { app: "bench" } },
          spec: {
            terminationGracePeriodSeconds: 0,
            containers: [{ name: "app", image: node.images["app-python"].ref, imagePullPolicy: "Never", command: ["sleep", "3600"] }],
          },
        },
        identity,
      );
    // A first round of each, not counted: the kubelet's and containerd's first pod pays one-time costs.
    await measure(admin, plain, pod("warm-plain"));
    await waitForInjection(admin, injected, pod("warm-injected"));
    const plainSamples: Sample[] = [];
    const injectedSamples: Sample[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      plainSamples.push(await measure(admin, plain, pod(`plain-${round}`)));
      injectedSamples.push(await measure(admin, injected, pod(`injected-${round}`)));
    }
    report(plainSamples, injectedSamples);
    await core.deleteCollectionNamespacedPod({ namespace: plain, gracePeriodSeconds: 0 });
    await core.deleteCollectionNamespacedPod({ namespace: injected, gracePeriodSeconds: 0 });
  } finally {
    await stack.stop();
  }
  for (const [role, image] of Object.entries(node.images)) {
    console.log(`image ${role.padEnd(12)} ${(image.sizeBytes / 1e6).toFixed(1).padStart(6)} MB archive, ${image.layers} layer(s)  ${image.ref}`);
  }
} finally {
  await node.stop();
}

/** The first pod may be admitted before the webhook's cache holds the grant: retry until one is injected. */
async function waitForInjection(admin: KubeConfig, namespace: string, template: V1Pod): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  for (let attempt = 0; attempt < 100; attempt++) {
    const name = `${template.metadata!.name}-${attempt}`;
    const created = await core.createNamespacedPod({ namespace, body: { ...template, metadata: { ...template.metadata, name } } });
    if (created.spec?.initContainers?.some((c) => c.name === AGENT_CONTAINER_NAME)) {
      await measureExisting(admin, namespace, name, Date.now());
      return;
    }
    await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
  }
  throw new Error("the webhook never injected a pod");
}

async function measure(admin: KubeConfig, namespace: string, body: V1Pod): Promise<Sample> {
  const started = Date.now();
  await admin.makeApiClient(CoreV1Api).createNamespacedPod({ namespace, body });
  return await measureExisting(admin, namespace, body.metadata!.name!, started);
}

async function measureExisting(admin: KubeConfig, namespace: string, name: string, started: number): Promise<Sample> {
  const core = admin.makeApiClient(CoreV1Api);
  for (;;) {
    const pod = await core.readNamespacedPod({ name, namespace });
    if (pod.status?.containerStatuses?.find((s) => s.name === "app")?.state?.running) {
      const appRunningMs = Date.now() - started;
      const injected = pod.spec?.initContainers?.some((c) => c.name === AGENT_CONTAINER_NAME);
      if (!injected) return { appRunningMs };
      const ready = (await podLog(admin, namespace, name, AGENT_CONTAINER_NAME)).split("\n").find((line) => line.includes("every granted credential is held"));
      const agentStartupMs = ready ? (JSON.parse(ready) as { startupMs?: number }).startupMs : undefined;
      return { appRunningMs, ...(agentStartupMs === undefined ? {} : { agentStartupMs }) };
    }
    if (Date.now() - started > 120_000) throw new Error(`pod ${namespace}/${name} did not start: ${JSON.stringify(pod.status)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function report(plain: readonly Sample[], injected: readonly Sample[]): void {
  const line = (what: string, values: readonly number[]) =>
    console.log(`${what.padEnd(46)} median ${String(percentile(values, 50)).padStart(5)} ms   p90 ${String(percentile(values, 90)).padStart(5)} ms   (${values.length} pods)`);
  console.log(`pod creation to app container running, ${ROUNDS} pods each, sequential:`);
  const plainMs = plain.map((s) => s.appRunningMs);
  const injectedMs = injected.map((s) => s.appRunningMs);
  line("  without injection (baseline)", plainMs);
  line("  with the agent (native sidecar, startup probe)", injectedMs);
  console.log(`  ratio injected / baseline (median): ${(percentile(injectedMs, 50) / percentile(plainMs, 50)).toFixed(2)}x`);
  line("agent process start to first credentials held", injected.map((s) => s.agentStartupMs ?? Number.NaN));
}
