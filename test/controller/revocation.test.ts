// Which running pods keep credentials ddcred would no longer give, and what
// to do about them: pure decisions over cache records, no server.
import { describe, expect, it } from "vitest";
import { revocationMode, revokedCounts, revokedPods } from "../../src/controller/revocation.js";
import type { Grant } from "../../src/shared/grant.js";
import { podRecord, type PodRecord } from "../../src/shared/kube/caches.js";
import type { Policy, PolicyVerdict } from "../../src/shared/policy.js";

function grant(name: string): Grant {
  return {
    apiVersion: "ddcred.io/v1alpha1",
    kind: "DatadogCredentialGrant",
    metadata: { name, namespace: "ray", generation: 1 },
    spec: { podSelector: { matchLabels: { app: name } }, aws: { roleArn: "arn:aws:iam::123456789012:role/ray" }, datadog: { orgUuid: "0f8fad5b-d9cb-469f-a165-70867728950e" } },
  } as Grant;
}

/** A pod whose first init container is an agent serving `grantName`. */
function agentPod(name: string, grantName: string, phase = "Running"): PodRecord {
  return podRecord({
    metadata: { namespace: "ray", name, uid: `uid-${name}`, labels: {} },
    spec: {
      initContainers: [{ name: "ddcred-agent", image: "registry.example/ddcred:1", restartPolicy: "Always", env: [{ name: "DDCRED_GRANT_NAME", value: grantName }] }],
      containers: [{ name: "main", image: "registry.example/app:1" }],
    },
    status: { phase },
  });
}

function plainPod(name: string): PodRecord {
  return podRecord({ metadata: { namespace: "ray", name, uid: `uid-${name}`, labels: {} }, spec: { containers: [{ name: "main", image: "x" }] }, status: { phase: "Running" } });
}

const allowed: PolicyVerdict = { allowed: true, by: [] };
const denied: PolicyVerdict = { allowed: false, reason: "PolicyDenied", message: "role arn:aws:iam::123456789012:role/ray is not among arn:aws:iam::123456789012:role/other" };

function policy(name: string, revocation?: "Report" | "Evict", team = "ml"): Policy {
  return { metadata: { name }, spec: { namespaceSelector: { matchLabels: { team } }, allowedRoleArns: ["*"], ...(revocation ? { revocation } : {}) } } as Policy;
}

describe("revokedPods", () => {
  it("reports a pod whose agent serves a grant that no longer exists", () => {
    const revoked = revokedPods({ namespace: "ray", pods: [agentPod("head", "gone")], grants: [grant("other")], verdict: () => allowed });
    expect(revoked).toMatchObject([{ grant: "gone", reason: "GrantDeleted", pod: { metadata: { name: "head" } } }]);
    expect(revoked[0]!.message).toMatch(/grant gone, which no longer exists; it keeps refreshing credentials until it is restarted or evicted/);
  });

  it("reports a pod whose agent serves a grant that policy now denies, with the policy's objection", () => {
    const revoked = revokedPods({ namespace: "ray", pods: [agentPod("worker", "ray")], grants: [grant("ray")], verdict: () => denied });
    expect(revoked).toMatchObject([{ grant: "ray", reason: "PolicyDenied" }]);
    expect(revoked[0]!.message).toContain("is not among arn:aws:iam::123456789012:role/other");
  });

  it("leaves alone pods of allowed grants, pods without an agent, and pods that finished", () => {
    const pods = [agentPod("ok", "ray"), plainPod("plain"), agentPod("done", "gone", "Succeeded")];
    expect(revokedPods({ namespace: "ray", pods, grants: [grant("ray")], verdict: () => allowed })).toEqual([]);
  });

  it("asks policy about each grant once, however many pods run its agent", () => {
    let asked = 0;
    const pods = Array.from({ length: 50 }, (_, i) => agentPod(`w${i}`, "ray"));
    const revoked = revokedPods({ namespace: "ray", pods, grants: [grant("ray")], verdict: () => (asked++, denied) });
    expect(revoked).toHaveLength(50);
    expect(asked).toBe(1);
  });

  it("counts revoked pods by grant and reason", () => {
    const revoked = revokedPods({ namespace: "ray", pods: [agentPod("a", "gone"), agentPod("b", "gone"), agentPod("c", "ray")], grants: [grant("ray")], verdict: () => denied });
    expect([...revokedCounts(revoked).values()]).toEqual([
      { grant: "gone", reason: "GrantDeleted", count: 2 },
      { grant: "ray", reason: "PolicyDenied", count: 1 },
    ]);
  });
});

describe("revocationMode", () => {
  it("evicts when any policy selecting the namespace says Evict", () => {
    expect(revocationMode("ray", { team: "ml" }, [policy("a", "Report"), policy("b", "Evict")], "Report")).toBe("Evict");
  });

  it("reports when the selecting policies say Report, whatever the operator's default", () => {
    expect(revocationMode("ray", { team: "ml" }, [policy("a", "Report")], "Evict")).toBe("Report");
  });

  it("falls back to the operator's default where no policy selects the namespace or none says", () => {
    expect(revocationMode("ray", { team: "ml" }, [policy("a", "Evict", "web")], "Report")).toBe("Report");
    expect(revocationMode("ray", { team: "ml" }, [policy("a")], "Evict")).toBe("Evict");
  });
});
