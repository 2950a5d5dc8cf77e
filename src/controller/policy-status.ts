// A DatadogCredentialPolicy's status as a pure function of the policy, the
// grants and their namespaces' labels: how many grants this policy, on its
// own, allows today (it selects the grant's namespace and objects to
// nothing in it), and the generation that count was computed for. A grant
// two policies allow counts in both.
import type { Grant } from "../shared/grant.js";
import { namespaceSelectorLabels, policyObjections, type Policy, type PolicyStatus } from "../shared/policy.js";
import { selectorMatches, type Labels } from "../shared/selector.js";

export function policyStatus(policy: Policy, grants: readonly Grant[], namespaceLabels: (namespace: string) => Labels | undefined): PolicyStatus {
  let grantsAllowed = 0;
  for (const grant of grants) {
    if (grant.metadata.deletionTimestamp) continue;
    const namespace = grant.metadata.namespace;
    if (!selectorMatches(policy.spec.namespaceSelector, namespaceSelectorLabels(namespace, namespaceLabels(namespace)))) continue;
    if (policyObjections(policy, grant).length === 0) grantsAllowed += 1;
  }
  return { observedGeneration: policy.metadata.generation ?? 0, grantsAllowed };
}

export function samePolicyStatus(a: PolicyStatus | undefined, b: PolicyStatus): boolean {
  return a?.observedGeneration === b.observedGeneration && a?.grantsAllowed === b.grantsAllowed;
}
