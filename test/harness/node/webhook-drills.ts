// Failure drills on the test bed's real node, where the webhook is reached
// as in a cluster: the API server calls the chart's Service, whose endpoints
// the endpoints controller keeps from the operator pods' readiness. During a
// burst of 500 pod creations (30/s, 10 in flight; server-side dry runs, so
// every creation goes through admission, webhook included, and nothing has to
// run), one thing breaks:
//   node-replica-graceful  one operator pod deleted (SIGTERM, the chart's 5 s shutdown delay)
//   node-replica-hard      one operator container SIGKILLed (the kubelet restarts it)
//   node-helm-upgrade      `helm upgrade` rolls both replicas (maxSurge 1, maxUnavailable 0)
// bench/drills/node.ts prints the figures; test/node/webhook-drills.test.ts
// holds what users must never see (a pod admitted without its agent).
import { execFileSync } from "node:child_process";
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { CHART_DIR, helm } from "../../chart/helm.js";
import { apiError } from "../../../src/shared/kube/client.js";
import { AGENT_CONTAINER_NAME } from "../../../src/shared/names.js";
import type { DrillReport } from "../../../bench/drills/report.js";
import type { NodeClusterInfo } from "./node-cluster.js";

const PODS = 500;
const CONCURRENCY = 10;
const RATE_PER_SECOND = 30;
const FAULT_AT_POD = 100;
export const NODE_DRILLS = ["node-replica-graceful", "node-replica-hard", "node-helm-upgrade"] as const;
export type NodeDrill = (typeof NODE_DRILLS)[number];

/** The Helm release whose operator the drill breaks. */
export interface DrilledRelease {
  readonly name: string;
  readonly namespace: string;
}

export interface Creation {
  readonly atMs: number;
  readonly ok: boolean;
  readonly injected: boolean;
  readonly error?: string;
}

/** Operator pods seen ready, with their restart counts: what "replaced" and "restarted" compare against. */
const seenPods = new Map<string, number>();

function operatorSelector(release: DrilledRelease): string {
  return `app.kubernetes.io/instance=${release.name},app.kubernetes.io/name=ddcred-operator`;
}

/** Runs one drill against a release on the node; pods are created (dry run) in `namespace`, which that release's webhook serves. */
export async function runNodeDrill(drill: NodeDrill, cluster: NodeClusterInfo, release: DrilledRelease, admin: KubeConfig, namespace: string): Promise<DrillReport & { readonly creations: readonly Creation[] }> {
  await waitForReplicas(admin, release, 2);
  let faultAtMs = Number.NaN;
  let recoveredAtMs = Number.NaN;
  const burstStart = performance.now();
  const creations = await burst(admin, namespace, async () => {
    faultAtMs = performance.now() - burstStart;
    await fault(drill, cluster, release, admin);
    // Recovery: two ready replicas again, one of them new (graceful, upgrade) or restarted (hard).
    void waitForReplicas(admin, release, 2, drill === "node-replica-hard" ? "restarted" : "replaced").then(() => {
      recoveredAtMs = performance.now() - burstStart;
    });
  });
  await waitForReplicas(admin, release, 2);
  if (Number.isNaN(recoveredAtMs)) recoveredAtMs = performance.now() - burstStart;
  const failed = creations.filter((c) => !c.ok);
  const uninjected = creations.filter((c) => c.ok && !c.injected);
  const errors = new Map<string, number>();
  for (const c of failed) errors.set(c.error ?? "?", (errors.get(c.error ?? "?") ?? 0) + 1);
  const afterFault = creations.filter((c) => c.atMs >= faultAtMs);
  return {
    drill,
    creations,
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

async function fault(drill: NodeDrill, cluster: NodeClusterInfo, release: DrilledRelease, admin: KubeConfig): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const operators = (await core.listNamespacedPod({ namespace: release.namespace, labelSelector: operatorSelector(release) })).items.filter(isReady);
  const victim = operators[0]!;
  if (drill === "node-replica-graceful") {
    await core.deleteNamespacedPod({ name: victim.metadata!.name!, namespace: release.namespace });
  } else if (drill === "node-replica-hard") {
    const id = victim.status!.containerStatuses![0]!.containerID!.replace("containerd://", "");
    execFileSync("ctr", ["-a", cluster.containerdSocket, "-n", "k8s.io", "tasks", "kill", "--signal", "SIGKILL", id]);
  } else {
    const result = await helm(
      ["upgrade", release.name, CHART_DIR, "--namespace", release.namespace, "--kubeconfig", cluster.adminKubeconfig, "--reuse-values", "--set", `podAnnotations.drill=r${Date.now()}`],
    );
    if (result.code !== 0) throw new Error(`helm upgrade failed: ${result.stderr}`);
  }
}

function isReady(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

async function waitForReplicas(admin: KubeConfig, release: DrilledRelease, count: number, change?: "replaced" | "restarted"): Promise<void> {
  const namespace = release.namespace;
  const core = admin.makeApiClient(CoreV1Api);
  const before = new Map(seenPods);
  for (;;) {
    const pods = (await core.listNamespacedPod({ namespace, labelSelector: operatorSelector(release) })).items.filter(isReady);
    const changed =
      change === undefined ||
      pods.some((pod) => (change === "replaced" ? !before.has(pod.metadata!.name!) : (pod.status?.containerStatuses?.[0]?.restartCount ?? 0) > (before.get(pod.metadata!.name!) ?? 0)));
    if (pods.length >= count && changed) {
      for (const pod of pods) seenPods.set(pod.metadata!.name!, pod.status?.containerStatuses?.[0]?.restartCount ?? 0);
      const deployment = (await admin.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace, labelSelector: operatorSelector(release) })).items[0];
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
