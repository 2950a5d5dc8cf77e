// Two operator processes share one Lease: only the leader writes, and when
// it goes away the other takes over within the lease duration.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CoordinationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { adminKubeConfig, serviceAccountKubeconfig } from "../harness/cluster.js";
import {
  createGrant,
  createNamespace,
  createOperatorRbac,
  deleteNamespace,
  eventually,
  grantSpec,
  readyCondition,
  uniqueName,
  waitForGrant,
} from "../harness/kube.js";
import { startOperator, type OperatorProcess } from "../harness/operator.js";

const LEASE = "ddcred-operator";
const LEASE_DURATION_SECONDS = 6;

let admin: KubeConfig;
let operatorNamespace: string;
let workload: string;
let kubeconfig: string;
const running: OperatorProcess[] = [];

beforeAll(async () => {
  const cluster = inject("cluster");
  admin = adminKubeConfig(cluster);
  operatorNamespace = await createNamespace(admin, { prefix: "ddcred-le" });
  workload = await createNamespace(admin, { prefix: "le", injection: true });
  const names = { WEBHOOK_CONFIGURATION_NAME: uniqueName("ddcred"), LEASE_NAME: LEASE, TLS_SECRET_NAME: "ddcred-tls" };
  await createOperatorRbac(admin, { namespace: operatorNamespace, serviceAccount: "ddcred-operator", names });
  kubeconfig = (await serviceAccountKubeconfig(cluster, operatorNamespace, "ddcred-operator")).path;
});

afterAll(async () => {
  await Promise.all(running.map((operator) => operator.stop()));
  await deleteNamespace(admin, workload);
  await deleteNamespace(admin, operatorNamespace);
});

async function launch(): Promise<OperatorProcess> {
  const operator = await startOperator({
    kubeconfig,
    namespace: operatorNamespace,
    env: {
      DDCRED_WEBHOOK_ENABLED: "false",
      DDCRED_LEASE_DURATION_SECONDS: String(LEASE_DURATION_SECONDS),
      DDCRED_RENEW_DEADLINE_SECONDS: "4",
      DDCRED_RETRY_PERIOD_SECONDS: "1",
    },
  });
  running.push(operator);
  return operator;
}

async function holder(): Promise<string | undefined> {
  const lease = await admin.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace: operatorNamespace });
  return lease.spec?.holderIdentity || undefined;
}

/** The operator's identity starts with its pod name, operator-<health port>. */
function identityOf(operator: OperatorProcess): string {
  return `operator-${new URL(operator.healthUrl).port}_`;
}

async function leaderAmong(operators: OperatorProcess[]): Promise<{ leader: OperatorProcess; follower: OperatorProcess }> {
  const identity = await eventually("a lease holder", holder);
  const leader = operators.find((o) => identity.startsWith(identityOf(o)));
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
    await eventually("the follower to hold the lease", async () => (await holder())?.startsWith(identityOf(follower)));
    await createGrant(admin, workload, "two", grantSpec({ podSelector: { matchLabels: { app: "two" } } }));
    await waitForGrant(admin, workload, "two", (g) => readyCondition(g)?.status === "True");
    expect(Date.now() - stoppedAt).toBeLessThan(LEASE_DURATION_SECONDS * 1000);
    expect(await follower.metricValue("ddcred_reconcile_total")).toBeGreaterThan(0);
  });

  it("takes over from a leader that dies without releasing the lease, once the lease expires", async () => {
    await Promise.all(running.splice(0).map((o) => o.stop()));
    const { leader, follower } = await leaderAmong([await launch(), await launch()]);
    const killedAt = Date.now();
    await leader.process.kill();
    await eventually(
      "the follower to take the expired lease",
      async () => (await holder())?.startsWith(identityOf(follower)),
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
