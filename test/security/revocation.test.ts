// Revocation end to end: the operator process (controller and webhook, with
// the chart's RBAC) against a real API server. Pods keep the agent they were
// admitted with, so when their grant is deleted, changed to something a
// policy denies, or their namespace loses its policy, the controller counts
// them, announces each with an Event and the ddcred_revoked_pods metric, and,
// where a policy says revocation: Evict, evicts them through the Eviction
// API, which a PodDisruptionBudget can refuse. A control plane of its own:
// policies are cluster-wide and would change what other test files' operators do.
import {
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
  type KubeConfig,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createGrant,
  deleteGrant,
  eventually,
  grantSpec,
  patchGrantSpec,
  readyCondition,
  simplePod,
  waitForGrant,
} from "../harness/kube.js";
import { hasAgent, waitUntilInjecting, type WebhookOperator } from "../harness/webhook-operator.js";
import { startOperatorOnOwnCluster, type OperatorOnOwnCluster } from "../support/own-cluster.js";
import { API_GROUP, API_VERSION } from "../../src/shared/names.js";
import { POLICY_PLURAL } from "../../src/shared/policy.js";

const ML_ROLE = "arn:aws:iam::123456789012:role/ml/training";
const FINANCE_ROLE = "arn:aws:iam::123456789012:role/finance/ledger";
const POLICY_IDS = { group: API_GROUP, version: API_VERSION, plural: POLICY_PLURAL };

let own: OperatorOnOwnCluster;
let setup: WebhookOperator;
let admin: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;

beforeAll(async () => {
  own = await startOperatorOnOwnCluster("revoke");
  ({ setup } = own);
  admin = setup.admin;
  core = admin.makeApiClient(CoreV1Api);
  custom = admin.makeApiClient(CustomObjectsApi);
});

afterAll(async () => {
  await own?.stop();
});

async function createPolicy(name: string, team: string, extra: Record<string, unknown> = {}): Promise<void> {
  await custom.createClusterCustomObject({
    ...POLICY_IDS,
    body: {
      apiVersion: `${API_GROUP}/${API_VERSION}`,
      kind: "DatadogCredentialPolicy",
      metadata: { name },
      spec: { namespaceSelector: { matchLabels: { team } }, allowedRoleArns: ["arn:aws:iam::123456789012:role/ml/*"], ...extra },
    },
  });
}

async function deletePolicy(name: string): Promise<void> {
  await custom.deleteClusterCustomObject({ ...POLICY_IDS, name });
}

