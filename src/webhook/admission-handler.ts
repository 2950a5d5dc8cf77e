// The admission handler: decode → decide → patch. Transport-free: the HTTPS
// server hands it the body and writes back what it returns.
import {
  ADMISSION_API_VERSION,
  ADMISSION_KIND,
  decodeAdmissionRequest,
  type AdmissionRequest,
  type AdmissionReviewResponse,
  type RequestProblem,
} from "./admission-review.js";
import type { GrantCache } from "./grant-cache.js";
import { mutatePod, type MutationResult } from "./mutate-pod.js";
import type { Outcome } from "./outcome.js";
import { podDisplayName } from "./pod.js";
import type { RecentDecisions, RememberedDecision } from "./recent-decisions.js";
import { DEFAULT_RAY_OWNER_READ_MS, needsRayResolution, resolveRayWorkload, type RayOwnerSource } from "./ray-resolution.js";
import type { InjectionSettings } from "./settings.js";

export interface AdmissionHandlerDependencies {
  readonly grants: GrantCache;
  readonly settings: InjectionSettings;
  /** Decisions to reuse for reviews identical but for their uid (the server keeps one); none by default. */
  readonly recentDecisions?: RecentDecisions;
  /** Longest a request waits for the grant cache's first sync (further capped by the request's own timeout). */
  readonly cacheSyncWaitMs?: number;
  /** Owners of Ray pods, for grants that name Ray workloads; without it such grants select no pod. */
  readonly rayOwners?: RayOwnerSource;
  /** Longest the direct read of a Ray pod's owner may take (further capped by the request's own timeout). */
  readonly rayOwnerReadMs?: number;
}

/** The `result` label of ddcred_admission_requests_total. */
export const ADMISSION_RESULTS = ["injected", "converged", "unchanged", "skipped", "refused", "not_ready", "bad_request", "error"] as const;
export type AdmissionResult = (typeof ADMISSION_RESULTS)[number];

/** What was decided, for the one log line and the metrics; never anything secret. */
export interface AdmissionDecision {
  readonly result: AdmissionResult;
  readonly uid: string;
  readonly namespace: string;
  readonly pod: string;
  readonly dryRun: boolean;
  readonly outcome?: Outcome;
  readonly patchOperations: number;
  readonly warnings: number;
}

export type AdmissionReply =
  | {
      readonly statusCode: 200;
      readonly review: AdmissionReviewResponse;
      readonly decision: AdmissionDecision;
      /** JSON.stringify(review) and its length in UTF-8, when at hand already (a kept decision carries its answer serialized). */
      readonly serialized?: { readonly json: string; readonly byteLength: number };
    }
  | { readonly statusCode: 400; readonly problem: RequestProblem };

export const DEFAULT_CACHE_SYNC_WAIT_MS = 2_000;

/**
 * @param requestTimeoutMs the API server's own deadline for this call (the
 *   `timeout` query parameter it sends), so a wait never outlives it
 */
export async function reviewPodAdmission(
  body: string,
  deps: AdmissionHandlerDependencies,
  requestTimeoutMs?: number,
): Promise<AdmissionReply> {
  // A replica of a template decided a moment ago, answered without parsing its body (see recent-decisions.ts).
  // A decision that read a Ray owner is never kept; were the namespace's grants to name Ray workloads now, they would be other objects.
  const recalled = deps.recentDecisions && deps.grants.hasSynced() ? deps.recentDecisions.recall(body, deps.grants, deps.settings) : undefined;
  if (recalled && !(deps.rayOwners && needsRayResolution(recalled.grants))) {
    return answerKept({ uid: recalled.uid, ...recalled.decision.request }, recalled.decision);
  }

  const decoded = decodeAdmissionRequest(body);
  if (!decoded.ok) return { statusCode: 400, problem: decoded.problem };
  const request = decoded.request;

  if (!deps.grants.hasSynced()) {
    const waitMs = Math.min(deps.cacheSyncWaitMs ?? DEFAULT_CACHE_SYNC_WAIT_MS, (requestTimeoutMs ?? Infinity) / 2);
    if (!(await deps.grants.waitForSync(Math.max(0, waitMs)))) return notReady(request);
  }
  const grants = deps.grants.grantsInNamespace(request.namespace);
  let rayWorkload;
  if (deps.rayOwners && needsRayResolution(grants)) {
    const deadlineMs = Math.min(deps.rayOwnerReadMs ?? DEFAULT_RAY_OWNER_READ_MS, (requestTimeoutMs ?? Infinity) / 2);
    const resolution = await resolveRayWorkload(request.pod, request.namespace, deps.rayOwners, deadlineMs);
    if (resolution.kind === "unknown") return retryLater(request, resolution.message);
    rayWorkload = resolution.workload;
  }
  // A decision that read a Ray owner depends on more than the review's body: never kept.
  const recent = rayWorkload === undefined ? deps.recentDecisions : undefined;
  const kept = recent?.reuse(body, request.uid, grants, deps.settings);
  if (kept) return answerKept(identify(request), kept);

  const result = mutatePod({ pod: request.pod, namespace: request.namespace, grants, settings: deps.settings, ...(rayWorkload ? { rayWorkload } : {}) });
  const encodedPatch = result.patch.length > 0 ? Buffer.from(JSON.stringify(result.patch)).toString("base64") : undefined;
  const review = answer(request.uid, result, encodedPatch);
  const decision = decisionOf(identify(request), result);
  const serialized = serializeAnswer(review);
  const head = answerHead(request.uid);
  if (recent && serialized.json.startsWith(head)) {
    const answerTail = serialized.json.slice(head.length);
    const remembered = { namespace: decision.namespace, pod: decision.pod, dryRun: decision.dryRun };
    recent.remember(body, request.uid, grants, deps.settings, { result, encodedPatch, request: remembered, answerTail, answerTailBytes: Buffer.byteLength(answerTail) });
  }
  return { statusCode: 200, review, decision, serialized };
}

