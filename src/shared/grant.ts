// The DatadogCredentialGrant as code sees it: the generated spec types plus
// the defaults the API server applies, resolved once into a complete value.
import {
  GRANT_DEFAULTS,
  type GrantSpec,
  type GrantSpecDatadog,
  type GrantSpecPodSelector,
  type GrantStatus,
} from "./grant.generated.js";

export * from "./grant.generated.js";

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly uid?: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
  readonly deletionTimestamp?: string;
  readonly creationTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface Grant {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
  readonly spec: GrantSpec;
  readonly status?: GrantStatus;
}

export type DatadogSite = NonNullable<GrantSpecDatadog["site"]>;

/** A grant spec with every default filled in: what the agent and the webhook act on. */
export interface ResolvedGrantSpec {
  readonly podSelector: GrantSpecPodSelector;
  readonly serviceAccountNames: readonly string[];
  readonly containers: readonly string[];
  readonly aws: {
    readonly roleArn: string;
    readonly region: string;
    readonly sessionDurationSeconds: number;
    readonly externalId?: string;
    readonly exposeToWorkload: boolean;
  };
  readonly datadog: {
    readonly orgUuid: string;
    readonly site: DatadogSite;
    readonly apiToken: boolean;
    readonly intakeKey: boolean;
  };
  /** The agent's requests and limits this grant sets (spec.agent.resources); the operator's defaults fill the rest. */
  readonly agentResources: {
    readonly requests: Readonly<Record<string, string>>;
    readonly limits: Readonly<Record<string, string>>;
  };
}

export function resolveGrantSpec(spec: GrantSpec): ResolvedGrantSpec {
  const sessionDuration = spec.aws.sessionDuration ?? GRANT_DEFAULTS["spec.aws.sessionDuration"];
  return {
    podSelector: spec.podSelector ?? {},
    serviceAccountNames: spec.serviceAccountNames ?? [],
    containers: spec.containers ?? [],
    aws: {
      roleArn: spec.aws.roleArn,
      region: spec.aws.region ?? GRANT_DEFAULTS["spec.aws.region"],
      sessionDurationSeconds: parseDurationSeconds(sessionDuration),
      ...(spec.aws.externalId === undefined ? {} : { externalId: spec.aws.externalId }),
      exposeToWorkload: spec.aws.exposeToWorkload ?? GRANT_DEFAULTS["spec.aws.exposeToWorkload"],
    },
    datadog: {
      orgUuid: spec.datadog.orgUuid,
      site: spec.datadog.site ?? GRANT_DEFAULTS["spec.datadog.site"],
      apiToken: spec.datadog.apiToken ?? GRANT_DEFAULTS["spec.datadog.apiToken"],
      intakeKey: spec.datadog.intakeKey ?? GRANT_DEFAULTS["spec.datadog.intakeKey"],
    },
    agentResources: { requests: { ...spec.agent?.resources?.requests }, limits: { ...spec.agent?.resources?.limits } },
  };
}

const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Parses the CRD's duration form (1h, 45m, 1h30m, 900s). Throws on anything else: the schema already rejected it. */
export function parseDurationSeconds(text: string): number {
  const match = DURATION.exec(text);
  if (!match || text === "") throw new Error(`not a duration: ${JSON.stringify(text)}`);
  const [, hours = "0", minutes = "0", seconds = "0"] = match;
  return Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds);
}

export function grantKey(grant: { readonly metadata: Pick<ObjectMeta, "namespace" | "name"> }): string {
  return `${grant.metadata.namespace}/${grant.metadata.name}`;
}
