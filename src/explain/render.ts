// An explanation as text for a person: where the pod comes from, whether the
// webhook sees its namespace, each grant and what policy says of it, the
// decision, and what the pod would get.
import type { Explanation } from "./explain.js";

export function renderExplanation(source: string, explanation: Explanation): string {
  const lines: string[] = [source];
  const { decision } = explanation;
  lines.push(`  namespace: ${explanation.namespaceNote}`);
  if (explanation.grants.length === 0) lines.push("  grants: none in this namespace");
  for (const grant of explanation.grants) {
    const policy = grant.policy.allowed
      ? grant.policy.by.length > 0
        ? `allowed by policy ${grant.policy.by.join(", ")}`
        : "allowed (no policy in use)"
      : `${grant.policy.reason}: ${grant.policy.message}`;
    lines.push(`  grant ${grant.name}: ${grant.selects ? "selects this pod" : "does not select this pod"}; ${policy}`);
  }
  const verdict = explanation.refusal
    ? "REFUSED"
    : !explanation.namespaceSeen
      ? "NOT INJECTED (the webhook is not called here)"
      : decision.injected
        ? "INJECTED"
        : "NOT INJECTED";
  lines.push(`  decision: ${verdict}: ${decision.reason}: ${decision.message}`);
  if (!explanation.namespaceSeen && decision.injected) lines.push("    (what the webhook would do once the namespace is labelled)");
  if (explanation.refusal) lines.push(`  the API server would answer: ${explanation.refusal}`);
  for (const warning of explanation.warnings) lines.push(`  warning: ${warning}`);
  if (explanation.agent) lines.push(`  agent: init container ddcred-agent (native sidecar), image ${explanation.agent.image}`);
  for (const container of explanation.wired) {
    lines.push(`  container ${container.name}${container.mountPath ? ` mounts ${container.mountPath} read-only and` : ""} gets:`);
    for (const variable of container.env) lines.push(`    ${variable.name}=${variable.value ?? "(from a reference)"}`);
  }
  if (explanation.files.length > 0) lines.push(`  files the agent keeps fresh: ${explanation.files.join(", ")}`);
  return lines.join("\n");
}
