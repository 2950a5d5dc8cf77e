// The admission handler finding a Ray pod's workload for grants that name
// Ray workloads: from the cache, else from one direct read under a deadline;
// when neither answers, the pod is refused with a retryable error instead of
// being admitted without the credentials a grant names it for.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Grant, GrantSpec } from "../../src/shared/grant.js";
import type { OwnerRecord, RayPodOwner } from "../../src/shared/ray-workload.js";
import { reviewPodAdmission, type AdmissionReply } from "../../src/webhook/admission-handler.js";
import type { RayOwnerSource } from "../../src/webhook/ray-resolution.js";
import { settings, StaticGrantCache } from "./support/fixtures.js";

const body = readFileSync(join(import.meta.dirname, "../../webhook/samples/kuberay-worker-create.json"), "utf8");
const OWNER_UID = JSON.parse(body).request.object.metadata.ownerReferences[0].uid as string;
const rayCluster: OwnerRecord = { name: "raycluster-etl", uid: OWNER_UID, labels: {}, ownerReferences: [] };

function grant(name: string, spec: Partial<GrantSpec>): Grant {
  return {
    metadata: { name, namespace: "ray-jobs" },
    spec: { aws: { roleArn: "arn:aws:iam::123456789012:role/etl" }, datadog: { orgUuid: "0f8fad5b-d9cb-469f-a165-70867728950e" }, ...spec },
  };
}

/** Owners held in a map as the cache, and a read that answers as it is told. */
class Owners implements RayOwnerSource {
  readonly reads: RayPodOwner[] = [];
  constructor(
    private readonly inCache: OwnerRecord | undefined,
    private readonly answer: (signal: AbortSignal) => Promise<OwnerRecord | undefined> = async () => rayCluster,
  ) {}
  cached(): OwnerRecord | undefined {
    return this.inCache;
  }
  read(owner: RayPodOwner, _namespace: string, signal: AbortSignal): Promise<OwnerRecord | undefined> {
    this.reads.push(owner);
    return this.answer(signal);
  }
}

const neverAnswers = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true }));

function review(grants: Grant[], owners: Owners): Promise<AdmissionReply> {
  return reviewPodAdmission(body, { grants: new StaticGrantCache(grants), settings, rayOwners: owners, rayOwnerReadMs: 50 });
}

function resultOf(reply: AdmissionReply) {
  if (reply.statusCode !== 200) throw new Error(reply.problem.message);
  return reply;
}

const etl = grant("etl", { ray: { rayClusters: ["raycluster-etl"] } });

describe("reviewPodAdmission with grants that name Ray workloads", () => {
  it("injects a pod of a named RayCluster found in the cache, without reading the API server", async () => {
    const owners = new Owners(rayCluster);
    const reply = resultOf(await review([etl], owners));
    expect(reply.decision).toMatchObject({ result: "injected", outcome: { grant: "etl" } });
    expect(owners.reads).toEqual([]);
  });

  it("reads the owner once when the pod arrives before its RayCluster reached the cache, and injects it", async () => {
    const owners = new Owners(undefined);
    const reply = resultOf(await review([etl], owners));
    expect(reply.decision.result).toBe("injected");
    expect(owners.reads).toEqual([{ kind: "RayCluster", name: "raycluster-etl", uid: OWNER_UID }]);
  });

  it("reads the owner when the cache holds an older RayCluster of the same name", async () => {
    const owners = new Owners({ ...rayCluster, uid: "an-older-incarnation" });
    expect(resultOf(await review([etl], owners)).decision.result).toBe("injected");
    expect(owners.reads).toHaveLength(1);
  });

  it("refuses the pod with a retryable 503 when its owner is neither cached nor readable in time", async () => {
    const reply = resultOf(await review([etl], new Owners(undefined, neverAnswers)));
    expect(reply.review.response).toMatchObject({ allowed: false, status: { code: 503, details: { retryAfterSeconds: 1 } } });
    expect(reply.review.response.status?.message).toMatch(/RayCluster ray-jobs\/raycluster-etl .*no answer within 50 ms/);
    expect(reply.decision.result).toBe("not_ready");
  });

  it("admits the pod uninjected when its owner does not exist", async () => {
    const reply = resultOf(await review([etl], new Owners(undefined, async () => undefined)));
    expect(reply.review.response.allowed).toBe(true);
    expect(reply.decision).toMatchObject({ result: "skipped", outcome: { reason: "NoMatchingGrant" } });
  });

  it("reads no owner when no grant of the namespace names Ray workloads", async () => {
    const owners = new Owners(undefined, neverAnswers);
    const reply = resultOf(await review([grant("labels", { podSelector: { matchLabels: { "ray.io/cluster": "raycluster-etl" } } })], owners));
    expect(reply.decision.result).toBe("injected");
    expect(owners.reads).toEqual([]);
  });
});
