// After an upgrade the webhook injects a different agent (a new image, other
// resources or env), while running pods keep the one they started with.
// Those pods count as stale, not injected, until they are restarted: the
// controller compares each pod's agent with exactly what the webhook would
// inject today, image included. First the pure decision with the real
// mutation, then the operator itself restarted with another agent image.
import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { assessGrant } from "../../src/controller/grant-status.js";
import type { Grant } from "../../src/shared/grant.js";
import { podRecord } from "../../src/shared/kube/caches.js";
import { expectedAgentFingerprint } from "../../src/webhook/injected-agent.js";
import { mutatePod } from "../../src/webhook/mutate-pod.js";
import type { InjectionSettings } from "../../src/webhook/settings.js";
import { createGrant, createPod, grantSpec, simplePod, waitForGrant } from "../harness/kube.js";
import { AGENT_IMAGE, startWebhookOperator, waitUntilInjecting, type WebhookOperator } from "../harness/webhook-operator.js";
import { applyPatch, settings as before } from "../webhook/support/fixtures.js";

const grant: Grant = {
  metadata: { name: "ray-training", namespace: "ray", generation: 1, resourceVersion: "1" },
  spec: {
    podSelector: { matchLabels: { app: "ray" } },
    aws: { roleArn: "arn:aws:iam::123456789012:role/ray/training" },
    datadog: { orgUuid: "0f8fad5b-d9cb-469f-a165-70867728950e" },
  },
};

/** A pod the webhook injected under `settings`, marked with the grant's generation as the webhook marks it. */
function injectedUnder(settings: InjectionSettings) {
  const pod: V1Pod = {
    metadata: { namespace: "ray", name: "head", uid: "head", labels: { app: "ray" } },
    spec: { containers: [{ name: "ray-head", image: "rayproject/ray:2.46.0" }] },
    status: { phase: "Running" },
  };
  const result = mutatePod({ pod, namespace: "ray", grants: [grant], settings });
  expect(result.outcome.reason).toBe("Injected");
  const injected = applyPatch(pod, result.patch);
  injected.metadata!.annotations = { ...injected.metadata!.annotations, "ddcred.io/grant-generation": "1" };
  return podRecord(injected);
}

function statusToday(pod: ReturnType<typeof injectedUnder>, today: InjectionSettings) {
  return assessGrant({
    grant,
    namespace: { name: "ray", labels: { "ddcred.io/injection": "enabled" }, terminating: false },
    grantsInNamespace: [grant],
    podsInNamespace: [pod],
    policy: { allowed: true, by: [] },
    expectedAgent: expectedAgentFingerprint(grant, today),
    operatorNamespace: "ddcred-system",
    now: new Date("2026-11-30T12:00:00Z"),
  }).status;
}

describe("stalePods after an upgrade", () => {
  it("counts a pod as injected while the webhook would inject the very same agent", () => {
    expect(statusToday(injectedUnder(before), { ...before })).toMatchObject({ injectedPods: 1, stalePods: 0 });
  });

  it("counts a pod whose agent image differs from the one the webhook injects today as stale", () => {
    const upgraded = { ...before, agentImage: `${before.agentImage.replace(/[:@].*$/, "")}:0.2.0` };
    expect(upgraded.agentImage).not.toBe(before.agentImage);
    expect(statusToday(injectedUnder(before), upgraded)).toMatchObject({ injectedPods: 0, stalePods: 1 });
  });

  it("counts a pod whose agent resources differ from today's as stale", () => {
    const resized = { ...before, agentResources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } } };
    expect(statusToday(injectedUnder(before), resized)).toMatchObject({ injectedPods: 0, stalePods: 1 });
  });

  it("counts a pod whose agent env differs from today's (agent.extraEnv) as stale", () => {
    const proxied = { ...before, agentExtraEnv: [{ name: "HTTPS_PROXY", value: "http://proxy.example:3128" }] };
    expect(statusToday(injectedUnder(before), proxied)).toMatchObject({ injectedPods: 0, stalePods: 1 });
  });
});

describe("stalePods on a real API server, across an operator upgrade", () => {
  let setup: WebhookOperator;
  beforeAll(async () => {
    setup = await startWebhookOperator(inject("cluster"), {}, "upgrade");
  });
  afterAll(async () => {
    await setup?.stop();
  });

  it("counts a running pod as stale once the operator injects another agent image, and as injected again after a rollback", async () => {
    const { admin } = setup;
    const namespace = await setup.namespace();
    await createGrant(admin, namespace, "training", grantSpec({ podSelector: { matchLabels: { app: "ray" } } }));
    await waitUntilInjecting(admin, namespace, simplePod("probe", { app: "ray" }));
    const running = await createPod(admin, namespace, simplePod("head", { app: "ray" }));
    expect(running.spec?.initContainers?.[0]?.image).toBe(AGENT_IMAGE);
    await waitForGrant(admin, namespace, "training", (g) => g.status?.injectedPods === 1 && g.status.stalePods === 0);

    await setup.restart({ DDCRED_AGENT_IMAGE: "registry.example/ddcred-operator:upgraded" });
    const upgraded = await waitForGrant(admin, namespace, "training", (g) => g.status?.stalePods === 1);
    expect(upgraded.status?.injectedPods).toBe(0);

    await setup.restart({ DDCRED_AGENT_IMAGE: AGENT_IMAGE });
    await waitForGrant(admin, namespace, "training", (g) => g.status?.injectedPods === 1 && g.status.stalePods === 0);
  });
});
