// Generated from crds/ddcred.io_datadogcredentialpolicies.yaml by scripts/generate-types.mjs.
// Do not edit: change the CRD and run `npm run generate`.

export const POLICY_API_VERSION = "ddcred.io/v1alpha1";
export const POLICY_KIND = "DatadogCredentialPolicy";
export const POLICY_PLURAL = "datadogcredentialpolicies";

/** Defaults the API server applies, keyed by field path. */
export const POLICY_DEFAULTS = {
  "spec.allowExposeToWorkload": true
} as const;

export interface PolicySpecNamespaceSelectorMatchExpressionsItem {
  readonly key: string;
  readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  readonly values?: ReadonlyArray<string>;
}

/** Label selector over namespaces. An empty selector ({}) selects every namespace; kubernetes.io/metadata.name selects one by name. */
export interface PolicySpecNamespaceSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: ReadonlyArray<PolicySpecNamespaceSelectorMatchExpressionsItem>;
}

/** The most cpu and memory a grant in the namespaces this policy selects may request or limit for its agents (spec.agent.resources); this policy does not allow a grant that asks for more. Unset: no cap. */
export interface PolicySpecMaxAgentResources {
  /** A Kubernetes quantity, e.g. 50m. */
  readonly cpu?: string;
  /** A Kubernetes quantity, e.g. 96Mi. */
  readonly memory?: string;
}

/** Which namespaces may use which roles, orgs and sites. */
export interface PolicySpec {
  /** Label selector over namespaces. An empty selector ({}) selects every namespace; kubernetes.io/metadata.name selects one by name. */
  readonly namespaceSelector: PolicySpecNamespaceSelector;
  /** IAM role ARNs grants may assume. '*' matches any run of characters, e.g. arn:aws:iam::123456789012:role/team-a/*. */
  readonly allowedRoleArns: ReadonlyArray<string>;
  /** Datadog org UUIDs grants may use. Unset allows any org. */
  readonly allowedOrgUuids?: ReadonlyArray<string>;
  /** Datadog sites grants may use. Unset allows any site. */
  readonly allowedSites?: ReadonlyArray<"datadoghq.com" | "us3.datadoghq.com" | "us5.datadoghq.com" | "datadoghq.eu" | "ap1.datadoghq.com" | "ap2.datadoghq.com" | "uk1.datadoghq.com" | "ddog-gov.com" | "us2.ddog-gov.com" | "datad0g.com">;
  /** Whether grants may hand the assumed-role AWS credentials to app containers (spec.aws.exposeToWorkload). When false, only Datadog credentials reach the app. */
  readonly allowExposeToWorkload?: boolean;
  /** What the controller does about running pods, in the namespaces this policy selects, whose credential agent serves a grant that no longer exists or that policy no longer allows. Report: count them (grant status, metric) and send an Event on each pod. Evict: also evict them through the Eviction API, which honours PodDisruptionBudgets. Credentials already issued stay valid until they expire either way. Unset: the operator's default (chart value controller.revocation). */
  readonly revocation?: "Report" | "Evict";
  /** The most cpu and memory a grant in the namespaces this policy selects may request or limit for its agents (spec.agent.resources); this policy does not allow a grant that asks for more. Unset: no cap. */
  readonly maxAgentResources?: PolicySpecMaxAgentResources;
}

/** What the controller observed. */
export interface PolicyStatus {
  readonly observedGeneration?: number;
  /** Grants this policy currently allows. */
  readonly grantsAllowed?: number;
}
