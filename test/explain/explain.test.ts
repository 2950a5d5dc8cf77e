// explainPod: the webhook's own decision for a pod, with each step a person
// needs to see. Pure: the world comes in as values.
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { explainPod, type ExplainWorld } from "../../src/explain/explain.js";
import { renderExplanation } from "../../src/explain/render.js";
import type { Grant } from "../../src/shared/grant.js";
import type { Policy } from "../../src/shared/policy.js";
import { mutatePod } from "../../src/webhook/mutate-pod.js";
import { settings } from "../webhook/support/fixtures.js";

function grant(name: string, app: string, roleArn = "arn:aws:iam::123456789012:role/ml/training"): Grant {
  return {
    metadata: { name, namespace: "ray", generation: 2, resourceVersion: "1" },
    spec: { podSelector: { matchLabels: { app } }, aws: { roleArn }, datadog: { orgUuid: "0f8fad5b-d9cb-469f-a165-70867728950e", intakeKey: true } },
  };
}

const pod: V1Pod = { metadata: { name: "head", labels: { app: "ray" } }, spec: { containers: [{ name: "ray-head", image: "rayproject/ray:2.46.0" }] } };

function world(overrides: Partial<ExplainWorld> = {}): ExplainWorld {
  return {
    namespace: "ray",
    namespaceLabels: { "ddcred.io/injection": "enabled" },
    grants: [grant("training", "ray")],
    policies: { policies: [], requirePolicy: false },
    settings,
    ...overrides,
  };
}

describe("explainPod", () => {
  it("injects a pod from a grant that names its RayJob, and says the grant selects it", () => {
    const byName: Grant = { ...grant("train", "none"), spec: { ...grant("train", "none").spec, podSelector: undefined, ray: { rayJobs: ["train"] } } };
    const explanation = explainPod(pod, world({ grants: [byName], rayWorkload: { rayCluster: "train-<generated>", rayJob: "train" } }));
    expect(explanation.decision).toMatchObject({ injected: true, grant: "train" });
    expect(explanation.grants).toEqual([expect.objectContaining({ name: "train", selects: true })]);
    expect(explainPod(pod, world({ grants: [byName] })).decision.injected).toBe(false);
  });

  it("says which grant injects the pod and what each app container gets, as the webhook's own patch does", () => {
    const explanation = explainPod(pod, world());
    expect(explanation.namespaceSeen).toBe(true);
    expect(explanation.decision).toMatchObject({ injected: true, reason: "Injected", grant: "training" });
    expect(explanation.patch).toEqual(mutatePod({ pod, namespace: "ray", grants: [grant("training", "ray")], settings }).patch);
    expect(explanation.agent?.image).toBe(settings.agentImage);
    expect(explanation.wired.map((c) => c.name)).toEqual(["ray-head"]);
    expect(explanation.wired[0]!.env.map((v) => v.name)).toEqual(expect.arrayContaining(["DD_SITE", "DDCRED_ENDPOINT", "DD_BEARER_TOKEN_FILE", "DD_API_KEY_FILE"]));
    // The grant exposes AWS credentials too (the default): the AWS config and the loopback API's token.
    expect(explanation.files).toEqual(["/var/run/ddcred/agent-token", "/var/run/ddcred/aws-config", "/var/run/ddcred/datadog-intake-key", "/var/run/ddcred/datadog-token"]);
  });

  it("says the webhook never sees a namespace without the injection label, and what it would do once labelled", () => {
    const explanation = explainPod(pod, world({ namespaceLabels: {} }));
    expect(explanation.namespaceSeen).toBe(false);
    expect(explanation.namespaceNote).toContain("kubectl label namespace ray ddcred.io/injection=enabled");
    expect(renderExplanation("Pod ray/head", explanation)).toContain("decision: NOT INJECTED (the webhook is not called here): Injected");
  });

  it("names the policy objection for a grant policy denies, and leaves the pod alone as the webhook does", () => {
    const policy: Policy = { metadata: { name: "ml-teams" }, spec: { namespaceSelector: {}, allowedRoleArns: ["arn:aws:iam::123456789012:role/other/*"] } };
    const explanation = explainPod(pod, world({ policies: { policies: [policy], requirePolicy: false } }));
    expect(explanation.grants).toEqual([expect.objectContaining({ name: "training", selects: true, policy: expect.objectContaining({ allowed: false, reason: "PolicyDenied" }) })]);
    expect(explanation.decision).toMatchObject({ injected: false, reason: "NoMatchingGrant" });
    expect(renderExplanation("Pod ray/head", explanation)).toContain("policy ml-teams: role arn:aws:iam::123456789012:role/ml/training is not among arn:aws:iam::123456789012:role/other/*");
  });

  it("names both grants when two select the pod and none is picked", () => {
    const explanation = explainPod(pod, world({ grants: [grant("a", "ray"), grant("b", "ray")] }));
    expect(explanation.decision).toMatchObject({ injected: false, reason: "GrantConflict" });
    expect(explanation.warnings.join()).toContain("ddcred.io/grant");
  });

  it("reports a pod the API server would refuse, with the webhook's message", () => {
    const forged: V1Pod = {
      metadata: { name: "copy", labels: { app: "ray" }, annotations: { "ddcred.io/injected": "training" } },
      spec: { initContainers: [{ name: "ddcred-agent", image: "registry.example/not-the-agent:1", restartPolicy: "Always" }], containers: [{ name: "main", image: "x" }] },
    };
    const explanation = explainPod(forged, world());
    expect(explanation.refusal).toMatch(/^ddcred: /);
    expect(renderExplanation("Pod ray/copy", explanation)).toContain("decision: REFUSED");
  });
});
