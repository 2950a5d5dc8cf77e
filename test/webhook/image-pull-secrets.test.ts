// agent.imagePullSecrets: an injected pod can pull the agent image from a
// private registry because the webhook adds the configured pull secrets to
// it, after the pod's own and each once.
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { Grant } from "../../src/shared/grant.js";
import { mutatePod } from "../../src/webhook/mutate-pod.js";
import { applyPatch, settings } from "./support/fixtures.js";

const grant: Grant = {
  metadata: { name: "training", namespace: "ray", generation: 1, resourceVersion: "1" },
  spec: { podSelector: { matchLabels: { app: "ray" } }, aws: { roleArn: "arn:aws:iam::123456789012:role/ray" }, datadog: { orgUuid: "0f8fad5b-d9cb-469f-a165-70867728950e" } },
};

function injected(pod: V1Pod, pullSecrets: readonly string[]): V1Pod {
  const result = mutatePod({ pod, namespace: "ray", grants: [grant], settings: { ...settings, agentImagePullSecrets: pullSecrets } });
  expect(result.outcome.reason).toBe("Injected");
  return applyPatch(pod, result.patch);
}

const pod = (imagePullSecrets?: { name: string }[]): V1Pod => ({
  metadata: { name: "head", labels: { app: "ray" } },
  spec: { containers: [{ name: "ray-head", image: "registry.example/ray:2.46.0" }], ...(imagePullSecrets ? { imagePullSecrets } : {}) },
});

describe("the agent image's pull secrets", () => {
  it("are added to an injected pod that lists none", () => {
    expect(injected(pod(), ["registry-credentials"]).spec?.imagePullSecrets).toEqual([{ name: "registry-credentials" }]);
  });

  it("come after the pod's own, and a secret the pod already lists is not repeated", () => {
    const result = injected(pod([{ name: "app-registry" }, { name: "registry-credentials" }]), ["registry-credentials", "agent-registry"]);
    expect(result.spec?.imagePullSecrets).toEqual([{ name: "app-registry" }, { name: "registry-credentials" }, { name: "agent-registry" }]);
  });

  it("leave the pod's pull secrets untouched when none are configured", () => {
    const result = mutatePod({ pod: pod(), namespace: "ray", grants: [grant], settings });
    expect(result.patch.filter((op) => op.path.startsWith("/spec/imagePullSecrets"))).toEqual([]);
  });
});