const EMPTY_PATCH = '"patch":""';

/**
 * JSON.stringify(review) and its length in UTF-8, without having
 * JSON.stringify scan the patch, some kilobytes of base64, which needs no
 * escaping: the answer is serialized with an empty patch, and the patch put
 * between its quotes. Only the key "patch" can be followed by :"" (a quote
 * inside a string is escaped), and the answer has one.
 */
function serializeAnswer(review: AdmissionReviewResponse): { json: string; byteLength: number } {
  const { patch } = review.response;
  const json = JSON.stringify(patch === undefined ? review : { ...review, response: { ...review.response, patch: "" } });
  const at = patch === undefined ? -1 : json.indexOf(EMPTY_PATCH);
  if (at < 0) return { json, byteLength: Buffer.byteLength(json) };
  const cut = at + EMPTY_PATCH.length - 1;
  return { json: json.slice(0, cut) + patch + json.slice(cut), byteLength: Buffer.byteLength(json) + (patch as string).length };
}

/**
 * The answer's JSON up to and with its uid: JSON.stringify writes keys in
 * the order the answer is built in, and the uid is the first of `response`;
 * nothing after it depends on the uid.
 */
function answerHead(uid: string): string {
  return ANSWER_HEAD + JSON.stringify(uid);
}

const ANSWER_HEAD = `{"apiVersion":${JSON.stringify(ADMISSION_API_VERSION)},"kind":${JSON.stringify(ADMISSION_KIND)},"response":{"uid":`;

/** A kept decision, for the request it is reused for: the answer deciding afresh would give, and its JSON. */
function answerKept(request: RequestIdentity, kept: RememberedDecision): AdmissionReply {
  const { result, encodedPatch, answerTail, answerTailBytes } = kept;
  // The head is ASCII: the API version, the kind and the uid (letters, digits and dashes: see recent-decisions.ts).
  const head = answerHead(request.uid);
  return {
    statusCode: 200,
    review: answer(request.uid, result, encodedPatch),
    decision: decisionOf(request, result),
    serialized: { json: head + answerTail, byteLength: head.length + answerTailBytes },
  };
}

function answer(uid: string, result: MutationResult, encodedPatch: string | undefined): AdmissionReviewResponse {
  return result.refusal === undefined ? allowed(uid, result, encodedPatch) : refused(uid, result.refusal);
}

/** Not admitted: the API server shows `message` to whoever created the pod (a ReplicaSet records it in an Event). */
function refused(uid: string, message: string): AdmissionReviewResponse {
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: ADMISSION_KIND,
    response: { uid, allowed: false, status: { code: 403, reason: "Forbidden", message } },
  };
}

function allowed(uid: string, result: MutationResult, encodedPatch: string | undefined): AdmissionReviewResponse {
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: ADMISSION_KIND,
    response: {
      uid,
      allowed: true,
      ...(encodedPatch !== undefined ? { patchType: "JSONPatch", patch: encodedPatch } : {}),
      ...(result.warnings.length > 0 ? { warnings: result.warnings } : {}),
    },
  };
}

/**
 * Before the grant cache has synced, "no grant matches" cannot be told from
 * "grants not loaded yet", and admitting the pod uninjected would hand it no
 * credentials for its whole life. So the pod is refused with a retryable
 * 503: ReplicaSets, Jobs and KubeRay retry pod creation, the API server
 * passes retryAfterSeconds on as a Retry-After header, and a replica only
 * reports ready (gets traffic) once synced, so this is a start-up corner.
 */
function notReady(request: AdmissionRequest): AdmissionReply {
  return retryLater(request, "ddcred webhook is starting and has not loaded the DatadogCredentialGrants yet; retry in a few seconds");
}

/** Refused with a retryable 503: the pod's creator (ReplicaSet, Job, KubeRay) tries again. */
function retryLater(request: AdmissionRequest, message: string): AdmissionReply {
  const review: AdmissionReviewResponse = {
    apiVersion: ADMISSION_API_VERSION,
    kind: ADMISSION_KIND,
    response: {
      uid: request.uid,
      allowed: false,
      status: {
        code: 503,
        reason: "ServiceUnavailable",
        message,
        details: { retryAfterSeconds: 1 },
      },
    },
  };
  return {
    statusCode: 200,
    review,
    decision: { ...identify(request), result: "not_ready", patchOperations: 0, warnings: 0 },
  };
}

/** What the decision's log line says of the request. */
type RequestIdentity = Pick<AdmissionDecision, "uid" | "namespace" | "pod" | "dryRun">;

function decisionOf(request: RequestIdentity, result: MutationResult): AdmissionDecision {
  return {
    uid: request.uid,
    namespace: request.namespace,
    pod: request.pod,
    dryRun: request.dryRun,
    result: resultOf(result),
    outcome: result.outcome,
    patchOperations: result.patch.length,
    warnings: result.warnings.length,
  };
}

function identify(request: AdmissionRequest): RequestIdentity {
  return { uid: request.uid, namespace: request.namespace, pod: request.name ?? podDisplayName(request.pod), dryRun: request.dryRun };
}

function resultOf(result: MutationResult): AdmissionResult {
  switch (result.outcome.reason) {
    case "Injected":
      return "injected";
    case "Converged":
      return "converged";
    case "AlreadyInjected":
      return "unchanged";
    case "UnverifiedAgent":
      return "refused";
    default:
      return "skipped";
  }
}
