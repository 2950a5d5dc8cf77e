// The admission handler over real AdmissionReview JSON (webhook/samples):
// decode → decide → patch, and the answers for what it must refuse.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { Grant } from "../../src/shared/grant.js";
import { reviewPodAdmission, type AdmissionReply } from "../../src/webhook/admission-handler.js";
import type { GrantCache } from "../../src/webhook/grant-cache.js";
import type { JsonPatchOperation } from "../../src/webhook/json-patch.js";
import type { Pod } from "../../src/webhook/pod.js";
import { applyPatch, settings, StaticGrantCache } from "./support/fixtures.js";

const root = join(import.meta.dirname, "../..");
const sample = (name: string): string => readFileSync(join(root, "webhook/samples", `${name}.json`), "utf8");
const grants = parseAllDocuments(readFileSync(join(root, "test/golden/grants.yaml"), "utf8")).map((d) => d.toJS() as Grant);
const synced = new StaticGrantCache(grants);

function review(body: string, cache: GrantCache = synced, timeoutMs?: number): Promise<AdmissionReply> {
  return reviewPodAdmission(body, { grants: cache, settings, cacheSyncWaitMs: 50 }, timeoutMs);
}

function allowedReview(reply: AdmissionReply) {
  if (reply.statusCode !== 200) throw new Error(`expected 200, got ${reply.statusCode}: ${reply.problem.message}`);
  return reply;
}

function decodedPatch(reply: AdmissionReply): JsonPatchOperation[] {
  const { patch } = allowedReview(reply).review.response;
  return patch === undefined ? [] : (JSON.parse(Buffer.from(patch, "base64").toString("utf8")) as JsonPatchOperation[]);
}

describe("reviewPodAdmission", () => {
  it("answers a KubeRay worker's CREATE with its uid, allowed, and a base64 JSON patch that injects the agent", async () => {
    const reply = allowedReview(await review(sample("kuberay-worker-create")));
    expect(reply.review).toMatchObject({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: "705ab4f5-6393-11e8-b7cc-42010a800002", allowed: true, patchType: "JSONPatch" },
    });
    const pod = JSON.parse(sample("kuberay-worker-create")).request.object as Pod;
    expect(applyPatch(pod, decodedPatch(reply)).spec?.initContainers?.map((c) => c.name)).toEqual(["ddcred-agent", "wait-gcs-ready"]);
    expect(reply.decision).toMatchObject({ result: "injected", namespace: "ray-jobs", pod: "raycluster-etl-cpu-group-worker-*", outcome: { grant: "ray-etl" } });
  });

  it("admits a pod that two grants select with no patch and a warning naming both", async () => {
    const reply = allowedReview(await review(sample("web-conflict-create")));
    expect(reply.review.response).not.toHaveProperty("patch");
    expect(reply.review.response.warnings).toEqual([expect.stringMatching(/web-frontend, web-canary/)]);
    expect(reply.decision.result).toBe("skipped");
  });

  it("reads the namespace from the request when the pod does not carry one", async () => {
    const body = JSON.parse(sample("rayjob-submitter-create"));
    delete body.request.object.metadata.namespace;
    const reply = allowedReview(await review(JSON.stringify(body)));
    expect(reply.decision.result).toBe("injected");
  });

  it.each([
    ["not JSON", "{ this is not json", "NotJson"],
    ["an AdmissionReview v1beta1", sample("pod-create-v1beta1"), "NotAdmissionReview"],
    ["a Service", sample("service-create"), "NotPod"],
    ["an UPDATE", sample("pod-update"), "NotCreate"],
    ["a request without uid", JSON.stringify({ ...JSON.parse(sample("kuberay-worker-create")), request: { ...JSON.parse(sample("kuberay-worker-create")).request, uid: "" } }), "MissingUid"],
    ["a pod without containers", JSON.stringify({ ...JSON.parse(sample("kuberay-worker-create")), request: { ...JSON.parse(sample("kuberay-worker-create")).request, object: { spec: {} } } }), "MalformedPod"],
    ["a JSON array", "[]", "NotAdmissionReview"],
  ])("answers 400 with a clear reason for %s", async (_what, body, reason) => {
    const reply = await review(body);
    expect(reply).toMatchObject({ statusCode: 400, problem: { reason } });
  });

  it("refuses the pod with a retryable 503 while the grant cache has not synced", async () => {
    const reply = allowedReview(await review(sample("kuberay-worker-create"), new StaticGrantCache(grants, { synced: false })));
    expect(reply.review.response).toMatchObject({
      uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
      allowed: false,
      status: { code: 503, reason: "ServiceUnavailable", details: { retryAfterSeconds: 1 } },
    });
    expect(reply.decision.result).toBe("not_ready");
  });

  it("decides normally when the cache syncs while the request waits", async () => {
    let synced = false;
    const cache: GrantCache = {
      grantsInNamespace: (namespace) => grants.filter((g) => g.metadata.namespace === namespace),
      hasSynced: () => synced,
      waitForSync: async () => {
        synced = true;
        return true;
      },
    };
    expect(allowedReview(await review(sample("kuberay-worker-create"), cache)).decision.result).toBe("injected");
  });

  it("waits for the cache no longer than half the API server's timeout for the call", async () => {
    const waits: number[] = [];
    const cache: GrantCache = { grantsInNamespace: () => [], hasSynced: () => false, waitForSync: async (ms) => (waits.push(ms), false) };
    await reviewPodAdmission(sample("kuberay-worker-create"), { grants: cache, settings, cacheSyncWaitMs: 5_000 }, 2_000);
    expect(waits).toEqual([1_000]);
  });
});
