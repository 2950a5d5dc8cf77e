// Which KubeRay workload a pod under admission belongs to. The owner (a
// RayCluster, or a RayJob's submitter Job) comes from the operator's cache;
// when it has not reached the cache yet (KubeRay creates a RayCluster's head
// within milliseconds of the RayCluster) it is read once from the API server
// under a short deadline. Only when that read fails too is the answer
// unknown, and the pod is then refused with a retryable error rather than
// admitted without the credentials a grant names it for.
import type { Grant } from "../shared/grant.js";
import { grantNamesRayWorkloads } from "../shared/grant-choice.js";
import { NO_RAY_WORKLOAD, rayPodOwner, rayWorkloadOf, type OwnerRecord, type RayPodOwner, type RayWorkload } from "../shared/ray-workload.js";
import type { Pod } from "./pod.js";

/** Where the owners of Ray pods are found; the operator backs it with informers and direct reads. */
export interface RayOwnerSource {
  /** The owner as the cache holds it; undefined when the cache has no such object (yet). */
  cached(owner: RayPodOwner, namespace: string): OwnerRecord | undefined;
  /** One read from the API server: the owner, or undefined when it does not exist. Rejects on failure or when `signal` aborts. */
  read(owner: RayPodOwner, namespace: string, signal: AbortSignal): Promise<OwnerRecord | undefined>;
}

export type RayResolution =
  | { readonly kind: "resolved"; readonly workload: RayWorkload; readonly source: "none" | "cache" | "read" }
  | { readonly kind: "unknown"; readonly owner: RayPodOwner; readonly message: string };

export const DEFAULT_RAY_OWNER_READ_MS = 1_500;

/** Whether any grant of the namespace names Ray workloads: only then is a pod's owner looked up. */
export function needsRayResolution(grants: readonly Grant[]): boolean {
  return grants.some(grantNamesRayWorkloads);
}

export async function resolveRayWorkload(
  pod: Pod,
  namespace: string,
  source: RayOwnerSource,
  deadlineMs: number,
): Promise<RayResolution> {
  const owner = rayPodOwner(pod);
  if (!owner) return { kind: "resolved", workload: NO_RAY_WORKLOAD, source: "none" };
  const cached = source.cached(owner, namespace);
  // A cached object of that name but another uid is an older incarnation: read.
  if (cached && cached.uid === owner.uid) return { kind: "resolved", workload: rayWorkloadOf(owner, cached), source: "cache" };
  const signal = AbortSignal.timeout(Math.max(1, deadlineMs));
  try {
    const record = await source.read(owner, namespace, signal);
    return { kind: "resolved", workload: rayWorkloadOf(owner, record), source: "read" };
  } catch (error) {
    const why = signal.aborted ? `no answer within ${deadlineMs} ms` : error instanceof Error ? error.message : String(error);
    return {
      kind: "unknown",
      owner,
      message: `ddcred could not read the pod's owner ${owner.kind} ${namespace}/${owner.name} (${why}), so it cannot tell whether a grant names its Ray workload; retry in a few seconds`,
    };
  }
}
