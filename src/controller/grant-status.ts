// A grant's status as a pure function of what the controller sees: the
// grant, its namespace, the other grants there and the live pods. The
// reconciler writes the result only when it differs from what is stored.
import { chooseGrant } from "../shared/grant-choice.js";
import { grantProblems } from "../shared/grant-problems.js";
import { claimMatches } from "../shared/injected-agent.js";
import type { Grant, GrantStatus, GrantStatusConditionsItem } from "../shared/grant.js";
import { podIsLive, type NamespaceRecord, type PodRecord } from "../shared/kube/caches.js";
import type { PolicyVerdict } from "../shared/policy.js";
import { namedRayWorkload, NO_RAY_WORKLOAD, type NamedRayWorkload, type RayWorkload } from "../shared/ray-workload.js";
import {
  GRANT_GENERATION_ANNOTATION,
  INJECTED_ANNOTATION,
  INJECTION_ENABLED,
  INJECTION_LABEL,
  SYSTEM_NAMESPACES,
} from "../shared/names.js";

export interface GrantWorld {
  readonly grant: Grant;
  /** Undefined when the namespace is not (yet) in the cache. */
  readonly namespace: NamespaceRecord | undefined;
  /** The grants of the namespace that policy allows, plus this one: what a pod can be injected from. */
  readonly grantsInNamespace: readonly Grant[];
  /** Whether cluster policy allows this grant. */
  readonly policy: PolicyVerdict;
  /** The fingerprint of the agent this grant gives a pod today (injectedAgent's agentFingerprint). */
  readonly expectedAgent: string;
  readonly podsInNamespace: readonly PodRecord[];
  /** A pod's KubeRay workload as the caches know it; without it, grants naming Ray workloads select no pod. */
  readonly rayWorkloadOf?: (pod: PodRecord) => RayWorkload;
  readonly operatorNamespace: string;
  readonly now: Date;
}

export type ReadyReason =
  | "Valid"
  | "InvalidSelector"
  | "NamespaceExcluded"
  | "PolicyRequired"
  | "PolicyDenied"
  | "NamespaceNotEnabled"
  | "ConflictingGrants";

export interface GrantAssessment {
  readonly status: GrantStatus;
  readonly reason: ReadyReason;
  /** Names behind the counts, for Events (a few, not all). */
  readonly missedPodNames: readonly string[];
  readonly stalePodNames: readonly string[];
  readonly conflictingGrantNames: readonly string[];
}

interface PodTally {
  injected: number;
  /** Pods running this grant's agent while policy no longer allows the grant. */
  revoked: number;
  stale: string[];
  missed: string[];
  conflicting: number;
  conflictingGrants: Set<string>;
  /** Per named Ray workload (kind/name), its pods' counts. */
  rayWorkloads: Map<string, NamedRayWorkload & { injectedPods: number; missedPods: number }>;
}

/**
 * A pod counts as injected from this grant only when the webhook would
 * converge it today: the grant is allowed and selects it, and its agent is
 * exactly the one the grant gives. Markers alone prove nothing (a pod author
 * writes them as easily as ddcred), so a pod that carries this grant's
 * markers or agent configuration but fails that check is stale: from an
 * older generation of the spec or an older operator, or made to look
 * injected. Either way, restarting it lets the webhook inject it afresh or
 * refuse it.
 */
function tallyPods(world: GrantWorld): PodTally {
  const { grant } = world;
  const name = grant.metadata.name;
  const generation = grant.metadata.generation ?? 0;
  const tally: PodTally = { injected: 0, revoked: 0, stale: [], missed: [], conflicting: 0, conflictingGrants: new Set(), rayWorkloads: new Map() };
  const countRay = (workload: RayWorkload, field: "injectedPods" | "missedPods") => {
    const named = grant.spec.ray && namedRayWorkload(grant.spec.ray, workload);
    if (!named) return;
    const key = `${named.kind}/${named.name}`;
    const entry = tally.rayWorkloads.get(key) ?? { ...named, injectedPods: 0, missedPods: 0 };
    entry[field] += 1;
    tally.rayWorkloads.set(key, entry);
  };
  for (const pod of world.podsInNamespace) {
    if (!podIsLive(pod)) continue;
    const claimed = claimedGrant(pod);
    if (claimed !== undefined && claimed !== name) continue;
    if (!world.policy.allowed && pod.injection.agents > 0 && pod.injection.agentGrant === name) {
      tally.revoked += 1; // the revocation pass reports, and may evict, these
      continue;
    }
    const workload = world.rayWorkloadOf?.(pod) ?? NO_RAY_WORKLOAD;
    const choice = chooseGrant(pod, world.grantsInNamespace, workload);
    if (claimed !== undefined) {
      const verified =
        world.policy.allowed &&
        choice.kind === "chosen" &&
        choice.grant.metadata.name === name &&
        claimMatches(pod.injection, name, world.expectedAgent);
      const injectedFrom = Number(pod.metadata.annotations[GRANT_GENERATION_ANNOTATION] ?? 0);
      if (verified) {
        tally.injected += 1;
        countRay(workload, "injectedPods");
      }
      if (!verified || injectedFrom < generation) tally.stale.push(pod.metadata.name);
      continue;
    }
    if (choice.kind === "chosen" && choice.grant.metadata.name === name) {
      tally.missed.push(pod.metadata.name);
      countRay(workload, "missedPods");
    } else if (choice.kind === "conflict" && choice.grants.some((g) => g.metadata.name === name)) {
      tally.missed.push(pod.metadata.name);
      countRay(workload, "missedPods");
      tally.conflicting += 1;
      for (const other of choice.grants) if (other.metadata.name !== name) tally.conflictingGrants.add(other.metadata.name);
    }
  }
  return tally;
}

