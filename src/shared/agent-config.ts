// The agent's configuration, as the webhook writes it into the agent
// container's env and as the agent reads it back. Both directions live here
// so a renamed or added setting cannot reach only one side.
import { DATADOG_SITES, type DatadogSite, type ResolvedGrantSpec } from "./grant.js";
import { CREDENTIALS_MOUNT_PATH, DEFAULT_AGENT_API_PORT, DEFAULT_AGENT_METRICS_PORT } from "./names.js";

export interface AgentConfig {
  readonly grantName: string;
  readonly podName: string;
  readonly podNamespace: string;
  /** What the grant says about AWS, resolved. */
  readonly aws: ResolvedGrantSpec["aws"];
  readonly datadog: ResolvedGrantSpec["datadog"] & {
    /** Base URL of the Datadog API; default https://api.<site>. Set by the operator only (tests, proxies). */
    readonly apiUrl: string;
    /**
     * How often the intake key, which carries no expiry, is exchanged again:
     * default 3600 (the Datadog Agent's hour). Never written by the webhook; tests shorten it.
     */
    readonly intakeKeyRefreshSeconds: number;
  };
  readonly apiPort: number;
  readonly metricsPort: number;
  /** Address the metrics and probe server binds: the pod IP in a pod (kubelet probes it there), loopback in tests. */
  readonly metricsAddress: string;
  readonly credentialsDir: string;
  readonly logLevel: string;
}

/** Env names, one per setting. The pod name and namespace come from the downward API. */
export const AGENT_ENV = {
  grantName: "DDCRED_GRANT_NAME",
  podName: "DDCRED_POD_NAME",
  podNamespace: "DDCRED_POD_NAMESPACE",
  roleArn: "DDCRED_AWS_ROLE_ARN",
  region: "DDCRED_AWS_REGION",
  sessionDurationSeconds: "DDCRED_AWS_SESSION_DURATION_SECONDS",
  externalId: "DDCRED_AWS_EXTERNAL_ID",
  exposeToWorkload: "DDCRED_AWS_EXPOSE_TO_WORKLOAD",
  orgUuid: "DDCRED_DATADOG_ORG_UUID",
  site: "DDCRED_DATADOG_SITE",
  apiToken: "DDCRED_DATADOG_API_TOKEN",
  intakeKey: "DDCRED_DATADOG_INTAKE_KEY",
  apiUrl: "DDCRED_DATADOG_API_URL",
  intakeKeyRefreshSeconds: "DDCRED_DATADOG_INTAKE_KEY_REFRESH_SECONDS",
  apiPort: "DDCRED_API_PORT",
  metricsPort: "DDCRED_METRICS_PORT",
  metricsAddress: "DDCRED_METRICS_ADDRESS",
  credentialsDir: "DDCRED_CREDENTIALS_DIR",
  logLevel: "DDCRED_LOG_LEVEL",
} as const;

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef: { readonly fieldPath: string } };
}

export interface AgentSettings {
  readonly apiPort: number;
  readonly metricsPort: number;
  readonly logLevel: string;
  /** Overrides https://api.<site>; the operator's setting, never the grant's. */
  readonly datadogApiUrl?: string;
}

export function datadogApiUrl(site: DatadogSite): string {
  return `https://api.${site}`;
}

