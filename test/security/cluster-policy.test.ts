// Cluster policy end to end: the operator process (controller and webhook)
// against a real API server. A grant no DatadogCredentialPolicy allows is
// Ready=False with a reason and message naming each objection, gets an
// Event, and its pods are never injected; a policy that allows it lets new
// pods be injected; with the chart's policy.require=true and no policy at
// all, nothing is injected. A control plane of its own: policies are
// cluster-wide and would change what other test files' operators do.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrant, createPod, eventually, grantSpec, readyCondition, simplePod, waitForGrant, TEST_ORG_UUID } from "../harness/kube.js";
import { findObject, helmTemplate } from "../chart/helm.js";
import { operatorContainerEnv } from "../chart/operator-env.js";
import { API_GROUP, API_VERSION } from "../../src/shared/names.js";
import { POLICY_PLURAL } from "../../src/shared/policy.js";
import type { GrantSpec } from "../../src/shared/grant.js";
import { hasAgent, waitUntilInjecting, type WebhookOperator } from "../harness/webhook-operator.js";
import { startOperatorOnOwnCluster, type OperatorOnOwnCluster } from "../support/own-cluster.js";

const ALLOWED_ROLE = "arn:aws:iam::123456789012:role/ml/training";
const OTHER_ROLE = "arn:aws:iam::123456789012:role/finance/ledger";
const OTHER_ORG = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

let own: OperatorOnOwnCluster;
let setup: WebhookOperator;
let admin: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;

const POLICY_IDS = { group: API_GROUP, version: API_VERSION, plural: POLICY_PLURAL };

async function createPolicy(name: string, spec: Record<string, unknown>): Promise<void> {
  await custom.createClusterCustomObject({ ...POLICY_IDS, body: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: "DatadogCredentialPolicy", metadata: { name }, spec } });
}

async function deleteAllPolicies(): Promise<void> {
  await custom.deleteCollectionClusterCustomObject(POLICY_IDS);
}

function grantFor(app: string, overrides: Partial<GrantSpec> = {}): GrantSpec {
  return grantSpec({ podSelector: { matchLabels: { app } }, aws: { roleArn: ALLOWED_ROLE, exposeToWorkload: false }, ...overrides });
}

function appPod(name: string, app: string): V1Pod {
  return simplePod(name, { app });
}

