// Drill 1: one of two webhook replicas goes away during a burst of pod
// creations. Graceful: SIGTERM, as a rolling update or a node drain sends it,
// with the shutdown delay the chart sets. Hard: SIGKILL, as an OOM kill or a
// node loss. Measures failed creations, what a ReplicaSet-style retry makes
// of them, and whether every created pod was injected.
import { CoreV1Api } from "@kubernetes/client-node";
import { startDrillControlPlane, type DrillControlPlane } from "./control-plane.js";
import { failureKind, podBurst, podClient, retryLikeReplicaSet, type PodClient } from "./pod-burst.js";
import { seconds, tally, type DrillReport } from "./report.js";
import { drillPod, startWebhookFleet, type WebhookFleet } from "./webhook-fleet.js";

const PODS = 500;
const CONCURRENCY = 10;
/** Paced so the burst outlasts the shutdown delay and the drain after it. */
const RATE_PER_SECOND = 30;
const FAULT_AT_POD = 100;
const SHUTDOWN_DELAY_SECONDS = 5; // the chart's default

export type ReplicaLoss = "graceful" | "hard";

export async function webhookReplicaLoss(loss: ReplicaLoss): Promise<DrillReport> {
  const plane = await startDrillControlPlane();
  try {
    const fleet = await startWebhookFleet(plane, {
      replicas: 2,
      env: { DDCRED_SHUTDOWN_DELAY_SECONDS: String(SHUTDOWN_DELAY_SECONDS) },
    });
    const client = podClient(plane.cluster, CONCURRENCY);
    try {
      return await burstWithLoss(plane, fleet, client, loss);
    } finally {
      client.close();
      await fleet.stop();
    }
  } finally {
    await plane.stop();
  }
}

async function burstWithLoss(
  plane: DrillControlPlane,
  fleet: WebhookFleet,
  client: PodClient,
  loss: ReplicaLoss,
): Promise<DrillReport> {
  const { workload, balancer } = fleet;
  // Warm keep-alive connections from the API server to both replicas, as in a running cluster.
  await podBurst(client, { namespace: workload, count: 40, concurrency: CONCURRENCY, podFor: drillPod("warm") });
  const victim = fleet.replicas[0]!;
  const survivor = fleet.replicas[1]!;
  const connectionsBefore = balancer.stats().connections;

  let faultAt = Number.NaN;
  let victimExited: Promise<number> | undefined;
  const podFor = drillPod(`burst-${loss}`);
  const burstStart = performance.now();
  const creations = await podBurst(client, {
    namespace: workload,
    count: PODS,
    concurrency: CONCURRENCY,
    ratePerSecond: RATE_PER_SECOND,
    podFor,
    onSettled: (_creation, settled) => {
      if (settled !== FAULT_AT_POD) return;
      faultAt = performance.now();
      const gone = loss === "graceful" ? victim.operator.process.stop(30_000) : victim.operator.process.kill();
      victimExited = gone.then(() => performance.now());
    },
  });
  const burstEnd = performance.now();
  const exitedAt = victimExited ? await victimExited : Number.NaN;

  const failed = creations.filter((c) => c.status >= 300 || c.status === 0);
  const retries = await retryLikeReplicaSet(client, workload, failed, podFor);
  const retried = retries.filter((r) => r.created);

  // Capacity back: a replacement replica (the ReplicaSet's new pod) until the balancer routes to it.
  const replacementStart = performance.now();
  await fleet.addReplica();
  const replacementMs = performance.now() - replacementStart;

  const pods = await plane.admin
    .makeApiClient(CoreV1Api)
    .listNamespacedPod({ namespace: workload, labelSelector: `burst=burst-${loss}` })
    .then((list) => list.items);
  const injectedPods = pods.filter((pod) => (pod.spec?.initContainers ?? []).some((c) => c.name === "ddcred-agent")).length;
  const succeeded = creations.length - failed.length + retried.length;

  const since = (at: number) => at - faultAt;
  const victimNotReady = balancer.readinessChanges().find((change) => change.backend === victim.name && !change.ready && change.at >= faultAt);
  const failureTimes = failed.map((c) => since(c.endedAt));
  const connectionsAfter = balancer.stats().connections;
  const newConnections = (name: string) => (connectionsAfter[name] ?? 0) - (connectionsBefore[name] ?? 0);
  const codes = tally(creations.map((c) => String(c.status)));

  const lostPods = PODS - succeeded;
  const uninjected = pods.length - injectedPods;
  return {
    drill: `webhook-replica-${loss}`,
    saw:
      failed.length === 0
        ? `0 of ${PODS} creations failed`
        : `${failed.length} of ${PODS} creations failed (${tally(failed.map(failureKind), 2)}); ${retried.length} of them succeeded on a ReplicaSet-style retry`,
    lost: `${lostPods} pods never created; ${uninjected} created without the agent`,
    recovered:
      failed.length === 0
        ? `nothing to recover; replacement replica serving in ${seconds(replacementMs)}`
        : `failures ${seconds(Math.min(...failureTimes))}..${seconds(Math.max(...failureTimes))} after the ${loss === "graceful" ? "SIGTERM" : "SIGKILL"}`,
    figures: [
      ["fault", `${loss === "graceful" ? `SIGTERM, shutdown delay ${SHUTDOWN_DELAY_SECONDS} s` : "SIGKILL"} to ${victim.name} after pod ${FAULT_AT_POD}`],
      ["burst", `${PODS} creations, ${CONCURRENCY} in flight, paced at ${RATE_PER_SECOND}/s; took ${seconds(burstEnd - burstStart)}`],
      ["HTTP codes", codes],
      ["failed creations", failed.length === 0 ? "0" : `${failed.length}: ${tally(failed.map(failureKind))}`],
      ["failure times after the fault", failureTimes.length === 0 ? "-" : failureTimes.map((t) => seconds(t)).join(", ").slice(0, 200)],
      ["ReplicaSet-style retry", failed.length === 0 ? "not needed" : `${retried.length}/${failed.length} created, retries per pod ${tally(retried.map((r) => String(r.retries)))}`],
      ["pods created / injected", `${pods.length} / ${injectedPods} (expected ${PODS})`],
      ["balancer saw victim not ready", victimNotReady ? `${seconds(since(victimNotReady.at))} after the fault` : "never"],
      ["victim process exited", `${seconds(since(exitedAt))} after the fault`],
      ["new connections during the burst", `${victim.name} ${newConnections(victim.name)}, ${survivor.name} ${newConnections(survivor.name)}; reset: no ready backend ${balancer.stats().noReadyBackend}, refused ${balancer.stats().backendRefused}`],
      ["replacement replica to serving", seconds(replacementMs)],
    ],
    notes: [
      "the API server reaches the replicas through a TCP balancer emulating the Service (bench/drills/endpoint-balancer.ts): new connections go to replicas whose /readyz passes, polled every 150 ms; open connections stay where they are",
    ],
  };
}
