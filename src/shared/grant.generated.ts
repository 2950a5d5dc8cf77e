// Generated from crds/ddcred.io_datadogcredentialgrants.yaml by scripts/generate-types.mjs.
// Do not edit: change the CRD and run `npm run generate`.

export const GRANT_API_VERSION = "ddcred.io/v1alpha1";
export const GRANT_KIND = "DatadogCredentialGrant";
export const GRANT_PLURAL = "datadogcredentialgrants";
export const DATADOG_SITES = ["datadoghq.com","us3.datadoghq.com","us5.datadoghq.com","datadoghq.eu","ap1.datadoghq.com","ap2.datadoghq.com","uk1.datadoghq.com","ddog-gov.com","us2.ddog-gov.com","datad0g.com"] as const;

/** Defaults the API server applies, keyed by field path. */
export const GRANT_DEFAULTS = {
  "spec.ray.rayJobs": [],
  "spec.ray.rayClusters": [],
  "spec.ray.rayServices": [],
  "spec.aws.region": "us-east-1",
  "spec.aws.sessionDuration": "1h",
  "spec.aws.exposeToWorkload": true,
  "spec.datadog.site": "datadoghq.com",
  "spec.datadog.apiToken": true,
  "spec.datadog.intakeKey": false
} as const;

export interface GrantSpecPodSelectorMatchExpressionsItem {
  readonly key: string;
  readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  readonly values?: ReadonlyArray<string>;
}

/** Label selector over pods in this namespace. An empty selector ({}) selects every pod in the namespace. Beside ray, it narrows the Ray workloads' pods further. */
export interface GrantSpecPodSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: ReadonlyArray<GrantSpecPodSelectorMatchExpressionsItem>;
}

/** KubeRay workloads of this namespace, by name, whose pods the grant selects with no label added anywhere: a RayCluster's head and every worker group (pods the autoscaler adds too); a RayJob's RayCluster and its submitter (the Job's pods in K8sJobMode, the head pod in SidecarMode); every RayCluster a RayService creates, upgrades included. */
export interface GrantSpecRay {
  /** RayJob names. */
  readonly rayJobs?: ReadonlyArray<string>;
  /** RayCluster names (for a RayJob's or RayService's cluster, name the RayJob or RayService instead). */
  readonly rayClusters?: ReadonlyArray<string>;
  /** RayService names. */
  readonly rayServices?: ReadonlyArray<string>;
}

/** The AWS role the credential agent assumes for the pod. */
export interface GrantSpecAws {
  /** ARN of the IAM role to assume, e.g. arn:aws:iam::123456789012:role/path/name. Partitions aws, aws-cn and aws-us-gov. */
  readonly roleArn: string;
  /** AWS region whose regional STS endpoint the agent calls. */
  readonly region?: string;
  /** Lifetime of each assumed-role session, from 15m to 12h (the role's own maximum still applies; role chaining caps it at 1h). */
  readonly sessionDuration?: string;
  /** External ID the role's trust policy requires, if any. */
  readonly externalId?: string;
  /** Whether app containers also receive the assumed-role AWS credentials (AWS_CONFIG_FILE, the container-credentials endpoint and AWS_REGION). */
  readonly exposeToWorkload?: boolean;
}

/** The Datadog organization and site the credentials are for. */
export interface GrantSpecDatadog {
  /** UUID of the Datadog organization that maps the AWS role. */
  readonly orgUuid: string;
  /** Datadog site (those the official API clients know, and the staging site datad0g.com); the token endpoint is https://api.<site>. */
  readonly site?: "datadoghq.com" | "us3.datadoghq.com" | "us5.datadoghq.com" | "datadoghq.eu" | "ap1.datadoghq.com" | "ap2.datadoghq.com" | "uk1.datadoghq.com" | "ddog-gov.com" | "us2.ddog-gov.com" | "datad0g.com";
  /** Whether to keep a Datadog bearer token from /api/v2/delegated-token. */
  readonly apiToken?: boolean;
  /** Whether to keep a Datadog intake API key from /api/v2/intake-key. */
  readonly intakeKey?: boolean;
}

