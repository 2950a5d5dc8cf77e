// Per-grant agent resources (spec.agent.resources): each key a grant sets
// replaces the operator's default; the rest stay; a DatadogCredentialPolicy's
// maxAgentResources caps what a grant may ask for.
import { describe, expect, it } from "vitest";
import { resolveGrantSpec, type Grant, type GrantSpec } from "../../src/shared/grant.js";
import { policyVerdict, type Policy } from "../../src/shared/policy.js";
import { agentContainer } from "../../src/webhook/agent-container.js";
import { settings } from "./support/fixtures.js";

function grant(agent?: GrantSpec["agent"]): Grant {
  return {
    metadata: { name: "training", namespace: "ray", generation: 1 },
    spec: {
      podSelector: { matchLabels: { app: "ray" } },
      aws: { roleArn: "arn:aws:iam::123456789012:role/ml/training" },
      datadog: { orgUuid: "0f8fad5b-d9cb-469f-a165-70867728950e" },
      ...(agent ? { agent } : {}),
    },
  };
}

function resources(agent?: GrantSpec["agent"]) {
  const defaults = { ...settings, agentResources: { requests: { cpu: "10m", memory: "48Mi" }, limits: { memory: "96Mi" } } };
  return agentContainer({ grantName: "training", spec: resolveGrantSpec(grant(agent).spec), settings: defaults, volumeName: "ddcred" }).resources;
}

const capped = (maxAgentResources: Policy["spec"]["maxAgentResources"]): Policy => ({
  metadata: { name: "ml-teams" },
  spec: { namespaceSelector: {}, allowedRoleArns: ["arn:aws:iam::123456789012:role/ml/*"], maxAgentResources },
});

describe("an agent's resources", () => {
  it("are the operator's defaults when the grant sets none", () => {
    expect(resources()).toEqual({ requests: { cpu: "10m", memory: "48Mi" }, limits: { memory: "96Mi" } });
  });

  it("take each key the grant sets, keeping the defaults of the others", () => {
    expect(resources({ resources: { requests: { cpu: "50m" }, limits: { cpu: "500m", memory: "192Mi" } } })).toEqual({
      requests: { cpu: "50m", memory: "48Mi" },
      limits: { cpu: "500m", memory: "192Mi" },
    });
  });

  it("raise the default limit with a request the grant sets above it, so the pod stays valid", () => {
    expect(resources({ resources: { requests: { memory: "128Mi" } } })).toEqual({ requests: { cpu: "10m", memory: "128Mi" }, limits: { memory: "128Mi" } });
  });
});

describe("a policy's maxAgentResources", () => {
  it("allows a grant whose agent asks for no more than the cap", () => {
    const verdict = policyVerdict(grant({ resources: { requests: { memory: "64Mi" }, limits: { memory: "128Mi" } } }), {}, { policies: [capped({ memory: "128Mi" })], requirePolicy: false });
    expect(verdict).toEqual({ allowed: true, by: ["ml-teams"] });
  });

  it("does not allow a grant whose agent asks for more, naming the request or limit and the cap", () => {
    const verdict = policyVerdict(grant({ resources: { limits: { memory: "1Gi", cpu: "2" } } }), {}, { policies: [capped({ memory: "256Mi", cpu: "1" })], requirePolicy: false });
    expect(verdict.allowed).toBe(false);
    expect(!verdict.allowed && verdict.message).toContain("agent cpu limits 2 is above the policy's maxAgentResources.cpu 1");
    expect(!verdict.allowed && verdict.message).toContain("agent memory limits 1Gi is above the policy's maxAgentResources.memory 256Mi");
  });

  it("caps only what the grant sets: the operator's defaults are the operator's choice", () => {
    expect(policyVerdict(grant(), {}, { policies: [capped({ memory: "1Mi" })], requirePolicy: false }).allowed).toBe(true);
  });
});
