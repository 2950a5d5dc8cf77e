// Two operator processes share one Lease: only the leader writes, and when
// it goes away the other takes over within the lease duration.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createGrant, eventually, grantSpec, readyCondition, waitForGrant } from "../harness/kube.js";
import type { OperatorProcess } from "../harness/operator.js";
import { holds, startLeaseBed, type LeaseBed } from "./support/lease-bed.js";

const LEASE_DURATION_SECONDS = 6;

let bed: LeaseBed;
let admin: LeaseBed["admin"];
let workload: string;
let kubeconfig: string;

beforeAll(async () => {
  bed = await startLeaseBed(inject("cluster"), "le", { leaseDurationSeconds: LEASE_DURATION_SECONDS, renewDeadlineSeconds: 4, retryPeriodSeconds: 1 });
  ({ admin, workload } = bed);
  kubeconfig = await bed.kubeconfig();
});

afterAll(async () => {
  await bed?.stop();
});

const launch = () => bed.launch(kubeconfig);
const holder = () => bed.holder();

async function leaderAmong(operators: OperatorProcess[]): Promise<{ leader: OperatorProcess; follower: OperatorProcess }> {
  const identity = await eventually("a lease holder", holder);
  const leader = operators.find((o) => holds(o, identity));
  if (!leader) throw new Error(`lease held by ${identity}, not by either operator`);
  return { leader, follower: operators.find((o) => o !== leader)! };
}

describe("leader election", () => {
  it("lets only the leader write, and hands over when the leader stops", async () => {
    const { leader, follower } = await leaderAmong([await launch(), await launch()]);

    await createGrant(admin, workload, "one", grantSpec());
    await waitForGrant(admin, workload, "one", (g) => readyCondition(g)?.status === "True");
    expect(await leader.metricValue("ddcred_reconcile_total")).toBeGreaterThan(0);
    expect(await follower.metricValue("ddcred_reconcile_total")).toBe(0);

    const stoppedAt = Date.now();
    await leader.stop();
    // A clean stop releases the lease, so the follower need not wait it out.
    await eventually("the follower to hold the lease", async () => holds(follower, await holder()));
    await createGrant(admin, workload, "two", grantSpec({ podSelector: { matchLabels: { app: "two" } } }));
    await waitForGrant(admin, workload, "two", (g) => readyCondition(g)?.status === "True");
    expect(Date.now() - stoppedAt).toBeLessThan(LEASE_DURATION_SECONDS * 1000);
    expect(await follower.metricValue("ddcred_reconcile_total")).toBeGreaterThan(0);
  });

  it("takes over from a leader that dies without releasing the lease, once the lease expires", async () => {
    await bed.stopOperators();
    const { leader, follower } = await leaderAmong([await launch(), await launch()]);
    const killedAt = Date.now();
    await leader.process.kill();
    await eventually(
      "the follower to take the expired lease",
      async () => holds(follower, await holder()),
      LEASE_DURATION_SECONDS * 1000 * 3,
    );
    const takeoverMs = Date.now() - killedAt;
    // Expiry is judged on the follower's clock from the last renewal it saw,
    // then it tries again every retry period (1 s, jittered).
    expect(takeoverMs).toBeGreaterThanOrEqual((LEASE_DURATION_SECONDS - 2) * 1000);
    expect(takeoverMs).toBeLessThan((LEASE_DURATION_SECONDS + 4) * 1000);
    await createGrant(admin, workload, "three", grantSpec({ podSelector: { matchLabels: { app: "three" } } }));
    await waitForGrant(admin, workload, "three", (g) => readyCondition(g)?.status === "True");
  });
});