/** The agent container's env for a grant: everything the agent needs, nothing secret. */
export function agentEnv(grantName: string, spec: ResolvedGrantSpec, settings: AgentSettings): EnvVar[] {
  const value = (name: string, v: string | number | boolean): EnvVar => ({ name, value: String(v) });
  return [
    value(AGENT_ENV.grantName, grantName),
    { name: AGENT_ENV.podName, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: AGENT_ENV.podNamespace, valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    value(AGENT_ENV.roleArn, spec.aws.roleArn),
    value(AGENT_ENV.region, spec.aws.region),
    value(AGENT_ENV.sessionDurationSeconds, spec.aws.sessionDurationSeconds),
    ...(spec.aws.externalId === undefined ? [] : [value(AGENT_ENV.externalId, spec.aws.externalId)]),
    value(AGENT_ENV.exposeToWorkload, spec.aws.exposeToWorkload),
    value(AGENT_ENV.orgUuid, spec.datadog.orgUuid),
    value(AGENT_ENV.site, spec.datadog.site),
    value(AGENT_ENV.apiToken, spec.datadog.apiToken),
    value(AGENT_ENV.intakeKey, spec.datadog.intakeKey),
    ...(settings.datadogApiUrl === undefined ? [] : [value(AGENT_ENV.apiUrl, settings.datadogApiUrl)]),
    value(AGENT_ENV.apiPort, settings.apiPort),
    value(AGENT_ENV.metricsPort, settings.metricsPort),
    { name: AGENT_ENV.metricsAddress, valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
    value(AGENT_ENV.credentialsDir, CREDENTIALS_MOUNT_PATH),
    value(AGENT_ENV.logLevel, settings.logLevel),
  ];
}

export type ConfigResult = { readonly ok: true; readonly config: AgentConfig } | { readonly ok: false; readonly errors: string[] };

/** Reads and validates the agent's env. Every error names the variable and what it should hold. */
export function parseAgentConfig(env: Readonly<Record<string, string | undefined>>): ConfigResult {
  const errors: string[] = [];
  const text = (name: string, fallback?: string): string => {
    const v = env[name];
    if (v !== undefined && v !== "") return v;
    if (fallback === undefined) errors.push(`${name} is required`);
    return fallback ?? "";
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const v = env[name];
    if (v === undefined || v === "") return fallback;
    if (v === "true" || v === "false") return v === "true";
    errors.push(`${name} must be "true" or "false", got ${JSON.stringify(v)}`);
    return fallback;
  };
  const int = (name: string, fallback: number | undefined, min: number, max: number): number => {
    const raw = text(name, fallback === undefined ? undefined : String(fallback));
    const n = Number(raw);
    if (raw !== "" && (!Number.isInteger(n) || n < min || n > max)) {
      errors.push(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return n;
  };
  const matching = (name: string, pattern: RegExp, what: string): string => {
    const v = text(name);
    if (v !== "" && !pattern.test(v)) errors.push(`${name} must be ${what}, got ${JSON.stringify(v)}`);
    return v;
  };

  const site = text(AGENT_ENV.site, "datadoghq.com");
  if (!(DATADOG_SITES as readonly string[]).includes(site)) {
    errors.push(`${AGENT_ENV.site} must be one of ${DATADOG_SITES.join(", ")}, got ${JSON.stringify(site)}`);
  }
  const apiUrl = text(AGENT_ENV.apiUrl, datadogApiUrl(site as DatadogSite));
  if (!/^https?:\/\/[^/]+/.test(apiUrl)) errors.push(`${AGENT_ENV.apiUrl} must be an http(s) URL, got ${JSON.stringify(apiUrl)}`);
  const externalId = env[AGENT_ENV.externalId];
  const config: AgentConfig = {
    grantName: text(AGENT_ENV.grantName),
    podName: text(AGENT_ENV.podName),
    podNamespace: text(AGENT_ENV.podNamespace),
    aws: {
      roleArn: matching(
        AGENT_ENV.roleArn,
        /^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role\/([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/,
        "an IAM role ARN",
      ),
      region: matching(AGENT_ENV.region, /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/, "an AWS region such as us-east-1"),
      // The CRD keeps grants within 15m..12h; shorter sessions are allowed here for test peers.
      sessionDurationSeconds: int(AGENT_ENV.sessionDurationSeconds, 3600, 1, 43_200),
      ...(externalId ? { externalId } : {}),
      exposeToWorkload: bool(AGENT_ENV.exposeToWorkload, true),
    },
    datadog: {
      orgUuid: matching(AGENT_ENV.orgUuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "a UUID"),
      site: site as DatadogSite,
      apiToken: bool(AGENT_ENV.apiToken, true),
      intakeKey: bool(AGENT_ENV.intakeKey, false),
      apiUrl: apiUrl.replace(/\/+$/, ""),
      intakeKeyRefreshSeconds: int(AGENT_ENV.intakeKeyRefreshSeconds, 3600, 1, 86_400),
    },
    apiPort: int(AGENT_ENV.apiPort, DEFAULT_AGENT_API_PORT, 1, 65_535),
    metricsPort: int(AGENT_ENV.metricsPort, DEFAULT_AGENT_METRICS_PORT, 1, 65_535),
    metricsAddress: text(AGENT_ENV.metricsAddress, "0.0.0.0"),
    credentialsDir: text(AGENT_ENV.credentialsDir, CREDENTIALS_MOUNT_PATH),
    logLevel: text(AGENT_ENV.logLevel, "info"),
  };
  if (config.apiPort === config.metricsPort) errors.push(`${AGENT_ENV.apiPort} and ${AGENT_ENV.metricsPort} must differ`);
  if (!config.datadog.apiToken && !config.datadog.intakeKey) {
    errors.push(`at least one of ${AGENT_ENV.apiToken} and ${AGENT_ENV.intakeKey} must be "true"`);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}
