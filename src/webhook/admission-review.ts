// AdmissionReview v1 (admission.k8s.io/v1) as the API server sends it, and
// the checks that turn anything else into a 400 with a clear message. Pure:
// bytes in, a typed request or a typed problem out.
import type { Pod } from "./pod.js";

export const ADMISSION_API_VERSION = "admission.k8s.io/v1";
export const ADMISSION_KIND = "AdmissionReview";

export interface AdmissionRequest {
  readonly uid: string;
  readonly namespace: string;
  readonly name?: string;
  readonly operation: "CREATE";
  readonly dryRun: boolean;
  readonly pod: Pod;
}

export type RequestProblemReason =
  | "BodyTooLarge"
  | "NotJson"
  | "NotAdmissionReview"
  | "MissingUid"
  | "NotPod"
  | "NotCreate"
  | "MissingNamespace"
  | "MalformedPod";

export interface RequestProblem {
  readonly reason: RequestProblemReason;
  readonly message: string;
}

export type DecodedRequest =
  | { readonly ok: true; readonly request: AdmissionRequest }
  | { readonly ok: false; readonly problem: RequestProblem };

/** Wire shape of the response (admission.k8s.io/v1 AdmissionReview with only `response` set). */
export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: typeof ADMISSION_KIND;
  readonly response: {
    readonly uid: string;
    readonly allowed: boolean;
    readonly patchType?: "JSONPatch";
    /** base64 of the JSON Patch. */
    readonly patch?: string;
    readonly warnings?: readonly string[];
    readonly status?: {
      readonly code: number;
      readonly reason?: string;
      readonly message: string;
      readonly details?: { readonly retryAfterSeconds: number };
    };
  };
}

export function decodeAdmissionRequest(body: string): DecodedRequest {
  let review: unknown;
  try {
    review = JSON.parse(body);
  } catch (error) {
    return problem("NotJson", `the body is not JSON: ${(error as Error).message}`);
  }
  if (!isRecord(review) || review.apiVersion !== ADMISSION_API_VERSION || review.kind !== ADMISSION_KIND || !isRecord(review.request)) {
    return problem("NotAdmissionReview", `expected an ${ADMISSION_API_VERSION} ${ADMISSION_KIND} with a request`);
  }
  const request = review.request;
  if (typeof request.uid !== "string" || request.uid === "") return problem("MissingUid", "request.uid is missing");
  const kind = isRecord(request.kind) ? request.kind : {};
  const resource = isRecord(request.resource) ? request.resource : {};
  if (kind.group !== "" || kind.version !== "v1" || kind.kind !== "Pod" || resource.resource !== "pods" || request.subResource) {
    const got = `${String(kind.group ?? "?")}/${String(kind.version ?? "?")} ${String(kind.kind ?? "?")}`;
    return problem("NotPod", `this webhook mutates core/v1 pods only, got ${got}${request.subResource ? ` (subresource ${String(request.subResource)})` : ""}`);
  }
  if (request.operation !== "CREATE") {
    return problem("NotCreate", `this webhook handles CREATE only, got ${String(request.operation)}`);
  }
  if (typeof request.namespace !== "string" || request.namespace === "") {
    return problem("MissingNamespace", "request.namespace is missing");
  }
  const pod = request.object;
  const shape = podShapeProblem(pod);
  if (shape) return problem("MalformedPod", `request.object is not a valid pod: ${shape}`);
  return {
    ok: true,
    request: {
      uid: request.uid,
      namespace: request.namespace,
      ...(typeof request.name === "string" && request.name !== "" ? { name: request.name } : {}),
      operation: "CREATE",
      dryRun: request.dryRun === true,
      pod: pod as Pod,
    },
  };
}

export function problem(reason: RequestProblemReason, message: string): { ok: false; problem: RequestProblem } {
  return { ok: false, problem: { reason, message } };
}

/** The shape the mutation relies on; the API server has validated the rest. */
function podShapeProblem(pod: unknown): string | undefined {
  if (!isRecord(pod) || !isRecord(pod.spec)) return "no spec";
  if (pod.metadata !== undefined && !isRecord(pod.metadata)) return "metadata is not an object";
  const metadata = isRecord(pod.metadata) ? pod.metadata : {};
  for (const field of ["labels", "annotations"] as const) {
    const map = metadata[field];
    if (map !== undefined && (!isRecord(map) || Object.values(map).some((v) => typeof v !== "string"))) {
      return `metadata.${field} must map strings to strings`;
    }
  }
  if (!Array.isArray(pod.spec.containers) || pod.spec.containers.length === 0) return "spec.containers is empty";
  for (const field of ["containers", "initContainers", "volumes"] as const) {
    const list = pod.spec[field];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.some((item) => !isRecord(item) || typeof item.name !== "string")) {
      return `spec.${field} must be a list of named objects`;
    }
  }
  for (const container of [...(pod.spec.containers as unknown[]), ...((pod.spec.initContainers ?? []) as unknown[])]) {
    const { env, volumeMounts, ports } = container as Record<string, unknown>;
    for (const list of [env, volumeMounts, ports]) {
      if (list !== undefined && (!Array.isArray(list) || list.some((item) => !isRecord(item)))) {
        return `container ${String((container as Record<string, unknown>).name)} has a malformed env, volumeMounts or ports list`;
      }
    }
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
