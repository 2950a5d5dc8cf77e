import { describe, expect, it } from "vitest";
import { assessGrant, sameStatus, type GrantWorld } from "../../src/controller/grant-status.js";
import { grantEvents } from "../../src/controller/grant-events.js";
import type { Grant } from "../../src/shared/grant.js";
import type { V1Pod } from "@kubernetes/client-node";
import { podRecord, type PodRecord } from "../../src/shared/kube/caches.js";
import { expectedAgentFingerprint } from "../../src/webhook/injected-agent.js";
import { mutatePod } from "../../src/webhook/mutate-pod.js";
import { applyPatch, settings } from "../webhook/support/fixtures.js";

const NOW = new Date("2026-11-25T12:00:00Z");

function grant(name: string, overrides: Partial<Grant["spec"]> = {}, generation = 1): Grant {
  return {
    metadata: { name, namespace: "ray", generation, resourceVersion: "1" },
    spec: {
      podSelector: { matchLabels: { app: "ray" } },
      aws: { roleArn: "arn:aws:iam::123456789012:role/x" },
      datadog: { orgUuid: "0f8fad5b-d9cb-469f-a165-70867728950e" },
      ...overrides,
    },
  };
}

interface PodOptions {
  labels?: Record<string, string>;
  /** Injected by the webhook from this grant, then marked with this generation. */
  injectedFrom?: [Grant, number];
  phase?: string;
  deleting?: boolean;
}

/** A pod as the controller's cache keeps it; an injected one is what the webhook really leaves. */
function pod(name: string, options: PodOptions = {}): PodRecord {
  let full: V1Pod = {
    metadata: { namespace: "ray", name, uid: name, labels: options.labels ?? { app: "ray" }, ...(options.deleting ? { deletionTimestamp: new Date() } : {}) },
    spec: { containers: [{ name: "main", image: "registry.example/app:1" }] },
    status: { phase: options.phase ?? "Running" },
  };
  if (options.injectedFrom) {
    const [from, generation] = options.injectedFrom;
    const result = mutatePod({ pod: full, namespace: "ray", grants: [from], settings });
    expect(result.outcome.reason).toBe("Injected");
    full = applyPatch(full, result.patch);
    full.metadata!.annotations = { ...full.metadata!.annotations, "ddcred.io/grant-generation": String(generation) };
  }
  return podRecord(full);
}

/** What a pod author can write without the webhook: the markers and a container that looks like the agent. */
function forgedPod(name: string, grantName: string): PodRecord {
  return podRecord({
    metadata: { namespace: "ray", name, uid: name, labels: { app: "ray", "ddcred.io/grant": grantName }, annotations: { "ddcred.io/injected": grantName, "ddcred.io/grant-generation": "9" } },
    spec: {
      initContainers: [{ name: "ddcred-agent", image: "registry.example/not-the-agent:1", restartPolicy: "Always", env: [{ name: "DDCRED_GRANT_NAME", value: grantName }] }],
      containers: [{ name: "main", image: "registry.example/app:1" }],
    },
    status: { phase: "Running" },
  });
}

function world(overrides: Partial<GrantWorld> & { grant: Grant }): GrantWorld {
  return {
    namespace: { name: "ray", labels: { "ddcred.io/injection": "enabled" }, terminating: false },
    grantsInNamespace: [overrides.grant],
    podsInNamespace: [],
    policy: { allowed: true, by: [] },
    expectedAgent: expectedAgentFingerprint(overrides.grant, settings),
    operatorNamespace: "ddcred-system",
    now: NOW,
    ...overrides,
  };
}

