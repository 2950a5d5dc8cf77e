// Failure drills on the test bed's real node, where the webhook is reached
// as in a cluster: the API server calls the chart's Service, whose endpoints
// the endpoints controller keeps from the operator pods' readiness. During a
// burst of 500 pod creations (30/s, 10 in flight; server-side dry runs, so
// every creation goes through admission, webhook included, and nothing has to
// run), one thing breaks:
//   node-replica-graceful  one operator pod deleted (SIGTERM, the chart's 5 s shutdown delay)
//   node-replica-hard      one operator container SIGKILLed (the kubelet restarts it)
//   node-helm-upgrade      `helm upgrade` rolls both replicas (maxSurge 1, maxUnavailable 0)
// Prints what users saw (failed creations, uninjected pods), and how long
// until two ready replicas served again. Asserts nothing.
//
//   node scripts/run-ts.mjs bench/drills/node.ts [drill...]     (root; no test run at the same time)
import { execFileSync } from "node:child_process";
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { adminKubeConfig } from "../../test/harness/cluster.js";
import { createGrant, TEST_ORG_UUID, waitForGrant } from "../../test/harness/kube.js";
import { startNodeCluster, type NodeClusterInfo } from "../../test/harness/node/node-cluster.js";
import { startCredentialStack, type CredentialStack } from "../../test/harness/node/credential-stack.js";
import { createNodeNamespace } from "../../test/harness/node/pods.js";
import { CHART_DIR, helm } from "../../test/chart/helm.js";
import { apiError } from "../../src/shared/kube/client.js";
import { AGENT_CONTAINER_NAME } from "../../src/shared/names.js";
import { printDrill, printSummary, type DrillReport, type DrillRun } from "./report.js";

const PODS = 500;
const CONCURRENCY = 10;
const RATE_PER_SECOND = 30;
const FAULT_AT_POD = 100;
const DRILLS = ["node-replica-graceful", "node-replica-hard", "node-helm-upgrade"] as const;
type Drill = (typeof DRILLS)[number];

interface Creation {
  readonly atMs: number;
  readonly ok: boolean;
  readonly injected: boolean;
  readonly error?: string;
}

