// Reviews identical but for their uid (replicas of one template) reuse one
// decision, answered with their own uid; anything else is decided afresh.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseAllDocuments } from "yaml";
import type { Grant } from "../../src/shared/grant.js";
import { reviewPodAdmission, type AdmissionReply } from "../../src/webhook/admission-handler.js";
import { RecentDecisions } from "../../src/webhook/recent-decisions.js";
import { admissionReview } from "./support/hostile-pods.js";
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

describe("recent decisions answered without parsing the body", () => {
  const parse = JSON.parse;
  let parsed: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    parsed = [];
  });
  /** Counts the reviews parsed from here on. */
  function countParses(): void {
    vi.spyOn(JSON, "parse").mockImplementation((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
      parsed.push(text);
      return parse(text, reviver);
    });
  }
  const uid = (n: number) => `11111111-aaaa-4bbb-8ccc-${String(n).padStart(12, "0")}`;
  function serializedAsStringified(reply: AdmissionReply): void {
    const { review: answer, serialized } = answered(reply);
    expect(serialized?.json).toBe(JSON.stringify(answer));
    expect(serialized?.byteLength).toBe(Buffer.byteLength(JSON.stringify(answer)));
  }

  it("parses the first two replicas, then answers the others unparsed, each with its own uid and the same JSON as deciding afresh", async () => {
    const cache = new StaticGrantCache(grants);
    const recent = new RecentDecisions();
    countParses();
    const first = answered(await review(withUid(uid(1)), cache, recent));
    const second = answered(await review(withUid(uid(2)), cache, recent));
    expect(parsed).toHaveLength(2);
    const third = answered(await review(withUid(uid(3)), cache, recent));
    const fourth = answered(await review(withUid(uid(4)), cache, recent));
    expect(parsed).toHaveLength(2);
    expect(third.review.response.uid).toBe(uid(3));
    expect(fourth.review.response.uid).toBe(uid(4));
    expect(fourth.review.response.patch).toBe(first.review.response.patch);
    expect(fourth.decision).toEqual({ ...first.decision, uid: uid(4) });
    for (const reply of [first, second, third, fourth]) serializedAsStringified(reply);
    // Deciding afresh gives the very same answer.
    const fresh = answered(await reviewPodAdmission(withUid(uid(4)), { grants: cache, settings }));
    expect(fourth.serialized?.json).toBe(JSON.stringify(fresh.review));
  });

  it("answers the very body it decided (a retry) unparsed", async () => {
    const cache = new StaticGrantCache(grants);
    const recent = new RecentDecisions();
    countParses();
    const first = answered(await review(withUid(uid(5)), cache, recent));
    const again = answered(await review(withUid(uid(5)), cache, recent));
    expect(parsed).toHaveLength(1);
    expect(again.serialized?.json).toBe(first.serialized?.json);
  });

  it("serializes refusals and answers with warnings as JSON.stringify does, kept or not", async () => {
    const cache = new StaticGrantCache(grants);
    const recent = new RecentDecisions();
    const conflict = JSON.stringify(JSON.parse(readFileSync(join(root, "webhook/samples/web-conflict-create.json"), "utf8")));
    const conflictUid = (JSON.parse(conflict) as { request: { uid: string } }).request.uid;
    for (const n of [1, 2, 3]) {
      const reply = answered(await review(conflict.replace(conflictUid, uid(n)), cache, recent));
      expect(reply.review.response.warnings?.length).toBeGreaterThan(0);
      serializedAsStringified(reply);
    }
    const forged = JSON.parse(sample) as { request: { object: { metadata: { annotations: Record<string, string> } } } };
    forged.request.object.metadata.annotations["ddcred.io/injected"] = "another-grant";
    for (const n of [4, 5, 6]) {
      const reply = answered(await review(withUid(uid(n), JSON.stringify(forged)), cache, recent));
      expect(reply.review.response).toMatchObject({ uid: uid(n), allowed: false, status: { code: 403 } });
      serializedAsStringified(reply);
    }
  });

  it("decides afresh with settings of another object, and with grants of another object", async () => {
    const recent = new RecentDecisions();
    const cache = new StaticGrantCache(grants);
    const first = answered(await review(withUid(uid(6)), cache, recent));
    answered(await review(withUid(uid(7)), cache, recent));
    const otherSettings = answered(await reviewPodAdmission(withUid(uid(8)), { grants: cache, settings: { ...settings }, recentDecisions: recent }));
    expect(otherSettings.decision.outcome).not.toBe(first.decision.outcome);
    const otherGrants = answered(await review(withUid(uid(9)), new StaticGrantCache(grants.map((g) => ({ ...g }))), recent));
    expect(otherGrants.decision.outcome).not.toBe(first.decision.outcome);
    expect(otherGrants.decision.outcome).toEqual(first.decision.outcome);
  });

  it("answers with the uid JSON.parse reads when an earlier or nested \"uid\" is not the request's", async () => {
    const cache = new StaticGrantCache(grants);
    const recent = new RecentDecisions();
    const request = (JSON.parse(sample) as { request: Record<string, unknown> }).request;
    const compact = (value: unknown) => JSON.stringify(value).slice(1, -1);
    // A nested "request" object first, then the real one: JSON.parse keeps the last "request".
    const nested = (decoy: string, real: string) =>
      `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","x":{"request":{"uid":"${decoy}"}},"request":{"uid":"${real}",${compact({ ...request, uid: undefined })}}}`;
    // Two uids in the request: JSON.parse keeps the last.
    const duplicate = (decoy: string, real: string) =>
      `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"${decoy}",${compact({ ...request, uid: undefined })},"uid":"${real}"}}`;
    const sent = [[20, 20], [20, 20], [21, 20], [22, 22], [23, 23], [24, 20], [25, 25]] as const;
    for (const shape of [nested, duplicate]) {
      for (const [decoy, real] of sent) {
        const reply = answered(await review(shape(uid(decoy), uid(real)), cache, recent));
        expect(reply.review.response.uid, `${shape.name} ${decoy} ${real}`).toBe(uid(real));
        serializedAsStringified(reply);
      }
    }
  });

  it("never answers unparsed a body that differs from a kept one but in a plain uid", async () => {
    const cache = new StaticGrantCache(grants);
    const recent = new RecentDecisions();
    answered(await review(withUid(uid(30)), cache, recent));
    answered(await review(withUid(uid(31)), cache, recent));
    countParses();
    const field = `"uid":"${uid(32)}"`;
    // A no-break space is \\s to a regular expression, but not JSON whitespace; a tab is no character of a JSON string.
    for (const body of [withUid(uid(32)).replace(field, `"uid"\u00a0:"${uid(32)}"`), withUid(`${uid(32)}"x`), withUid(`${uid(32)}\t`)]) {
      const reply = await review(body, cache, recent);
      expect(reply.statusCode, body.slice(0, 120)).toBe(400);
    }
    expect(parsed).toHaveLength(3);
  });

  it("keeps no body when capacity is 0, and none over its size limit", async () => {
    const cache = new StaticGrantCache(grants);
    for (const recent of [new RecentDecisions(0), new RecentDecisions(64, 100)]) {
      answered(await review(withUid(uid(40)), cache, recent));
      answered(await review(withUid(uid(41)), cache, recent));
      countParses();
      const reply = answered(await review(withUid(uid(42)), cache, recent));
      expect(reply.review.response.uid).toBe(uid(42));
      expect(parsed).toHaveLength(1);
      vi.restoreAllMocks();
      parsed = [];
    }
  });

  it("answers compact reviews from another writer as deciding afresh would", async () => {
    const cache = new StaticGrantCache(grants);
    const recent = new RecentDecisions();
    const pod = JSON.parse(sample).request.object;
    for (const n of [50, 51, 52]) {
      const body = admissionReview(pod, uid(n));
      const reply = answered(await review(body, cache, recent));
      const fresh = answered(await reviewPodAdmission(body, { grants: cache, settings }));
      expect(reply.serialized?.json).toBe(JSON.stringify(fresh.review));
    }
  });
});