async function warningEvents(namespace: string, grant: string) {
  return (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${grant}` })).items.filter((e) => e.type === "Warning");
}

beforeAll(async () => {
  own = await startOperatorOnOwnCluster();
  ({ setup } = own);
  admin = setup.admin;
  core = admin.makeApiClient(CoreV1Api);
  custom = admin.makeApiClient(CustomObjectsApi);
});

afterAll(async () => {
  await own?.stop();
});

describe("a DatadogCredentialPolicy", () => {
  let ml: string;
  const outside: GrantSpec = grantSpec({
    podSelector: { matchLabels: { app: "outside" } },
    aws: { roleArn: OTHER_ROLE },
    datadog: { orgUuid: OTHER_ORG, site: "datadoghq.eu" },
  });

  beforeAll(async () => {
    ml = await setup.namespace({ labels: { team: "ml" } });
    await createPolicy("ml-teams", {
      namespaceSelector: { matchLabels: { team: "ml" } },
      allowedRoleArns: ["arn:aws:iam::123456789012:role/ml/*"],
      allowedOrgUuids: [TEST_ORG_UUID],
      allowedSites: ["datadoghq.com"],
      allowExposeToWorkload: false,
    });
    await createGrant(admin, ml, "outside", outside);
    await createGrant(admin, ml, "inside", grantFor("inside"));
    // The webhook holds the policy and both grants once it injects from the later one.
    await waitUntilInjecting(admin, ml, appPod("probe", "inside"));
  });

  it("makes a grant it does not allow Ready=False, naming the role, org, site and AWS exposure it objects to", async () => {
    const grant = await waitForGrant(admin, ml, "outside", (g) => readyCondition(g)?.reason === "PolicyDenied");
    const ready = readyCondition(grant)!;
    expect(ready.status).toBe("False");
    expect(ready.message).toContain(`policy ml-teams: role ${OTHER_ROLE} is not among arn:aws:iam::123456789012:role/ml/*`);
    expect(ready.message).toContain(`org ${OTHER_ORG} is not among ${TEST_ORG_UUID}`);
    expect(ready.message).toContain("site datadoghq.eu is not among datadoghq.com");
    expect(ready.message).toContain("AWS credentials may not be exposed to the workload");
    const allowed = await waitForGrant(admin, ml, "inside", (g) => readyCondition(g)?.status === "True");
    expect(readyCondition(allowed)?.reason).toBe("Valid");
  });

  it("records a Warning Event on the denied grant with the same reason", async () => {
    const events = await eventually("a PolicyDenied Event", async () => {
      const found = (await warningEvents(ml, "outside")).filter((e) => e.reason === "PolicyDenied");
      return found.length > 0 ? found : undefined;
    });
    expect(events[0]?.message).toContain(`role ${OTHER_ROLE} is not among`);
  });

  it("never injects a pod that only the denied grant selects, and counts it as missed", async () => {
    await createPod(admin, ml, appPod("denied", "outside"));
    expect(hasAgent(await core.readNamespacedPod({ namespace: ml, name: "denied" }))).toBe(false);
    const grant = await waitForGrant(admin, ml, "outside", (g) => g.status?.missedPods === 1);
    expect(grant.status?.injectedPods).toBe(0);
  });

  it("denies every grant in a namespace no policy covers", async () => {
    const uncovered = await setup.namespace({ labels: { team: "web" } });
    await createGrant(admin, uncovered, "uncovered", grantFor("web"));
    await createGrant(admin, ml, "later", grantFor("later"));
    await waitUntilInjecting(admin, ml, appPod("probe", "later"));
    await createPod(admin, uncovered, appPod("web", "web"));
    expect(hasAgent(await core.readNamespacedPod({ namespace: uncovered, name: "web" }))).toBe(false);
    const grant = await waitForGrant(admin, uncovered, "uncovered", (g) => readyCondition(g)?.reason === "PolicyDenied");
    expect(readyCondition(grant)?.message).toContain(`no DatadogCredentialPolicy covers namespace ${uncovered}`);
  });

  it("lets new pods be injected once a policy allows the grant", async () => {
    await createPolicy("ml-finance", {
      namespaceSelector: { matchLabels: { team: "ml" } },
      allowedRoleArns: [OTHER_ROLE],
      allowedOrgUuids: [OTHER_ORG],
      allowedSites: ["datadoghq.eu"],
    });
    const grant = await waitForGrant(admin, ml, "outside", (g) => readyCondition(g)?.status === "True");
    expect(readyCondition(grant)?.reason).toBe("Valid");
    await waitUntilInjecting(admin, ml, appPod("probe", "outside"));
    await createPod(admin, ml, appPod("allowed", "outside"));
    expect(hasAgent(await core.readNamespacedPod({ namespace: ml, name: "allowed" }))).toBe(true);
  });
});

describe("the chart's policy.require=true with no policy in the cluster", () => {
  let ns: string;

  beforeAll(async () => {
    const deployment = findObject((await helmTemplate("sec", "ddcred-system", { policy: { require: true } })).objects, "Deployment");
    const requirePolicy = operatorContainerEnv(deployment).find((variable) => variable.name === "DDCRED_REQUIRE_POLICY")?.value;
    expect(requirePolicy).toBe("true");
    await deleteAllPolicies();
    ns = await setup.namespace({ labels: { team: "ml" } });
    // Written before the operator starts: its webhook only admits pods once its first list holds this grant.
    await createGrant(admin, ns, "needs-policy", grantFor("demo"));
    await setup.restart({ DDCRED_REQUIRE_POLICY: requirePolicy! });
  });

  it("reports PolicyRequired and injects nothing, counting the matching pod as missed", async () => {
    await createPod(admin, ns, appPod("waiting", "demo"));
    expect(hasAgent(await core.readNamespacedPod({ namespace: ns, name: "waiting" }))).toBe(false);
    const grant = await waitForGrant(admin, ns, "needs-policy", (g) => readyCondition(g)?.reason === "PolicyRequired" && g.status?.missedPods === 1);
    expect(readyCondition(grant)?.message).toMatch(/requires a DatadogCredentialPolicy/);
  });

  it("injects again once a policy allows the grant", async () => {
    await createPolicy("ml-teams", { namespaceSelector: { matchLabels: { team: "ml" } }, allowedRoleArns: ["arn:aws:iam::123456789012:role/ml/*"] });
    await waitUntilInjecting(admin, ns, appPod("probe", "demo"));
    await waitForGrant(admin, ns, "needs-policy", (g) => readyCondition(g)?.status === "True");
  });
});
