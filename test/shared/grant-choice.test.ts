import { describe, expect, it } from "vitest";
import { chooseGrant, type PodIdentity } from "../../src/shared/grant-choice.js";
import type { Grant, GrantSpec } from "../../src/shared/grant.js";

function grant(name: string, spec: Partial<GrantSpec> = {}, deleting = false): Grant {
  return {
    metadata: { name, namespace: "ns", ...(deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) },
    spec: {
      podSelector: { matchLabels: { app: "ray" } },
      aws: { roleArn: "arn:aws:iam::123456789012:role/x" },
      datadog: { orgUuid: "0f8fad5b-d9cb-469f-a165-70867728950e" },
      ...spec,
    },
  };
}

function pod(labels: Record<string, string>, extra: { annotations?: Record<string, string>; serviceAccountName?: string } = {}): PodIdentity {
  return {
    metadata: { labels, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: extra.serviceAccountName ? { serviceAccountName: extra.serviceAccountName } : {},
  };
}

describe("chooseGrant", () => {
  it("chooses the single grant that selects the pod", () => {
    const choice = chooseGrant(pod({ app: "ray" }), [grant("a"), grant("b", { podSelector: { matchLabels: { app: "web" } } })]);
    expect(choice).toMatchObject({ kind: "chosen", picked: false, grant: { metadata: { name: "a" } } });
  });

  it("leaves a pod alone when two grants match and none is picked", () => {
    const choice = chooseGrant(pod({ app: "ray" }), [grant("a"), grant("b", { podSelector: {} })]);
    expect(choice.kind).toBe("conflict");
    expect(choice.kind === "conflict" && choice.grants.map((g) => g.metadata.name)).toEqual(["a", "b"]);
  });

  it("lets the ddcred.io/grant label pick one of several matching grants", () => {
    const choice = chooseGrant(pod({ app: "ray", "ddcred.io/grant": "b" }), [grant("a"), grant("b", { podSelector: {} })]);
    expect(choice).toMatchObject({ kind: "chosen", picked: true, grant: { metadata: { name: "b" } } });
  });

  it("accepts the pick as an annotation too", () => {
    const choice = chooseGrant(pod({ app: "ray" }, { annotations: { "ddcred.io/grant": "a" } }), [grant("a"), grant("b", { podSelector: {} })]);
    expect(choice).toMatchObject({ kind: "chosen", grant: { metadata: { name: "a" } } });
  });

  it("refuses a pick of a grant that does not select the pod", () => {
    const choice = chooseGrant(pod({ app: "web", "ddcred.io/grant": "a" }), [grant("a")]);
    expect(choice).toMatchObject({ kind: "pickNotMatching", pick: "a", matching: [] });
  });

  it("honours the opt-out annotation before anything else", () => {
    expect(chooseGrant(pod({ app: "ray" }, { annotations: { "ddcred.io/inject": "false" } }), [grant("a")]).kind).toBe("optedOut");
  });

  it("requires the pod's service account when the grant names some", () => {
    const scoped = grant("a", { serviceAccountNames: ["ray-runner"] });
    expect(chooseGrant(pod({ app: "ray" }), [scoped]).kind).toBe("noMatch");
    expect(chooseGrant(pod({ app: "ray" }, { serviceAccountName: "ray-runner" }), [scoped]).kind).toBe("chosen");
    // An empty serviceAccountName means "default".
    expect(chooseGrant(pod({ app: "ray" }), [grant("d", { serviceAccountNames: ["default"] })]).kind).toBe("chosen");
  });

  it("ignores grants being deleted and grants with an invalid selector", () => {
    expect(chooseGrant(pod({ app: "ray" }), [grant("a", {}, true)]).kind).toBe("noMatch");
    expect(chooseGrant(pod({ app: "ray" }), [grant("a", { podSelector: { matchLabels: { "bad key": "x" } } })]).kind).toBe("noMatch");
  });
});
