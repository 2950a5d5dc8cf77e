// Revocation: which running pods keep refreshing credentials that ddcred
// would no longer give, decided purely from the caches. The agent's whole
// configuration is fixed when its pod is admitted, so deleting a grant or a
// policy stops new pods only; the pods below keep their agent until they are
// restarted or evicted. What was already issued (AWS sessions, Datadog
// tokens) stays valid until it expires: nothing here can take it back.
import type { Grant } from "../shared/grant.js";
import { podIsLive, type PodRecord } from "../shared/kube/caches.js";
import { namespaceSelectorLabels, type Policy, type PolicyVerdict } from "../shared/policy.js";
import { selectorMatches, type Labels } from "../shared/selector.js";

export type RevocationReason = "GrantDeleted" | "PolicyDenied" | "PolicyRequired";
export type RevocationMode = "Report" | "Evict";

export interface RevokedPod {
  readonly pod: PodRecord;
  /** The grant its agent serves. */
  readonly grant: string;
  readonly reason: RevocationReason;
  readonly message: string;
}

export interface RevocationWorld {
  readonly namespace: string;
  readonly pods: readonly PodRecord[];
  readonly grants: readonly Grant[];
  /** Cluster policy's verdict on a grant of this namespace today. */
  readonly verdict: (grant: Grant) => PolicyVerdict;
}

/** Live pods whose agent serves a grant that is gone or that policy no longer allows. */
export function revokedPods(world: RevocationWorld): RevokedPod[] {
  const grants = new Map(world.grants.map((grant) => [grant.metadata.name, grant]));
  const verdicts = new Map<string, PolicyVerdict>();
  const revoked: RevokedPod[] = [];
  for (const pod of world.pods) {
    const served = pod.injection.agentGrant;
    if (!podIsLive(pod) || pod.injection.agents === 0 || served === undefined) continue;
    const grant = grants.get(served);
    if (grant === undefined || grant.metadata.deletionTimestamp) {
      revoked.push({
        pod,
        grant: served,
        reason: "GrantDeleted",
        message: `pod ${pod.metadata.name} runs a credential agent for grant ${served}, which no longer exists; it keeps refreshing credentials until it is restarted or evicted`,
      });
      continue;
    }
    let verdict = verdicts.get(served);
    if (verdict === undefined) verdicts.set(served, (verdict = world.verdict(grant)));
    if (!verdict.allowed) {
      revoked.push({
        pod,
        grant: served,
        reason: verdict.reason,
        message: `pod ${pod.metadata.name} runs a credential agent for grant ${served}, which policy no longer allows (${verdict.message}); it keeps refreshing credentials until it is restarted or evicted`,
      });
    }
  }
  return revoked;
}

/**
 * What to do about a namespace's revoked pods: Evict when a policy selecting
 * the namespace says so, else Report when one says that, else the operator's
 * default (which also covers namespaces no policy selects any more).
 */
export function revocationMode(
  namespace: string,
  namespaceLabels: Labels | undefined,
  policies: readonly Policy[],
  operatorDefault: RevocationMode,
): RevocationMode {
  const labels = namespaceSelectorLabels(namespace, namespaceLabels);
  const modes = policies
    .filter((policy) => selectorMatches(policy.spec.namespaceSelector, labels))
    .map((policy) => policy.spec.revocation)
    .filter((mode): mode is RevocationMode => mode !== undefined);
  if (modes.includes("Evict")) return "Evict";
  if (modes.includes("Report")) return "Report";
  return operatorDefault;
}

/** Revoked pods counted by the grant they serve and why, for the metric. */
export function revokedCounts(revoked: readonly RevokedPod[]): Map<string, { grant: string; reason: RevocationReason; count: number }> {
  const counts = new Map<string, { grant: string; reason: RevocationReason; count: number }>();
  for (const { grant, reason } of revoked) {
    const key = `${grant}\u0000${reason}`;
    const entry = counts.get(key) ?? { grant, reason, count: 0 };
    entry.count += 1;
    counts.set(key, entry);
  }
  return counts;
}