/** A namespace labelled for `team`, a grant for `app` in it, and a pod the webhook injected from it, marked Running. */
async function injectedWorkload(team: string, app: string, podNames: string[]): Promise<{ namespace: string; pods: V1Pod[] }> {
  const namespace = await setup.namespace({ labels: { team } });
  await createGrant(admin, namespace, app, grantSpec({ podSelector: { matchLabels: { app } }, aws: { roleArn: ML_ROLE, exposeToWorkload: false } }));
  await waitForGrant(admin, namespace, app, (g) => readyCondition(g)?.status === "True");
  await waitUntilInjecting(admin, namespace, simplePod("probe", { app }));
  const pods: V1Pod[] = [];
  for (const name of podNames) {
    const pod = await core.createNamespacedPod({ namespace, body: simplePod(name, { app }) });
    expect(hasAgent(pod)).toBe(true);
    // As a kubelet would report it: the Eviction API lets Pending pods go whatever their budget says.
    await core.patchNamespacedPodStatus(
      { name, namespace, body: { status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    pods.push(pod);
  }
  return { namespace, pods };
}

async function podEvents(namespace: string, pod: string, reason: string) {
  return (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${pod},reason=${reason}` })).items;
}

async function podExists(namespace: string, name: string): Promise<boolean> {
  const pods = await core.listNamespacedPod({ namespace, fieldSelector: `metadata.name=${name}` });
  return pods.items.length > 0;
}

describe("revocation", () => {
  it("reports the pods of a deleted grant with an Event and the metric, and leaves them running under Report", async () => {
    const { namespace } = await injectedWorkload("none", "gone", ["gone-0"]);
    await deleteGrant(admin, namespace, "gone");
    await eventually("the revoked pod to be counted", async () =>
      (await setup.operator().metricValue("ddcred_revoked_pods", { grant_namespace: namespace, grant: "gone", reason: "GrantDeleted" })) === 1,
    );
    const [event] = await eventually("a CredentialsRevoked Event on the pod", async () => {
      const events = await podEvents(namespace, "gone-0", "CredentialsRevoked");
      return events.length > 0 ? events : undefined;
    });
    expect(event?.type).toBe("Warning");
    expect(event?.message).toMatch(/runs a credential agent for grant gone, which no longer exists; .*restart or delete it/);
    expect(await podExists(namespace, "gone-0")).toBe(true);
  });

  it("counts in the grant's status the pods whose grant changed to something a policy denies", async () => {
    await createPolicy("ml-teams", "ml");
    try {
      const { namespace } = await injectedWorkload("ml", "train", ["train-0", "train-1"]);
      await patchGrantSpec(admin, namespace, "train", { aws: { roleArn: FINANCE_ROLE, exposeToWorkload: false } });
      const grant = await waitForGrant(admin, namespace, "train", (g) => g.status?.revokedPods === 2);
      expect(readyCondition(grant)).toMatchObject({ status: "False", reason: "PolicyDenied" });
      expect(readyCondition(grant)?.message).toMatch(/2 running pod\(s\) still have its agent/);
      await eventually("the metric to say so", async () =>
        (await setup.operator().metricValue("ddcred_revoked_pods", { grant_namespace: namespace, grant: "train", reason: "PolicyDenied" })) === 2,
      );
      expect(await podEvents(namespace, "train-1", "CredentialsRevoked")).not.toEqual([]);
    } finally {
      await deletePolicy("ml-teams");
    }
  });

  it("counts the pods of a namespace that lost its policy while another policy remains", async () => {
    await createPolicy("ml-a", "ml-a");
    await createPolicy("ml-b", "ml-b");
    try {
      const { namespace } = await injectedWorkload("ml-a", "serve", ["serve-0"]);
      await deletePolicy("ml-a");
      const grant = await waitForGrant(admin, namespace, "serve", (g) => g.status?.revokedPods === 1);
      expect(readyCondition(grant)?.message).toMatch(/no DatadogCredentialPolicy covers namespace/);
    } finally {
      await deletePolicy("ml-a").catch(() => undefined);
      await deletePolicy("ml-b");
    }
  });

  it("evicts revoked pods where the policy says Evict, but not one a PodDisruptionBudget protects until the budget allows it", async () => {
    await createPolicy("ml-evict", "ml-evict", { revocation: "Evict" });
    try {
      const { namespace } = await injectedWorkload("ml-evict", "batch", ["free-0", "guarded-0"]);
      await core.patchNamespacedPod(
        { name: "guarded-0", namespace, body: { metadata: { labels: { guarded: "yes" } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      const policy = admin.makeApiClient(PolicyV1Api);
      const pdb = await policy.createNamespacedPodDisruptionBudget({
        namespace,
        body: { metadata: { name: "guarded" }, spec: { minAvailable: 1, selector: { matchLabels: { guarded: "yes" } } } },
      });
      // What the disruption controller would write: the budget allows no disruption now.
      await policy.patchNamespacedPodDisruptionBudgetStatus(
        {
          name: "guarded",
          namespace,
          body: { status: { observedGeneration: pdb.metadata?.generation, disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 } },
        },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );

      await deleteGrant(admin, namespace, "batch");
      await eventually("the unprotected pod to be evicted", async () => !(await podExists(namespace, "free-0")));
      await eventually("the eviction of the protected pod to be refused", async () => (await podEvents(namespace, "guarded-0", "EvictionBlocked")).length > 0);
      expect(await podExists(namespace, "guarded-0")).toBe(true);
      expect(await setup.operator().metricValue("ddcred_revocation_evictions_total", { result: "blocked" })).toBeGreaterThan(0);
      const [revoked] = await podEvents(namespace, "guarded-0", "CredentialsRevoked");
      expect(revoked?.message).toMatch(/evicting it/);

      await policy.deleteNamespacedPodDisruptionBudget({ name: "guarded", namespace });
      await eventually("the protected pod to be evicted once its budget is gone", async () => !(await podExists(namespace, "guarded-0")), 60_000);
      await eventually("the metric to drop to zero", async () =>
        (await setup.operator().metricValue("ddcred_revoked_pods", { grant_namespace: namespace })) === 0,
      );
    } finally {
      await deletePolicy("ml-evict");
    }
  });

  it("lets the operator evict pods but never delete or change them", async () => {
    const authorization = admin.makeApiClient(AuthorizationV1Api);
    const user = `system:serviceaccount:${setup.operatorNamespace}:ddcred-operator`;
    const can = async (verb: string, subresource?: string) =>
      (
        await authorization.createSubjectAccessReview({
          body: { spec: { user, groups: ["system:serviceaccounts"], resourceAttributes: { verb, resource: "pods", namespace: "any", ...(subresource ? { subresource } : {}) } } },
        })
      ).status?.allowed ?? false;
    expect(await can("create", "eviction")).toBe(true);
    expect(await can("delete")).toBe(false);
    expect(await can("deletecollection")).toBe(false);
    expect(await can("patch")).toBe(false);
    expect(await can("update")).toBe(false);
    expect(await can("create")).toBe(false);
  });
});
