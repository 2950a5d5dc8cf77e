// What the webhook decided about a pod, as a machine reason (logs, metrics,
// tests) and a message for a person.

export type OutcomeReason =
  /** The agent was added. */
  | "Injected"
  /** The pod already carried the agent; nothing to change. */
  | "AlreadyInjected"
  /** The pod already carried the agent; another webhook's later changes were undone in the app containers. */
  | "Converged"
  | "ExcludedNamespace"
  | "OptedOut"
  | "NoMatchingGrant"
  | "GrantConflict"
  | "PickedGrantNotMatching"
  /** A container the user named ddcred-agent is in the way. */
  | "AgentNameTaken"
  /** The grant's spec.containers names no container of this pod. */
  | "NoContainerToWire"
  /** A chosen app container already mounts something at /var/run/ddcred. */
  | "CredentialsPathTaken"
  /** A container already uses the agent's API or metrics port. */
  | "PortTaken"
  /** hostNetwork pods share the node's loopback: agents of two pods would collide. */
  | "HostNetwork"
  /** A shared process namespace would let every container read the agent's memory and files. */
  | "SharedProcessNamespace"
  /** Refused: the pod arrives with an agent or markers that are not exactly what its grant gives. */
  | "UnverifiedAgent";

export interface Outcome {
  /** Whether the admitted pod carries the agent (false too when the pod is refused). */
  readonly injected: boolean;
  readonly reason: OutcomeReason;
  readonly message: string;
  /** The grant the pod was (or already is) injected from. */
  readonly grant?: string;
}

/** The API server may truncate longer warnings; keep each one readable on its own. */
export const MAX_WARNING_LENGTH = 256;

export function warning(text: string): string {
  const full = `ddcred: ${text}`;
  return full.length <= MAX_WARNING_LENGTH ? full : `${full.slice(0, MAX_WARNING_LENGTH - 1)}…`;
}

/** "a, b and 3 more": names for a message that must stay short. */
export function nameList(names: readonly string[], shown = 4): string {
  if (names.length <= shown) return names.join(", ");
  return `${names.slice(0, shown).join(", ")} and ${names.length - shown} more`;
}

/**
 * At most `max` warnings, the last one counting those left out: a pod with
 * thousands of containers must not get thousands of warnings back.
 */
export function boundedWarnings(texts: readonly string[], max = 5): string[] {
  if (texts.length <= max) return texts.map(warning);
  return [...texts.slice(0, max - 1).map(warning), warning(`and ${texts.length - max + 1} more warnings like these`)];
}