/** status.rayWorkloads: for a grant that names Ray workloads, and for one that no longer does but reported some. */
function rayWorkloadsStatus(world: GrantWorld, tally: PodTally): Pick<GrantStatus, "rayWorkloads"> {
  const list = [...tally.rayWorkloads.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  if (world.grant.spec.ray === undefined && (world.grant.status?.rayWorkloads ?? []).length === 0) return {};
  return { rayWorkloads: list };
}

/** The grant a pod claims to be injected from, by its annotation or its agent's configuration. */
function claimedGrant(pod: PodRecord): string | undefined {
  return pod.metadata.annotations[INJECTED_ANNOTATION] ?? (pod.injection.agents > 0 ? pod.injection.agentGrant : undefined);
}

function readiness(world: GrantWorld, tally: PodTally): { ok: boolean; reason: ReadyReason; message: string } {
  const problems = grantProblems(world.grant);
  if (problems.length > 0) {
    return { ok: false, reason: problems[0]!.reason, message: problems.map((p) => p.message).join("; ") };
  }
  const ns = world.grant.metadata.namespace;
  if (SYSTEM_NAMESPACES.has(ns) || ns === world.operatorNamespace) {
    return {
      ok: false,
      reason: "NamespaceExcluded",
      message: `ddcred never injects pods in ${ns} (system namespaces and the operator's own are excluded so that a webhook outage cannot block them); move the grant and its workloads to another namespace`,
    };
  }
  if (!world.policy.allowed) {
    const running =
      tally.revoked > 0
        ? `; ${tally.revoked} running pod(s) still have its agent and keep refreshing credentials until restarted or evicted`
        : "";
    return { ok: false, reason: world.policy.reason, message: `${world.policy.message}; until then no pod is injected from this grant${running}` };
  }
  if (world.namespace?.labels[INJECTION_LABEL] !== INJECTION_ENABLED) {
    return {
      ok: false,
      reason: "NamespaceNotEnabled",
      message: `namespace ${ns} lacks the label ${INJECTION_LABEL}=${INJECTION_ENABLED}, so the webhook never sees its pods; run: kubectl label namespace ${ns} ${INJECTION_LABEL}=${INJECTION_ENABLED}`,
    };
  }
  if (tally.conflicting > 0) {
    const others = [...tally.conflictingGrants].sort().join(", ");
    return {
      ok: false,
      reason: "ConflictingGrants",
      message: `${tally.conflicting} pod(s) match both this grant and ${others} and name none of them, so they run without credentials; label those pods ${"ddcred.io/grant"}=<grant name> or make the selectors disjoint`,
    };
  }
  const missed = tally.missed.length;
  const stale = tally.stale.length;
  const notes = [
    missed > 0 ? `${missed} matching pod(s) carry no agent (created before the grant or while the webhook was unavailable): recreate them` : "",
    stale > 0
      ? `${stale} pod(s) carry this grant's markers but not the agent it gives today (an older generation of the spec or of the operator, or markers their author wrote): restart them to apply it`
      : "",
  ].filter(Boolean);
  return {
    ok: true,
    reason: "Valid",
    message: [`injecting matching pods: ${tally.injected} injected`, ...notes].join("; "),
  };
}

export function assessGrant(world: GrantWorld): GrantAssessment {
  const tally = tallyPods(world);
  const ready = readiness(world, tally);
  const generation = world.grant.metadata.generation ?? 0;
  const previous = world.grant.status?.conditions?.find((c) => c.type === "Ready");
  const status = ready.ok ? "True" : "False";
  const condition: GrantStatusConditionsItem = {
    type: "Ready",
    status,
    observedGeneration: generation,
    // Conventions: the time the status last changed, not the time we looked.
    lastTransitionTime: previous?.status === status ? previous.lastTransitionTime : world.now.toISOString().replace(/\.\d+Z$/, "Z"),
    reason: ready.reason,
    message: ready.message,
  };
  return {
    status: {
      observedGeneration: generation,
      conditions: [condition],
      injectedPods: tally.injected,
      stalePods: tally.stale.length,
      missedPods: tally.missed.length,
      revokedPods: tally.revoked,
      ...rayWorkloadsStatus(world, tally),
    },
    reason: ready.reason,
    missedPodNames: tally.missed.slice(0, 5),
    stalePodNames: tally.stale.slice(0, 5),
    conflictingGrantNames: [...tally.conflictingGrants].sort(),
  };
}

/** Whether two statuses say the same thing (field order and absent-vs-empty aside). */
export function sameStatus(a: GrantStatus | undefined, b: GrantStatus): boolean {
  const normal = (s: GrantStatus | undefined) =>
    JSON.stringify({
      observedGeneration: s?.observedGeneration ?? null,
      injectedPods: s?.injectedPods ?? 0,
      stalePods: s?.stalePods ?? 0,
      missedPods: s?.missedPods ?? 0,
      revokedPods: s?.revokedPods ?? 0,
      rayWorkloads: (s?.rayWorkloads ?? []).map((w) => [w.kind, w.name, w.injectedPods, w.missedPods]),
      conditions: [...(s?.conditions ?? [])]
        .sort((x, y) => x.type.localeCompare(y.type))
        .map((c) => [c.type, c.status, c.reason, c.message, c.lastTransitionTime, c.observedGeneration ?? null]),
    });
  return normal(a) === normal(b);
}
