// spec.agent.resources and maxAgentResources on a real kube-apiserver: the
// schema accepts Kubernetes quantities and rejects anything else, naming the field.
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { API_GROUP, API_VERSION } from "../../src/shared/names.js";
import { POLICY_PLURAL } from "../../src/shared/policy.js";
import { adminKubeConfig } from "../harness/cluster.js";
import { createGrant, createNamespace, deleteNamespace, getGrant, grantSpec, rejection, uniqueName } from "../harness/kube.js";

let kc: KubeConfig;
let namespace: string;

beforeAll(async () => {
  kc = adminKubeConfig(inject("cluster"));
  namespace = await createNamespace(kc, { prefix: "crd-agent" });
});
afterAll(async () => {
  await deleteNamespace(kc, namespace);
});

describe("spec.agent.resources of a grant", () => {
  it("accepts cpu and memory quantities for requests and limits", async () => {
    await createGrant(kc, namespace, "sized", grantSpec({ agent: { resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "1", memory: "128Mi" } } } }));
    expect((await getGrant(kc, namespace, "sized")).spec.agent?.resources?.limits).toEqual({ cpu: "1", memory: "128Mi" });
  });

  it("rejects a value that is not a quantity, naming the field", async () => {
    const message = await rejection(() => createGrant(kc, namespace, "bad", grantSpec({ agent: { resources: { limits: { memory: "lots" } } } })));
    expect(message).toContain("spec.agent.resources.limits.memory");
  });

  it("keeps only cpu and memory: the API server prunes any other resource", async () => {
    await createGrant(kc, namespace, "gpu", grantSpec({ agent: { resources: { limits: { memory: "64Mi", "nvidia.com/gpu": "1" } as never } } }));
    expect((await getGrant(kc, namespace, "gpu")).spec.agent?.resources?.limits).toEqual({ memory: "64Mi" });
  });
});

describe("spec.maxAgentResources of a policy", () => {
  it("rejects a cap that is not a quantity", async () => {
    // A dry run: policies are cluster-wide and would change what other test files' operators allow.
    const custom = kc.makeApiClient(CustomObjectsApi);
    const body = {
      apiVersion: `${API_GROUP}/${API_VERSION}`,
      kind: "DatadogCredentialPolicy",
      metadata: { name: uniqueName("cap") },
      spec: { namespaceSelector: {}, allowedRoleArns: ["*"], maxAgentResources: { memory: "a lot" } },
    };
    const message = await rejection(() => custom.createClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: POLICY_PLURAL, body, dryRun: "All" }));
    expect(message).toContain("spec.maxAgentResources.memory");
  });
});
