// Cluster policy: whether a grant may be honoured, decided purely from the
// grant, its namespace's labels and the DatadogCredentialPolicies. Without
// any policy everything is allowed, unless the operator requires one.
import type { Grant } from "./grant.js";
import { resolveGrantSpec, type ResolvedGrantSpec } from "./grant.js";
import { parseQuantity } from "./quantity.js";
import type { PolicySpec, PolicyStatus } from "./policy.generated.js";
import { selectorMatches, type Labels } from "./selector.js";

export * from "./policy.generated.js";

export interface Policy {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: { readonly name: string; readonly generation?: number; readonly uid?: string; readonly resourceVersion?: string };
  readonly spec: PolicySpec;
  readonly status?: PolicyStatus;
}

export type PolicyVerdict =
  | { readonly allowed: true; /** Policies that allow the grant; empty when no policy applies at all. */ readonly by: readonly string[] }
  | { readonly allowed: false; readonly reason: "PolicyRequired" | "PolicyDenied"; readonly message: string };

export interface PolicySet {
  readonly policies: readonly Policy[];
  /** The operator's setting: without any policy, nothing is allowed. */
  readonly requirePolicy: boolean;
}

const NAME_LABEL = "kubernetes.io/metadata.name";

/** Labels of a namespace as selectors see them: the API server always sets kubernetes.io/metadata.name. */
export function namespaceSelectorLabels(namespace: string, labels: Labels | undefined): Labels {
  return { ...labels, [NAME_LABEL]: namespace };
}

const compiled = new Map<string, RegExp>();

/** '*' matches any run of characters; everything else is literal. */
export function arnPatternMatches(pattern: string, arn: string): boolean {
  let regex = compiled.get(pattern);
  if (!regex) {
    const source = pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*");
    regex = new RegExp(`^${source}$`);
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, regex);
  }
  return regex.test(arn);
}

/** What one policy that selects the grant's namespace objects to; empty when it allows the grant. */
export function policyObjections(policy: Policy, grant: Grant): string[] {
  const spec = resolveGrantSpec(grant.spec);
  const objections: string[] = [];
  if (!policy.spec.allowedRoleArns.some((pattern) => arnPatternMatches(pattern, spec.aws.roleArn))) {
    objections.push(`role ${spec.aws.roleArn} is not among ${policy.spec.allowedRoleArns.join(", ")}`);
  }
  const orgs = policy.spec.allowedOrgUuids;
  if (orgs && !orgs.some((org) => org.toLowerCase() === spec.datadog.orgUuid.toLowerCase())) {
    objections.push(`org ${spec.datadog.orgUuid} is not among ${orgs.join(", ")}`);
  }
  const sites = policy.spec.allowedSites;
  if (sites && !sites.includes(spec.datadog.site)) objections.push(`site ${spec.datadog.site} is not among ${sites.join(", ")}`);
  if (policy.spec.allowExposeToWorkload === false && spec.aws.exposeToWorkload) {
    objections.push("AWS credentials may not be exposed to the workload (set spec.aws.exposeToWorkload: false)");
  }
  objections.push(...agentResourceObjections(policy, spec));
  return objections;
}

/** Each agent request or limit the grant sets above the policy's maxAgentResources. */
function agentResourceObjections(policy: Policy, spec: ResolvedGrantSpec): string[] {
  const caps = policy.spec.maxAgentResources;
  if (!caps) return [];
  const objections: string[] = [];
  for (const kind of ["requests", "limits"] as const) {
    for (const [resource, asked] of Object.entries(spec.agentResources[kind])) {
      const cap = caps[resource as keyof typeof caps];
      if (cap !== undefined && parseQuantity(asked) > parseQuantity(cap)) {
        objections.push(`agent ${resource} ${kind} ${asked} is above the policy's maxAgentResources.${resource} ${cap}`);
      }
    }
  }
  return objections;
}

export function policyVerdict(grant: Grant, namespaceLabels: Labels | undefined, set: PolicySet): PolicyVerdict {
  const namespace = grant.metadata.namespace;
  if (set.policies.length === 0) {
    return set.requirePolicy
      ? {
          allowed: false,
          reason: "PolicyRequired",
          message: "the operator requires a DatadogCredentialPolicy before it injects anything, and none exists; ask a cluster administrator to create one that covers this namespace",
        }
      : { allowed: true, by: [] };
  }
  const labels = namespaceSelectorLabels(namespace, namespaceLabels);
  const applicable = set.policies.filter((policy) => selectorMatches(policy.spec.namespaceSelector, labels));
  if (applicable.length === 0) {
    return {
      allowed: false,
      reason: "PolicyDenied",
      message: `no DatadogCredentialPolicy covers namespace ${namespace}; ask a cluster administrator for one`,
    };
  }
  const objections = applicable.map((policy) => ({ name: policy.metadata.name, objections: policyObjections(policy, grant) }));
  const allowedBy = objections.filter((o) => o.objections.length === 0).map((o) => o.name);
  if (allowedBy.length > 0) return { allowed: true, by: allowedBy };
  const details = objections.map((o) => `policy ${o.name}: ${o.objections.join("; ")}`).join(" | ");
  return { allowed: false, reason: "PolicyDenied", message: `not allowed by any policy covering namespace ${namespace}: ${details}` };
}