/** Requests, replacing the operator's default per key. */
export interface GrantSpecAgentResourcesRequests {
  /** A Kubernetes quantity, e.g. 50m. */
  readonly cpu?: string;
  /** A Kubernetes quantity, e.g. 96Mi. */
  readonly memory?: string;
}

/** Limits, replacing the operator's default per key. */
export interface GrantSpecAgentResourcesLimits {
  /** A Kubernetes quantity, e.g. 50m. */
  readonly cpu?: string;
  /** A Kubernetes quantity, e.g. 96Mi. */
  readonly memory?: string;
}

/** Requests and limits of this grant's agents (cpu, memory), each replacing the operator's default (chart value agent.resources) for that key. A DatadogCredentialPolicy's maxAgentResources caps what a grant may ask for. */
export interface GrantSpecAgentResources {
  /** Requests, replacing the operator's default per key. */
  readonly requests?: GrantSpecAgentResourcesRequests;
  /** Limits, replacing the operator's default per key. */
  readonly limits?: GrantSpecAgentResourcesLimits;
}

/** Settings of the credential agent this grant's pods get. */
export interface GrantSpecAgent {
  /** Requests and limits of this grant's agents (cpu, memory), each replacing the operator's default (chart value agent.resources) for that key. A DatadogCredentialPolicy's maxAgentResources caps what a grant may ask for. */
  readonly resources?: GrantSpecAgentResources;
}

/** Which pods receive credentials, and from which AWS role and Datadog org. */
export interface GrantSpec {
  /** Label selector over pods in this namespace. An empty selector ({}) selects every pod in the namespace. Beside ray, it narrows the Ray workloads' pods further. */
  readonly podSelector?: GrantSpecPodSelector;
  /** KubeRay workloads of this namespace, by name, whose pods the grant selects with no label added anywhere: a RayCluster's head and every worker group (pods the autoscaler adds too); a RayJob's RayCluster and its submitter (the Job's pods in K8sJobMode, the head pod in SidecarMode); every RayCluster a RayService creates, upgrades included. */
  readonly ray?: GrantSpecRay;
  /** When set, a pod is injected only if its spec.serviceAccountName is one of these names. */
  readonly serviceAccountNames?: ReadonlyArray<string>;
  /** Names of the app containers to wire with env and the credentials volume. Default: every regular container of the pod. */
  readonly containers?: ReadonlyArray<string>;
  /** The AWS role the credential agent assumes for the pod. */
  readonly aws: GrantSpecAws;
  /** The Datadog organization and site the credentials are for. */
  readonly datadog: GrantSpecDatadog;
  /** Settings of the credential agent this grant's pods get. */
  readonly agent?: GrantSpecAgent;
}

export interface GrantStatusRayWorkloadsItem {
  readonly kind: "RayJob" | "RayCluster" | "RayService";
  readonly name: string;
  readonly injectedPods: number;
  readonly missedPods: number;
}

export interface GrantStatusConditionsItem {
  readonly type: string;
  readonly status: "True" | "False" | "Unknown";
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

/** What the controller observed; written only by the controller. */
export interface GrantStatus {
  /** The metadata.generation this status describes. */
  readonly observedGeneration?: number;
  /** Live pods injected from this grant. */
  readonly injectedPods?: number;
  /** Injected pods that carry an older generation of this grant's spec. */
  readonly stalePods?: number;
  /** Live pods that match this grant but carry no credential agent. */
  readonly missedPods?: number;
  /** The KubeRay workloads the grant names (spec.ray) that have live pods, each with how many of its pods run this grant's agent and how many match but carry none. */
  readonly rayWorkloads?: ReadonlyArray<GrantStatusRayWorkloadsItem>;
  /** Live pods running a credential agent for this grant while policy no longer allows it: they keep refreshing credentials until restarted or evicted. */
  readonly revokedPods?: number;
  readonly conditions?: ReadonlyArray<GrantStatusConditionsItem>;
}
