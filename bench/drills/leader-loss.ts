// Drill 6: the leader dies (SIGKILL: no lease release) while hundreds of
// grants wait for a new status. Two replicas with the chart's lease timings
// (15 s lease, 10 s renew deadline, 2 s retry); the work is made by a cluster
// policy that denies every grant, which the leader must write into all 300
// statuses (and announce with an Event each). Measures the takeover and the
// convergence after it, and what the dead leader took with it.
import { setTimeout as sleep } from "node:timers/promises";
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { API_GROUP, API_VERSION } from "../../src/shared/names.js";
import { POLICY_PLURAL } from "../../src/shared/policy.js";
import { TEST_ORG_UUID } from "../../test/harness/kube.js";
import { LEASE, startDrillControlPlane, type Replica } from "./control-plane.js";
import { createGrantFleet, hasMissedPod, watchConvergence, type ExpectedStatus, type GrantRef } from "./grant-fleet.js";
import { countLogLines } from "./operator-log.js";
import { seconds, type DrillReport } from "./report.js";

const GRANTS = 300;
const KILL_WHEN_CONVERGED = 20;
const LEASE_DURATION_SECONDS = 15; // the chart's default

export async function leaderLoss(): Promise<DrillReport> {
  const plane = await startDrillControlPlane();
  try {
    const fleet = await createGrantFleet(plane.admin, GRANTS);
    // A denied grant's injected pod still runs its agent: the status counts it as revoked, not injected.
    const status = (ready: "True" | "False", reason: string) => (ref: GrantRef): ExpectedStatus => ({
      ready,
      reason,
      injectedPods: ready === "True" ? 1 : 0,
      revokedPods: ready === "True" ? 0 : 1,
      stalePods: 0,
      missedPods: hasMissedPod(ref) ? 1 : 0,
    });
    const first = await plane.startReplica({});
    const valid = watchConvergence(fleet, status("True", "Valid"), { intervalMs: 250, timeoutMs: 120_000 });
    await valid.done;
    const second = await plane.startReplica({});
    const leases = plane.admin.makeApiClient(CoordinationV1Api);
    const holder = async () =>
      (await leases.readNamespacedLease({ name: LEASE, namespace: plane.operatorNamespace })).spec?.holderIdentity ?? "";
    const identityOf = (replica: Replica) => `operator-${new URL(replica.operator.healthUrl).port}_`;
    const leaderIdentity = await holder();
    const [leader, follower] = leaderIdentity.startsWith(identityOf(first)) ? [first, second] : [second, first];

    // Every grant now needs a new status: a policy that allows no role they use.
    const denied = status("False", "PolicyDenied");
    const writtenBefore = countLogLines(leader.operator.process.log(), "status updated");
    const written = () => countLogLines(leader.operator.process.log(), "status updated") - writtenBefore;
    const policyAt = performance.now();
    await plane.admin.makeApiClient(CustomObjectsApi).createClusterCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      plural: POLICY_PLURAL,
      body: {
        apiVersion: `${API_GROUP}/${API_VERSION}`,
        kind: "DatadogCredentialPolicy",
        metadata: { name: "only-the-platform-role" },
        spec: { namespaceSelector: {}, allowedRoleArns: ["arn:aws:iam::123456789012:role/platform/*"], allowedOrgUuids: [TEST_ORG_UUID] },
      },
    });
    // The leader's own log says when it is under way, without loading the API server.
    while (written() < KILL_WHEN_CONVERGED) {
      if (performance.now() - policyAt > 60_000) throw new Error("the leader did not start writing statuses within 60 s");
      await sleep(5);
    }
    const killAt = performance.now();
    const writtenAtKill = written();
    await leader.operator.process.kill();
    const afterKillAt = performance.now();
    const writtenByLeader = written();
    const watch = watchConvergence(fleet, denied, { intervalMs: 500, timeoutMs: 120_000 });
    const convergedJustAfterKill = (await fleet.converged(denied)).converged;

    let takeoverAt = Number.NaN;
    while (performance.now() - killAt < 3 * LEASE_DURATION_SECONDS * 1000) {
      if ((await holder()).startsWith(identityOf(follower))) {
        takeoverAt = performance.now();
        break;
      }
      await sleep(100);
    }
    const doneAt = await watch.done.catch(() => Number.NaN);
    watch.stop();

    const final = await fleet.converged(denied);
    // Events are sent in the background after each status write: wait until their number settles.
    const core = plane.admin.makeApiClient(CoreV1Api);
    const announcedGrants = async () =>
      new Set(
        (await core.listEventForAllNamespaces({ fieldSelector: "reason=PolicyDenied" })).items.map(
          (event) => `${event.involvedObject.namespace}/${event.involvedObject.name}`,
        ),
      );
    let announced = await announcedGrants();
    for (let unchanged = 0, waited = 0; unchanged < 3 && waited < 30; waited += 1) {
      await sleep(1_000);
      const now = await announcedGrants();
      unchanged = now.size === announced.size ? unchanged + 1 : 0;
      announced = now;
    }
    const withoutEvent = fleet.grants.filter((ref) => !announced.has(`${ref.namespace}/${ref.name}`)).length;
    const followerReconciles = await follower.operator.metricValue("ddcred_reconcile_total");
    const followerErrors = await follower.operator.metricValue("ddcred_reconcile_total", { result: "error" });
    const pendingAtKill = GRANTS - convergedJustAfterKill;

    return {
      drill: "leader-loss",
      saw: `status updates paused ${seconds(takeoverAt - killAt)} (lease expiry); no error surfaced`,
      lost: `${GRANTS - final.converged} grants with a wrong status${final.wrong[0] ? ` (first: ${JSON.stringify(final.wrong[0].status).slice(0, 300)})` : ""}; ${withoutEvent} of ${GRANTS} grants never got their PolicyDenied Event`,
      recovered: `new leader ${seconds(takeoverAt - killAt)} after the kill; all ${GRANTS} converged ${seconds(doneAt - killAt)} after it`,
      figures: [
        ["replicas", `2, lease ${LEASE_DURATION_SECONDS} s / renew deadline 10 s / retry 2 s (chart defaults); webhook off`],
        ["work", `a DatadogCredentialPolicy denying all ${GRANTS} grants: each needs a status write and a Warning Event`],
        ["kill", `SIGKILL to the leader when it had written ${writtenAtKill} statuses (${writtenByLeader} by its death; ${convergedJustAfterKill} stored just after: ${pendingAtKill} pending)`],
        ["follower holds the lease", `${seconds(takeoverAt - killAt)} after the kill (lease duration ${LEASE_DURATION_SECONDS} s)`],
        ["all grants converged", `${seconds(doneAt - killAt)} after the kill, ${seconds(doneAt - takeoverAt)} after the takeover`],
        ["final: converged / listed", `${final.converged}/${final.total} (Ready=False PolicyDenied, observedGeneration, counts as expected)`],
        ["grants with a PolicyDenied Event (settled)", `${GRANTS - withoutEvent}/${GRANTS}`],
        ["new leader's reconciles / errors", `${followerReconciles} / ${followerErrors}`],
        ["write rate: dead leader / new leader", `${rate(writtenAtKill, killAt - policyAt)} / ${rate(pendingAtKill, doneAt - takeoverAt)} statuses/s (the new leader also re-reads and re-checks the ${GRANTS - pendingAtKill} done)`],
        ["kill took", seconds(afterKillAt - killAt)],
      ],
      notes: [
        "a transition's Events are sent before its status is written, so the new leader announces whatever the dead one had not finished",
      ],
    };
  } finally {
    await plane.stop();
  }
}

function rate(count: number, ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? (count / (ms / 1000)).toFixed(0) : "-";
}