describe("assessGrant", () => {
  it("is Ready with the observed generation when nothing is wrong", () => {
    const g = grant("a", {}, 3);
    const { status, reason } = assessGrant(world({ grant: g }));
    expect(reason).toBe("Valid");
    expect(status).toMatchObject({ observedGeneration: 3, injectedPods: 0, stalePods: 0, missedPods: 0 });
    expect(status.conditions?.[0]).toMatchObject({ type: "Ready", status: "True", observedGeneration: 3, lastTransitionTime: "2026-11-25T12:00:00Z" });
  });

  it("counts injected, stale and missed pods, ignoring finished, deleting and unrelated ones", () => {
    const g = grant("a", {}, 2);
    const { status } = assessGrant(
      world({
        grant: g,
        podsInNamespace: [
          pod("current", { injectedFrom: [g, 2] }),
          pod("old", { injectedFrom: [g, 1] }),
          pod("missed"),
          pod("done", { phase: "Succeeded" }),
          pod("going", { deleting: true }),
          pod("elsewhere", { labels: { app: "web" } }),
          pod("from-other-grant", { injectedFrom: [grant("b"), 1] }),
        ],
      }),
    );
    expect(status).toMatchObject({ injectedPods: 2, stalePods: 1, missedPods: 1 });
    expect(status.conditions?.[0]?.message).toContain("1 matching pod(s) carry no agent");
  });

  it("never counts a pod whose author wrote the markers and a look-alike agent as injected, only as stale", () => {
    const g = grant("a", {}, 2);
    const { status } = assessGrant(world({ grant: g, podsInNamespace: [forgedPod("forged", "a"), pod("real", { injectedFrom: [g, 2] })] }));
    expect(status).toMatchObject({ injectedPods: 1, stalePods: 1, missedPods: 0 });
  });

  it("counts an injected pod as stale, not injected, once the grant gives a different agent", () => {
    const before = grant("a", {}, 1);
    const after = grant("a", { aws: { roleArn: "arn:aws:iam::123456789012:role/other" } }, 2);
    const { status } = assessGrant(world({ grant: after, podsInNamespace: [pod("injected-before", { injectedFrom: [before, 1] })] }));
    expect(status).toMatchObject({ injectedPods: 0, stalePods: 1, missedPods: 0 });
  });

  it("counts a pod running the agent of a grant that cluster policy now denies as revoked, not injected", () => {
    const g = grant("a");
    const result = assessGrant(
      world({ grant: g, policy: { allowed: false, reason: "PolicyDenied", message: "no" }, podsInNamespace: [pod("injected", { injectedFrom: [g, 1] })] }),
    );
    expect(result.status).toMatchObject({ injectedPods: 0, stalePods: 0, revokedPods: 1 });
    expect(result.status.conditions?.[0]?.message).toMatch(/1 running pod\(s\) still have its agent and keep refreshing credentials until restarted or evicted/);
  });

  it("counts a matching pod whose own container is named ddcred-agent, with no markers, as missed", () => {
    const own = podRecord({
      metadata: { namespace: "ray", name: "own", uid: "own", labels: { app: "ray" } },
      spec: { initContainers: [{ name: "ddcred-agent", image: "registry.example/mine:1" }], containers: [{ name: "main", image: "registry.example/app:1" }] },
      status: { phase: "Running" },
    });
    expect(assessGrant(world({ grant: grant("a"), podsInNamespace: [own] })).status).toMatchObject({ injectedPods: 0, stalePods: 0, missedPods: 1 });
  });

  it("reports a namespace that is not enabled, with the command that fixes it", () => {
    const result = assessGrant(world({ grant: grant("a"), namespace: { name: "ray", labels: {}, terminating: false } }));
    expect(result.reason).toBe("NamespaceNotEnabled");
    expect(result.status.conditions?.[0]?.message).toContain("kubectl label namespace ray ddcred.io/injection=enabled");
  });

  it("reports a grant that cluster policy does not allow, and injects nothing from it", () => {
    const result = assessGrant(
      world({ grant: grant("a"), podsInNamespace: [pod("p")], policy: { allowed: false, reason: "PolicyDenied", message: "role x is not among y" } }),
    );
    expect(result.reason).toBe("PolicyDenied");
    expect(result.status.conditions?.[0]).toMatchObject({ status: "False", message: expect.stringContaining("role x is not among y") });
    expect(result.status.missedPods).toBe(1);
  });

  it("refuses system namespaces and the operator's own", () => {
    for (const namespace of ["kube-system", "ddcred-system"]) {
      const g: Grant = { ...grant("a"), metadata: { ...grant("a").metadata, namespace } };
      expect(assessGrant(world({ grant: g, operatorNamespace: "ddcred-system" })).reason).toBe("NamespaceExcluded");
    }
  });

  it("reports a conflict naming the other grant when a pod matches both and picks none", () => {
    const a = grant("a");
    const b = grant("b", { podSelector: {} });
    const result = assessGrant(world({ grant: a, grantsInNamespace: [a, b], podsInNamespace: [pod("p")] }));
    expect(result.reason).toBe("ConflictingGrants");
    expect(result.conflictingGrantNames).toEqual(["b"]);
    expect(result.status.missedPods).toBe(1);
    const picked = pod("q", { labels: { app: "ray", "ddcred.io/grant": "b" } });
    expect(assessGrant(world({ grant: a, grantsInNamespace: [a, b], podsInNamespace: [picked] })).reason).toBe("Valid");
  });

  it("keeps lastTransitionTime while the condition's status holds", () => {
    const first = assessGrant(world({ grant: grant("a") }));
    const later = assessGrant(world({ grant: { ...grant("a"), status: first.status }, now: new Date("2026-11-26T00:00:00Z") }));
    expect(later.status.conditions?.[0]?.lastTransitionTime).toBe("2026-11-25T12:00:00Z");
    expect(sameStatus(first.status, later.status)).toBe(true);
  });
});

describe("grantEvents", () => {
  it("announces a problem once, and recovery once", () => {
    const broken = assessGrant(world({ grant: grant("a"), namespace: { name: "ray", labels: {}, terminating: false } }));
    expect(grantEvents(undefined, broken)).toEqual([expect.objectContaining({ type: "Warning", reason: "NamespaceNotEnabled" })]);
    expect(grantEvents(broken.status, broken)).toEqual([]);
    const fixed = assessGrant(world({ grant: { ...grant("a"), status: broken.status } }));
    expect(grantEvents(broken.status, fixed)).toEqual([expect.objectContaining({ type: "Normal", reason: "Ready" })]);
  });

  it("warns when more pods are missed, naming them", () => {
    const before = assessGrant(world({ grant: grant("a") }));
    const after = assessGrant(world({ grant: grant("a"), podsInNamespace: [pod("late-1"), pod("late-2")] }));
    const events = grantEvents(before.status, after);
    expect(events).toEqual([expect.objectContaining({ type: "Warning", reason: "PodsMissed" })]);
    expect(events[0]?.message).toContain("late-1, late-2");
  });
});
