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
import type { RecentDecisions } from "./recent-decisions.js";
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
  | { readonly statusCode: 200; readonly review: AdmissionReviewResponse; readonly decision: AdmissionDecision }
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
  // A decision that read a Ray owner depends on more than the review's body: never reused.
  const key = rayWorkload === undefined ? deps.recentDecisions?.keyOf(body, request.uid) : undefined;
  let decided = key === undefined ? undefined : deps.recentDecisions?.get(key, grants);
  if (!decided) {
    const result = mutatePod({ pod: request.pod, namespace: request.namespace, grants, settings: deps.settings, ...(rayWorkload ? { rayWorkload } : {}) });
    decided = { result, encodedPatch: result.patch.length > 0 ? Buffer.from(JSON.stringify(result.patch)).toString("base64") : undefined };
    if (key !== undefined) deps.recentDecisions?.set(key, grants, decided);
  }
  const { result } = decided;
  const review = result.refusal === undefined ? allowed(request, result, decided.encodedPatch) : refused(request, result.refusal);
  return { statusCode: 200, review, decision: decisionOf(request, result) };
}

/** Not admitted: the API server shows `message` to whoever created the pod (a ReplicaSet records it in an Event). */
function refused(request: AdmissionRequest, message: string): AdmissionReviewResponse {
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: ADMISSION_KIND,
    response: { uid: request.uid, allowed: false, status: { code: 403, reason: "Forbidden", message } },
  };
}

function allowed(request: AdmissionRequest, result: MutationResult, encodedPatch: string | undefined): AdmissionReviewResponse {
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: ADMISSION_KIND,
    response: {
      uid: request.uid,
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

function decisionOf(request: AdmissionRequest, result: MutationResult): AdmissionDecision {
  return {
    ...identify(request),
    result: resultOf(result),
    outcome: result.outcome,
    patchOperations: result.patch.length,
    warnings: result.warnings.length,
  };
}

function identify(request: AdmissionRequest): Pick<AdmissionDecision, "uid" | "namespace" | "pod" | "dryRun"> {
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
