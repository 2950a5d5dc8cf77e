// A leader whose connection to the API server goes silent mid-request (a
// half-open connection: nothing fails, everything hangs) must stop acting as
// leader within its renew deadline, on a timer, and cancel the status writes
// it has in flight, before the other replica can see the lease as expired
// and take over. The leader reaches the API server through a proxy that
// stalls; the follower connects directly.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { KubeConfig } from "@kubernetes/client-node";
import { createGrant, eventually, getGrant, grantSpec, patchGrantSpec, readyCondition, waitForGrant } from "../harness/kube.js";
import type { OperatorProcess } from "../harness/operator.js";
import { startStallingProxy, type StallingProxy } from "../harness/stalling-proxy.js";
import { holds, startLeaseBed, type LeaseBed } from "./support/lease-bed.js";

const LEASE_DURATION_MS = 6_000;
const RENEW_DEADLINE_MS = 3_000;
const RETRY_PERIOD_MS = 1_000;
const GRANTS = 30;

let bed: LeaseBed;
let admin: KubeConfig;
let workload: string;
let direct: string;
let proxied: string;
let proxy: StallingProxy;

beforeAll(async () => {
  const cluster = inject("cluster");
  bed = await startLeaseBed(cluster, "stall", {
    leaseDurationSeconds: LEASE_DURATION_MS / 1000,
    renewDeadlineSeconds: RENEW_DEADLINE_MS / 1000,
    retryPeriodSeconds: RETRY_PERIOD_MS / 1000,
  });
  ({ admin, workload } = bed);
  proxy = await startStallingProxy(cluster.server);
  direct = await bed.kubeconfig();
  proxied = await bed.kubeconfig(proxy.url);
});

afterAll(async () => {
  await bed?.stopOperators();
  await proxy?.stop();
  await bed?.stop();
});

const launch = (kubeconfig: string) => bed.launch(kubeconfig);
const holder = () => bed.holder();

interface LogLine {
  /** Epoch ms (the operator logs ISO times). */
  readonly time: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

function logLines(operator: OperatorProcess): LogLine[] {
  return operator.process
    .log()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      return { ...parsed, time: Date.parse(String(parsed.time)), msg: String(parsed.msg) };
    });
}

function firstTime(lines: LogLine[], msg: string): number {
  const line = lines.find((l) => l.msg === msg);
  if (!line) throw new Error(`no log line "${msg}"`);
  return line.time;
}

const grantNames = Array.from({ length: GRANTS }, (_, i) => `g${i}`);

describe("leader election when the leader's connection stalls", () => {
  it("steps down within the renew deadline, and two replicas never write status at the same time", async () => {
    const leader = await launch(proxied);
    await eventually("the proxied operator to lead", async () => holds(leader, await holder()));
    const follower = await launch(direct);

    await Promise.all(grantNames.map((name) => createGrant(admin, workload, name, grantSpec({ podSelector: { matchLabels: { app: name } } }))));
    await Promise.all(grantNames.map((name) => waitForGrant(admin, workload, name, (g) => readyCondition(g)?.status === "True")));

    // New generations to report, and the connection cut while the leader is at it.
    const patched = grantNames.map((name) => patchGrantSpec(admin, workload, name, { aws: { roleArn: `arn:aws:iam::123456789012:role/${name}` } }));
    proxy.stallAtNextRequest();
    await Promise.all(patched);
    const stalledAt = await eventually("the leader's connection to stall", async () => proxy.stalledAt());

    await eventually("the follower to take the lease", async () => holds(follower, await holder()), LEASE_DURATION_MS * 4);
    for (const name of grantNames) {
      const { metadata } = await getGrant(admin, workload, name);
      await waitForGrant(admin, workload, name, (g) => g.status?.observedGeneration === metadata.generation);
    }

    const old = logLines(leader);
    const steppedDownAt = firstTime(old, "could not renew the lease in time; stepping down");
    const lastRenewal = old.filter((l) => l.msg === "renewed the lease" && Number(l.renewStartedAt) <= stalledAt).at(-1);
    // The term ends on a timer, renewDeadline after the start of the last renewal before the
    // stall, while the call in flight still hangs; the timer may run late on a loaded machine,
    // but not by the margin a lease duration leaves before anyone else may take over.
    expect(lastRenewal?.termEndsAt).toBeLessThanOrEqual(stalledAt + RENEW_DEADLINE_MS);
    expect(steppedDownAt).toBeLessThan(Number(lastRenewal?.renewStartedAt) + LEASE_DURATION_MS);

    const successor = logLines(follower);
    const tookOverAt = firstTime(successor, "became leader");
    const oldWrites = old.filter((l) => l.msg === "status updated").map((l) => l.time);
    const newWrites = successor.filter((l) => l.msg === "status updated").map((l) => l.time);
    // (Operators of other test files share the API server and may have written some of these statuses first.)
    expect(await follower.metricValue("ddcred_reconcile_total")).toBeGreaterThan(0);
    // Every write of the old leader finished before its term ended; the successor's began after.
    expect(Math.max(...oldWrites)).toBeLessThanOrEqual(steppedDownAt);
    expect(steppedDownAt).toBeLessThan(tookOverAt);
    for (const at of newWrites) expect(at).toBeGreaterThanOrEqual(tookOverAt);

    // Once its connection heals, the old leader sees the lease held and stays a follower.
    proxy.heal();
    await eventually("the old leader to read the lease again", async () =>
      logLines(leader).some((l) => l.msg === "lease held by another replica" && l.time > steppedDownAt),
    );
    const updated = await patchGrantSpec(admin, workload, "g0", { aws: { roleArn: "arn:aws:iam::123456789012:role/after-heal" } });
    await waitForGrant(admin, workload, "g0", (g) => g.status?.observedGeneration === updated.metadata.generation);
    expect(logLines(leader).filter((l) => l.msg === "status updated" && l.time > steppedDownAt)).toEqual([]);
    expect(holds(follower, await holder())).toBe(true);
  });
});