/** Operator pods seen ready, with their restart counts: what "replaced" and "restarted" compare against. */
const seenPods = new Map<string, number>();
const chosen = (process.argv.slice(2).length > 0 ? process.argv.slice(2) : DRILLS) as Drill[];
const node = await startNodeCluster();
const runs: DrillRun[] = [];
try {
  const stack = await startCredentialStack(node, { grantedRoles: ["datadog/drill"] });
  try {
    const admin = adminKubeConfig(node);
    const namespace = await createNodeNamespace(admin, { prefix: "drill", injection: true });
    await createGrant(admin, namespace, "drill", { podSelector: { matchLabels: { app: "drill" } }, aws: { roleArn: stack.moto.roleArn("datadog/drill") }, datadog: { orgUuid: TEST_ORG_UUID } });
    await waitForGrant(admin, namespace, "drill", (g) => g.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false);
    for (const drill of chosen) {
      const start = performance.now();
      try {
        const report = await runDrill(drill, node, stack, admin, namespace);
        runs.push({ drill, seconds: (performance.now() - start) / 1000, report });
      } catch (error) {
        runs.push({ drill, seconds: (performance.now() - start) / 1000, crash: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
      printDrill(runs.at(-1)!);
    }
  } finally {
    await stack.stop();
  }
} finally {
  await node.stop();
}
printSummary(runs);
process.exitCode = runs.some((run) => run.crash) ? 1 : 0;

async function runDrill(drill: Drill, cluster: NodeClusterInfo, stack: CredentialStack, admin: KubeConfig, namespace: string): Promise<DrillReport> {
  await waitForReplicas(admin, stack.release.namespace, 2);
  let faultAtMs = Number.NaN;
  let recoveredAtMs = Number.NaN;
  const burstStart = performance.now();
  const creations = await burst(admin, namespace, async () => {
    faultAtMs = performance.now() - burstStart;
    await fault(drill, cluster, stack, admin);
    // Recovery: two ready replicas again, one of them new (graceful, upgrade) or restarted (hard).
    void waitForReplicas(admin, stack.release.namespace, 2, drill === "node-replica-hard" ? "restarted" : "replaced").then(() => {
      recoveredAtMs = performance.now() - burstStart;
    });
  });
  await waitForReplicas(admin, stack.release.namespace, 2);
  if (Number.isNaN(recoveredAtMs)) recoveredAtMs = performance.now() - burstStart;
  const failed = creations.filter((c) => !c.ok);
  const uninjected = creations.filter((c) => c.ok && !c.injected);
  const errors = new Map<string, number>();
  for (const c of failed) errors.set(c.error ?? "?", (errors.get(c.error ?? "?") ?? 0) + 1);
  const afterFault = creations.filter((c) => c.atMs >= faultAtMs);
  return {
    drill,
    saw: `${failed.length} of ${PODS} creations failed${uninjected.length ? `, ${uninjected.length} admitted without the agent` : ""}`,
    lost: uninjected.length === 0 ? "no pod ran without credentials" : `${uninjected.length} pods without the agent`,
    recovered: `two ready replicas ${((recoveredAtMs - faultAtMs) / 1000).toFixed(1)} s after the fault`,
    figures: [
      ["creations", `${PODS} (dry run through admission), ${RATE_PER_SECOND}/s, ${CONCURRENCY} in flight; fault after pod ${FAULT_AT_POD}`],
      ["failed", `${failed.length}${errors.size ? ` (${[...errors].map(([e, n]) => `${n}x ${e}`).join("; ")})` : ""}`],
      ["failed after the fault", `${afterFault.filter((c) => !c.ok).length} of ${afterFault.length}`],
      ["injected", `${creations.filter((c) => c.injected).length} of ${creations.filter((c) => c.ok).length} created`],
      ["fault at", `${(faultAtMs / 1000).toFixed(1)} s into the burst`],
      ["recovered", `${((recoveredAtMs - faultAtMs) / 1000).toFixed(1)} s after the fault (two ready replicas)`],
    ],
    notes: ["the API server calls the webhook's Service at its endpoints (aggregator routing); readiness decides the endpoints"],
  };
}

async function fault(drill: Drill, cluster: NodeClusterInfo, stack: CredentialStack, admin: KubeConfig): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const operators = (await core.listNamespacedPod({ namespace: stack.release.namespace, labelSelector: `app.kubernetes.io/instance=${stack.release.name}` })).items.filter(isReady);
  const victim = operators[0]!;
  if (drill === "node-replica-graceful") {
    await core.deleteNamespacedPod({ name: victim.metadata!.name!, namespace: stack.release.namespace });
  } else if (drill === "node-replica-hard") {
    const id = victim.status!.containerStatuses![0]!.containerID!.replace("containerd://", "");
    execFileSync("ctr", ["-a", cluster.containerdSocket, "-n", "k8s.io", "tasks", "kill", "--signal", "SIGKILL", id]);
  } else {
    const result = await helm(
      ["upgrade", stack.release.name, CHART_DIR, "--namespace", stack.release.namespace, "--kubeconfig", cluster.adminKubeconfig, "--reuse-values", "--set", `podAnnotations.drill=r${Date.now()}`],
    );
    if (result.code !== 0) throw new Error(`helm upgrade failed: ${result.stderr}`);
  }
}

function isReady(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

async function waitForReplicas(admin: KubeConfig, namespace: string, count: number, change?: "replaced" | "restarted"): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const before = new Map(seenPods);
  for (;;) {
    const pods = (await core.listNamespacedPod({ namespace })).items.filter(isReady);
    const changed =
      change === undefined ||
      pods.some((pod) => (change === "replaced" ? !before.has(pod.metadata!.name!) : (pod.status?.containerStatuses?.[0]?.restartCount ?? 0) > (before.get(pod.metadata!.name!) ?? 0)));
    if (pods.length >= count && changed) {
      for (const pod of pods) seenPods.set(pod.metadata!.name!, pod.status?.containerStatuses?.[0]?.restartCount ?? 0);
      const deployment = (await admin.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace })).items[0];
      if ((deployment?.status?.updatedReplicas ?? 0) >= count || change !== undefined) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** PODS dry-run creations at RATE_PER_SECOND with CONCURRENCY in flight; `onFault` runs once pod FAULT_AT_POD was sent. */
async function burst(admin: KubeConfig, namespace: string, onFault: () => Promise<void>): Promise<Creation[]> {
  const core = admin.makeApiClient(CoreV1Api);
  const results: Creation[] = [];
  const start = performance.now();
  let next = 0;
  let faulted: Promise<void> | undefined;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < PODS) {
        const index = next++;
        const due = start + (index * 1000) / RATE_PER_SECOND;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (index === FAULT_AT_POD) faulted = onFault();
        const body: V1Pod = { metadata: { generateName: "drill-", labels: { app: "drill" } }, spec: { containers: [{ name: "app", image: "drill" }] } };
        const atMs = performance.now() - start;
        try {
          const created = await core.createNamespacedPod({ namespace, body, dryRun: "All" });
          results.push({ atMs, ok: true, injected: created.spec?.initContainers?.some((c) => c.name === AGENT_CONTAINER_NAME) ?? false });
        } catch (error) {
          const problem = apiError(error);
          const what = problem ? `HTTP ${problem.code} ${problem.message.slice(0, 80)}` : String(error).slice(0, 80);
          results.push({ atMs, ok: false, injected: false, error: what });
        }
      }
    }),
  );
  await faulted;
  return results;
}
