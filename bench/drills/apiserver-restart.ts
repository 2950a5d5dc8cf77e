// Drill 2: the API server restarts (SIGTERM, down a few seconds, back) while
// the operator is reconciling hundreds of grants from a cold start, some of
// them at a new generation. Every grant must end with the exact status its
// pods call for; measures how long after the restart that took.
import { setTimeout as sleep } from "node:timers/promises";
import { startDrillControlPlane } from "./control-plane.js";
import { createGrantFleet, hasMissedPod, watchConvergence, type ExpectedStatus, type GrantRef } from "./grant-fleet.js";
import { countLogLines, logSoFar, logTimeOf, logTimes, ratePerSecond } from "./operator-log.js";
import { seconds, type DrillReport } from "./report.js";

const GRANTS = 300;
const BUMPED = 50;
const RESTART_WHEN_CONVERGED = 30;
const DOWN_MS = 3_000;

export async function apiServerRestart(): Promise<DrillReport> {
  const plane = await startDrillControlPlane();
  try {
    const fleet = await createGrantFleet(plane.admin, GRANTS);
    const bumped = new Set(fleet.grants.filter((ref) => ref.index % (GRANTS / BUMPED) === 1));
    await fleet.bumpGeneration([...bumped]);
    const expected = (ref: GrantRef): ExpectedStatus => ({
      ready: "True",
      reason: "Valid",
      // A bumped grant gives another agent (a longer session): its pod is stale, not injected from it as it is.
      injectedPods: bumped.has(ref) ? 0 : 1,
      stalePods: bumped.has(ref) ? 1 : 0,
      missedPods: hasMissedPod(ref) ? 1 : 0,
    });

    const started = performance.now();
    // The chart's leader-election timings.
    const replica = await plane.startReplica({}, { waitReady: false });
    const watch = watchConvergence(fleet, expected, { intervalMs: 500 });
    // The operator's own log says when it is under way, without loading the API server.
    while (countLogLines(logSoFar(replica.operator.process), "status updated") < RESTART_WHEN_CONVERGED) {
      if (performance.now() - started > 60_000) throw new Error("the operator did not start reconciling within 60 s");
      await sleep(10);
    }
    const stopAt = performance.now();
    const writtenAtStop = countLogLines(logSoFar(replica.operator.process), "status updated");
    await plane.cluster.stopApiServer();
    const downAt = performance.now();
    await sleep(DOWN_MS);
    const startAt = performance.now();
    await plane.cluster.startApiServer();
    const upAt = performance.now();
    const doneAt = await watch.done.catch(() => Number.NaN);
    watch.stop();

    // Operator log times are wall-clock; the drill's marks are performance.now().
    const wallClock = (at: number) => Date.now() - (performance.now() - at);
    const firstFailed = watch.samples.find((sample) => sample.at >= stopAt && sample.converged === undefined);
    const backAnswering = firstFailed && watch.samples.find((sample) => sample.at > firstFailed.at && sample.converged !== undefined);
    const final = await fleet.converged(expected);
    const alive = replica.operator.process.running();
    const reconcileErrors = alive ? await replica.operator.metricValue("ddcred_reconcile_total", { result: "error" }) : Number.NaN;
    const reconciles = alive ? await replica.operator.metricValue("ddcred_reconcile_total") : Number.NaN;
    const log = replica.operator.process.log();
    const steppedDown = countLogLines(log, "could not renew the lease in time; stepping down");
    const leaderAgain = logTimeOf(log, "became leader", wallClock(startAt));
    const writes = logTimes(log, "status updated");
    const writtenBeforeOutage = writes.filter((at) => at < wallClock(firstFailed?.at ?? downAt)).length;
    const writeRateBefore = ratePerSecond(writes.filter((at) => at <= wallClock(stopAt)));
    const writeRateAfter = ratePerSecond(writes.filter((at) => at >= wallClock(startAt)));

    return {
      drill: "apiserver-restart",
      saw: `operator ${alive ? "kept running" : "DIED"}; status writes paused while the API was away, ${reconcileErrors} failed reconciles retried`,
      lost: `${GRANTS - final.total} grants missing; ${final.wrong.length} with a wrong status at the end`,
      recovered: Number.isFinite(doneAt)
        ? `all ${GRANTS} converged ${seconds(doneAt - startAt)} after kube-apiserver restarted (${seconds(doneAt - upAt)} after its /readyz)`
        : "NEVER converged",
      figures: [
        ["grants", `${GRANTS} in ${GRANTS / 20} namespaces, ${BUMPED} at generation 2 (stale pod), ${GRANTS / 10} with a missed pod`],
        ["operator start to its first status write", seconds((writes[0] ?? Number.NaN) - wallClock(started))],
        ["restart", `SIGTERM once ${writtenAtStop} statuses were written; kube-apiserver exited ${seconds(downAt - stopAt)} later (the harness SIGKILLs after 10 s), stayed down ${seconds(startAt - downAt)}, /readyz ${seconds(upAt - startAt)} after its start`],
        ["API unanswered (the drill's list calls)", firstFailed && backAnswering ? seconds(backAnswering.at - firstFailed.at) : "-"],
        ["statuses written before the API stopped answering", `${writtenBeforeOutage}/${GRANTS}`],
        ["lost leadership (renew deadline 10 s)", steppedDown > 0 ? `yes, stepped down ${steppedDown}x; leader again ${seconds(leaderAgain - wallClock(startAt))} after kube-apiserver restarted` : "no"],
        ["all converged after the restart", `${seconds(doneAt - startAt)} (${seconds(doneAt - upAt)} after /readyz)`],
        ["status writes/s before / after the restart", `${writeRateBefore.toFixed(0)} / ${writeRateAfter.toFixed(0)} (${(writeRateAfter / writeRateBefore).toFixed(2)}x)`],
        ["reconciles / failed and retried", `${reconciles} / ${reconcileErrors} (per-key exponential backoff from 100 ms)`],
        ["final: converged / listed", `${final.converged}/${final.total} (observedGeneration, Ready, injected/stale/missed as expected)`],
      ],
    };
  } finally {
    await plane.stop();
  }
}

