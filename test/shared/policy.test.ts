import { describe, expect, it } from "vitest";
import { arnPatternMatches, policyVerdict, type Policy } from "../../src/shared/policy.js";
import type { Grant } from "../../src/shared/grant.js";

const ORG = "0f8fad5b-d9cb-469f-a165-70867728950e";

function grant(overrides: { namespace?: string; roleArn?: string; orgUuid?: string; site?: "datadoghq.eu"; expose?: boolean } = {}): Grant {
  return {
    metadata: { name: "g", namespace: overrides.namespace ?? "team-a" },
    spec: {
      podSelector: {},
      aws: { roleArn: overrides.roleArn ?? "arn:aws:iam::123456789012:role/team-a/ray", ...(overrides.expose === false ? { exposeToWorkload: false } : {}) },
      datadog: { orgUuid: overrides.orgUuid ?? ORG, ...(overrides.site ? { site: overrides.site } : {}) },
    },
  };
}

function policy(name: string, spec: Partial<Policy["spec"]>): Policy {
  return { metadata: { name }, spec: { namespaceSelector: { matchLabels: { team: "a" } }, allowedRoleArns: ["arn:aws:iam::123456789012:role/team-a/*"], ...spec } };
}

const teamA = { team: "a" };

describe("arnPatternMatches", () => {
  it("treats * as any run of characters and everything else literally", () => {
    expect(arnPatternMatches("arn:aws:iam::123456789012:role/team-a/*", "arn:aws:iam::123456789012:role/team-a/x/y")).toBe(true);
    expect(arnPatternMatches("arn:aws:iam::123456789012:role/team-a/*", "arn:aws:iam::123456789012:role/team-b/x")).toBe(false);
    expect(arnPatternMatches("arn:*:iam::*:role/ray", "arn:aws-cn:iam::999999999999:role/ray")).toBe(true);
    expect(arnPatternMatches("arn:aws:iam::123456789012:role/a.b", "arn:aws:iam::123456789012:role/aXb")).toBe(false);
  });
});

describe("policyVerdict", () => {
  it("allows everything while no policy exists, unless one is required", () => {
    expect(policyVerdict(grant(), teamA, { policies: [], requirePolicy: false })).toEqual({ allowed: true, by: [] });
    expect(policyVerdict(grant(), teamA, { policies: [], requirePolicy: true })).toMatchObject({ allowed: false, reason: "PolicyRequired" });
  });

  it("allows a grant that a policy covering its namespace allows, naming the policy", () => {
    expect(policyVerdict(grant(), teamA, { policies: [policy("team-a", {})], requirePolicy: false })).toEqual({ allowed: true, by: ["team-a"] });
  });

  it("denies a namespace that no policy covers", () => {
    const verdict = policyVerdict(grant({ namespace: "team-b" }), { team: "b" }, { policies: [policy("team-a", {})], requirePolicy: false });
    expect(verdict).toMatchObject({ allowed: false, reason: "PolicyDenied", message: expect.stringContaining("no DatadogCredentialPolicy covers namespace team-b") });
  });

  it("selects namespaces by name through kubernetes.io/metadata.name", () => {
    const byName = policy("by-name", { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "team-a" } } });
    expect(policyVerdict(grant(), {}, { policies: [byName], requirePolicy: false }).allowed).toBe(true);
  });

  it("names each thing a covering policy does not allow", () => {
    const strict = policy("strict", { allowedOrgUuids: ["11111111-1111-1111-1111-111111111111"], allowedSites: ["datadoghq.com"], allowExposeToWorkload: false });
    const verdict = policyVerdict(grant({ roleArn: "arn:aws:iam::123456789012:role/admin", site: "datadoghq.eu" }), teamA, {
      policies: [strict],
      requirePolicy: false,
    });
    expect(verdict.allowed).toBe(false);
    const message = verdict.allowed ? "" : verdict.message;
    expect(message).toContain("policy strict");
    expect(message).toContain("role arn:aws:iam::123456789012:role/admin is not among");
    expect(message).toContain(`org ${ORG} is not among`);
    expect(message).toContain("site datadoghq.eu is not among datadoghq.com");
    expect(message).toContain("exposeToWorkload: false");
  });

  it("allows a grant when any one covering policy allows it", () => {
    const narrow = policy("narrow", { allowedRoleArns: ["arn:aws:iam::123456789012:role/other"] });
    const wide = policy("wide", {});
    expect(policyVerdict(grant(), teamA, { policies: [narrow, wide], requirePolicy: false })).toEqual({ allowed: true, by: ["wide"] });
  });
});
