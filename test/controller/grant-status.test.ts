import { describe, expect, it } from "vitest";
import { assessGrant, sameStatus, type GrantWorld } from "../../src/controller/grant-status.js";
import { grantEvents } from "../../src/controller/grant-events.js";
import type { Grant } from "../../src/shared/grant.js";
import type { PodRecord } from "../../src/shared/kube/caches.js";

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

function pod(name: string, options: { labels?: Record<string, string>; injectedFrom?: [string, number]; phase?: string; deleting?: boolean } = {}): PodRecord {
  const annotations: Record<string, string> = options.injectedFrom
    ? { "ddcred.io/injected": options.injectedFrom[0], "ddcred.io/grant-generation": String(options.injectedFrom[1]) }
    : {};
  return {
    metadata: { namespace: "ray", name, uid: name, labels: options.labels ?? { app: "ray" }, annotations, deleting: options.deleting ?? false },
    spec: { serviceAccountName: "default" },
    hasAgent: Boolean(options.injectedFrom),
    phase: options.phase ?? "Running",
  };
}

function world(overrides: Partial<GrantWorld> & { grant: Grant }): GrantWorld {
  return {
    namespace: { name: "ray", labels: { "ddcred.io/injection": "enabled" }, terminating: false },
    grantsInNamespace: [overrides.grant],
    podsInNamespace: [],
    policy: { allowed: true, by: [] },
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
          pod("current", { injectedFrom: ["a", 2] }),
          pod("old", { injectedFrom: ["a", 1] }),
          pod("missed"),
          pod("done", { phase: "Succeeded" }),
          pod("going", { deleting: true }),
          pod("elsewhere", { labels: { app: "web" } }),
          pod("from-other-grant", { injectedFrom: ["b", 1] }),
        ],
      }),
    );
    expect(status).toMatchObject({ injectedPods: 2, stalePods: 1, missedPods: 1 });
    expect(status.conditions?.[0]?.message).toContain("1 matching pod(s) carry no agent");
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
