// Which grant, if any, a pod gets. The webhook injects from this answer and
// the controller counts missed and conflicting pods from the very same one,
// so the two can never disagree.
import { grantProblems } from "./grant-problems.js";
import type { Grant } from "./grant.js";
import { GRANT_LABEL, INJECT_ANNOTATION } from "./names.js";
import { NO_RAY_WORKLOAD, rayNamesWorkload, type RayWorkload } from "./ray-workload.js";
import { selectorMatches } from "./selector.js";

/** The parts of a pod the choice reads; a full V1Pod and the controller's slim record both fit. */
export interface PodIdentity {
  readonly metadata?: {
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: { readonly serviceAccountName?: string };
}

export type GrantChoice =
  | { readonly kind: "chosen"; readonly grant: Grant; readonly picked: boolean }
  | { readonly kind: "optedOut" }
  | { readonly kind: "noMatch" }
  | { readonly kind: "conflict"; readonly grants: readonly Grant[] }
  | { readonly kind: "pickNotMatching"; readonly pick: string; readonly matching: readonly Grant[] };

export function podServiceAccount(pod: PodIdentity): string {
  return pod.spec?.serviceAccountName || "default";
}

/** The grant name the pod asks for, from the ddcred.io/grant label (or annotation). */
export function pickedGrantName(pod: PodIdentity): string | undefined {
  return pod.metadata?.labels?.[GRANT_LABEL] ?? pod.metadata?.annotations?.[GRANT_LABEL];
}

/**
 * Whether the grant's Ray workloads, selector and service-account filter
 * admit the pod. A grant naming Ray workloads selects only their pods (its
 * podSelector, when set, narrows those further).
 */
export function grantSelectsPod(grant: Grant, pod: PodIdentity, rayWorkload: RayWorkload = NO_RAY_WORKLOAD): boolean {
  const accounts = grant.spec.serviceAccountNames ?? [];
  if (accounts.length > 0 && !accounts.includes(podServiceAccount(pod))) return false;
  if (grant.spec.ray !== undefined && !rayNamesWorkload(grant.spec.ray, rayWorkload)) return false;
  return selectorMatches(grant.spec.podSelector ?? {}, pod.metadata?.labels);
}

/** Whether the grant names Ray workloads, so choosing for a pod needs the pod's Ray workload. */
export function grantNamesRayWorkloads(grant: Grant): boolean {
  return grant.spec.ray !== undefined;
}

/** A grant can inject only while it exists, is valid, and is not being deleted. */
export function grantIsUsable(grant: Grant): boolean {
  return !grant.metadata.deletionTimestamp && grantProblems(grant).length === 0;
}

/**
 * Decides the grant for a pod among the grants of its namespace.
 * Precedence: opt-out annotation, then an explicit pick (which must still be
 * a grant that selects the pod: a pod author cannot reach a grant that does
 * not select it), then the single matching grant; several matches and no pick
 * is a conflict. `rayWorkload` is the pod's KubeRay workload, resolved by the
 * caller (grants naming Ray workloads select nothing without it).
 */
export function chooseGrant(pod: PodIdentity, grants: readonly Grant[], rayWorkload: RayWorkload = NO_RAY_WORKLOAD): GrantChoice {
  if (pod.metadata?.annotations?.[INJECT_ANNOTATION] === "false") return { kind: "optedOut" };
  const matching = grants.filter((grant) => grantIsUsable(grant) && grantSelectsPod(grant, pod, rayWorkload));
  const pick = pickedGrantName(pod);
  if (pick !== undefined) {
    const picked = matching.find((grant) => grant.metadata.name === pick);
    return picked ? { kind: "chosen", grant: picked, picked: true } : { kind: "pickNotMatching", pick, matching };
  }
  if (matching.length === 0) return { kind: "noMatch" };
  if (matching.length === 1) return { kind: "chosen", grant: matching[0] as Grant, picked: false };
  return { kind: "conflict", grants: matching };
}
