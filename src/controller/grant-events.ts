// The Events a person should see about a grant, decided from what changed
// between the stored status and the new assessment, so a reconcile that
// runs twice says nothing twice.
import type { GrantStatus } from "../shared/grant.js";
import type { GrantAssessment } from "./grant-status.js";

export interface GrantEvent {
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly message: string;
}

function readyOf(status: GrantStatus | undefined) {
  return status?.conditions?.find((c) => c.type === "Ready");
}

function names(list: readonly string[], total: number): string {
  const more = total > list.length ? ` and ${total - list.length} more` : "";
  return `${list.join(", ")}${more}`;
}

export function grantEvents(previous: GrantStatus | undefined, next: GrantAssessment): GrantEvent[] {
  const events: GrantEvent[] = [];
  const before = readyOf(previous);
  const after = readyOf(next.status);
  const changed = after && (before?.reason !== after.reason || before?.status !== after.status);
  // A problem is announced when it appears; readiness only when it returns
  // after a problem (a Normal Event for every new grant is noise at scale).
  if (changed && after.status !== "True") events.push({ type: "Warning", reason: after.reason, message: after.message });
  if (changed && after.status === "True" && before?.status === "False") {
    events.push({ type: "Normal", reason: "Ready", message: after.message });
  }
  const missed = next.status.missedPods ?? 0;
  if (missed > (previous?.missedPods ?? 0) && next.reason !== "NamespaceNotEnabled") {
    events.push({
      type: "Warning",
      reason: "PodsMissed",
      message: `pod(s) ${names(next.missedPodNames, missed)} match this grant but carry no credential agent; recreate them once the cause is fixed`,
    });
  }
  const stale = next.status.stalePods ?? 0;
  if (stale > (previous?.stalePods ?? 0)) {
    events.push({
      type: "Normal",
      reason: "StalePods",
      message: `pod(s) ${names(next.stalePodNames, stale)} carry this grant's markers but not the agent it gives today (an older generation of the spec or the operator, or markers their author wrote); restart them to apply the current spec`,
    });
  }
  return events;
}
