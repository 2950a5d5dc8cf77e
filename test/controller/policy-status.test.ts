// DatadogCredentialPolicy status: how many grants each policy allows today
// (grantsAllowed) and the generation that count is for (observedGeneration).
// The pure computation first, then the operator writing it on a real API
// server of its own (policies are cluster-wide: other test files' operators
// would count them too).
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policyStatus } from "../../src/controller/policy-status.js";
import type { Grant } from "../../src/shared/grant.js";
import { API_GROUP, API_VERSION } from "../../src/shared/names.js";
import { POLICY_PLURAL, type Policy } from "../../src/shared/policy.js";
import { createGrant, eventually, grantSpec } from "../harness/kube.js";
import type { WebhookOperator } from "../harness/webhook-operator.js";
import { startOperatorOnOwnCluster, type OperatorOnOwnCluster } from "../support/own-cluster.js";

const ML_ROLE = "arn:aws:iam::123456789012:role/ml/training";
const FINANCE_ROLE = "arn:aws:iam::123456789012:role/finance/ledger";

function grant(name: string, namespace: string, roleArn: string): Grant {
  return { metadata: { name, namespace, generation: 1 }, spec: grantSpec({ aws: { roleArn } }) } as Grant;
}

function policy(spec: Partial<Policy["spec"]>, generation = 1): Policy {
  return { metadata: { name: "ml-teams", generation }, spec: { namespaceSelector: { matchLabels: { team: "ml" } }, allowedRoleArns: ["arn:aws:iam::123456789012:role/ml/*"], ...spec } };
}

const labels: Record<string, Record<string, string>> = { ray: { team: "ml" }, web: { team: "web" } };

describe("policyStatus", () => {
  it("counts the grants in the namespaces it selects that it has no objection to, for its generation", () => {
    const grants = [grant("a", "ray", ML_ROLE), grant("b", "ray", FINANCE_ROLE), grant("c", "web", ML_ROLE)];
    expect(policyStatus(policy({}, 4), grants, (ns) => labels[ns])).toEqual({ observedGeneration: 4, grantsAllowed: 1 });
  });

  it("selects a namespace by name through kubernetes.io/metadata.name, as the API server labels every namespace", () => {
    const byName = policy({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "web" } } });
    expect(policyStatus(byName, [grant("c", "web", ML_ROLE)], () => undefined).grantsAllowed).toBe(1);
  });

  it("leaves out grants being deleted", () => {
    const deleting = { ...grant("a", "ray", ML_ROLE), metadata: { name: "a", namespace: "ray", deletionTimestamp: "2026-11-30T00:00:00Z" } } as Grant;
    expect(policyStatus(policy({}), [deleting], (ns) => labels[ns]).grantsAllowed).toBe(0);
  });
});

describe("the operator on a real API server", () => {
  let own: OperatorOnOwnCluster;
  let setup: WebhookOperator;
  let admin: KubeConfig;
  let custom: CustomObjectsApi;
  const ids = { group: API_GROUP, version: API_VERSION, plural: POLICY_PLURAL };

  beforeAll(async () => {
    own = await startOperatorOnOwnCluster("policy-status");
    ({ setup } = own);
    admin = setup.admin;
    custom = admin.makeApiClient(CustomObjectsApi);
  });

  afterAll(async () => {
    await own?.stop();
  });

  async function statusOf(name: string): Promise<{ observedGeneration?: number; grantsAllowed?: number } | undefined> {
    return ((await custom.getClusterCustomObject({ ...ids, name })) as Policy).status;
  }

  it("writes how many grants a policy allows, and follows its spec, grants and namespaces", async () => {
    const ml = await setup.namespace({ labels: { team: "ml" } });
    await createGrant(admin, ml, "training", grantSpec({ podSelector: { matchLabels: { app: "training" } }, aws: { roleArn: ML_ROLE } }));
    await createGrant(admin, ml, "ledger", grantSpec({ podSelector: { matchLabels: { app: "ledger" } }, aws: { roleArn: FINANCE_ROLE } }));
    await custom.createClusterCustomObject({
      ...ids,
      body: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: "DatadogCredentialPolicy", metadata: { name: "ml-teams" }, spec: policy({}).spec },
    });
    await eventually("status grantsAllowed 1 for generation 1", async () => {
      const status = await statusOf("ml-teams");
      return status?.observedGeneration === 1 && status.grantsAllowed === 1;
    });

    await custom.patchClusterCustomObject(
      { ...ids, name: "ml-teams", body: [{ op: "replace", path: "/spec/allowedRoleArns", value: ["arn:aws:iam::123456789012:role/*"] }] },
    );
    await eventually("status grantsAllowed 2 for generation 2", async () => {
      const status = await statusOf("ml-teams");
      return status?.observedGeneration === 2 && status.grantsAllowed === 2;
    });

    await custom.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: "datadogcredentialgrants", namespace: ml, name: "ledger" });
    await eventually("status grantsAllowed 1 once a grant is gone", async () => (await statusOf("ml-teams"))?.grantsAllowed === 1);

    const other = await setup.namespace({ labels: { team: "web" } });
    await createGrant(admin, other, "web", grantSpec({ aws: { roleArn: ML_ROLE } }));
    await custom.patchClusterCustomObject({ ...ids, name: "ml-teams", body: [{ op: "replace", path: "/spec/namespaceSelector", value: {} }] });
    const last = await eventually("status grantsAllowed 2 once it selects every namespace", async () => {
      const status = await statusOf("ml-teams");
      return status?.grantsAllowed === 2 ? status : undefined;
    });
    expect(last.observedGeneration).toBe(3);
  });
});
