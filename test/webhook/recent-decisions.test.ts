// Reviews identical but for their uid (replicas of one template) reuse one
// decision, answered with their own uid; anything else is decided afresh.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { Grant } from "../../src/shared/grant.js";
import { reviewPodAdmission, type AdmissionReply } from "../../src/webhook/admission-handler.js";
import { RecentDecisions } from "../../src/webhook/recent-decisions.js";
import { settings, StaticGrantCache } from "./support/fixtures.js";

const root = join(import.meta.dirname, "../..");
const grants = parseAllDocuments(readFileSync(join(root, "test/golden/grants.yaml"), "utf8")).map((d) => d.toJS() as Grant);
/** As the API server sends it: compact JSON, the request's uid first. */
const sample = JSON.stringify(JSON.parse(readFileSync(join(root, "webhook/samples/kuberay-worker-create.json"), "utf8")));
const withUid = (uid: string, body = sample) => body.replace("705ab4f5-6393-11e8-b7cc-42010a800002", uid);

function review(body: string, cache: StaticGrantCache, recentDecisions: RecentDecisions): Promise<AdmissionReply> {
  return reviewPodAdmission(body, { grants: cache, settings, recentDecisions });
}

function answered(reply: AdmissionReply) {
  if (reply.statusCode !== 200) throw new Error(reply.problem.message);
  return reply;
}

describe("recent decisions", () => {
  it("answers a review identical but for its uid with the same patch and its own uid, without deciding again", async () => {
    const cache = new StaticGrantCache(grants);
    const recent = new RecentDecisions();
    const first = answered(await review(withUid("11111111-aaaa-4bbb-8ccc-000000000001"), cache, recent));
    const second = answered(await review(withUid("11111111-aaaa-4bbb-8ccc-000000000002"), cache, recent));
    expect(second.review.response.uid).toBe("11111111-aaaa-4bbb-8ccc-000000000002");
    expect(second.review.response.patch).toBe(first.review.response.patch);
    expect(second.decision.outcome).toBe(first.decision.outcome);
  });

  it("decides afresh once a grant of the namespace is another object (changed in the cache)", async () => {
    const recent = new RecentDecisions();
    const before = answered(await review(withUid("11111111-aaaa-4bbb-8ccc-000000000003"), new StaticGrantCache(grants), recent));
    const changed = grants.map((g) => (g.metadata.name === "ray-etl" ? { ...g, metadata: { ...g.metadata, generation: 4 } } : g));
    const after = answered(await review(withUid("11111111-aaaa-4bbb-8ccc-000000000004"), new StaticGrantCache(changed), recent));
    expect(after.decision.outcome).not.toBe(before.decision.outcome);
    expect(after.decision.outcome?.message).toContain("generation 4");
  });

  it("never shares a decision between reviews that differ anywhere but the request's uid", async () => {
    const cache = new StaticGrantCache(grants);
    const recent = new RecentDecisions();
    answered(await review(withUid("11111111-aaaa-4bbb-8ccc-000000000005"), cache, recent));
    const optedOut = withUid("11111111-aaaa-4bbb-8ccc-000000000006", sample.replace('"annotations":{', '"annotations":{"ddcred.io/inject":"false",'));
    expect(optedOut).not.toBe(sample);
    expect(answered(await review(optedOut, cache, recent)).decision.outcome?.reason).toBe("OptedOut");
  });

  it("keys only bodies whose first uid opens the request and is the decoded one", () => {
    const recent = new RecentDecisions();
    const uid = "705ab4f5-6393-11e8-b7cc-42010a800002";
    expect(recent.keyOf(sample, uid)).toBe(sample.replace(`"uid":"${uid}"`, ""));
    expect(recent.keyOf(sample, "another-uid")).toBeUndefined();
    expect(recent.keyOf(`{"uid":"${uid}",${sample.slice(1)}`, uid)).toBeUndefined();
    expect(new RecentDecisions(64, 100).keyOf(sample, uid)).toBeUndefined();
  });
});
