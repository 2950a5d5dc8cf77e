// The operator's configuration, read once from env (the chart sets it) into a
// typed value. Every error names the variable and what it should hold.
import { isIP } from "node:net";
import { hostname } from "node:os";
import { DEFAULT_INJECTION_SETTINGS, type AgentResources, type ImagePullPolicy, type InjectionSettings } from "../webhook/settings.js";

/** An env var name the agent may be given; ddcred's own DDCRED_* settings cannot be overridden this way. */
const AGENT_EXTRA_ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const AGENT_EXTRA_ENV_RULE = 'a JSON array like [{"name":"AWS_ENDPOINT_URL_STS","value":"https://..."}] of plain values, names not starting with DDCRED_';

export interface OperatorConfig {
  readonly namespace: string;
  readonly podName: string;
  readonly kubeconfig?: string;
  readonly logLevel: string;
  /** After SIGTERM: seconds to keep admitting (not ready) before draining, so endpoints stop routing here first. */
  readonly shutdownDelaySeconds: number;
  /** Inject nothing until a DatadogCredentialPolicy exists (grants report PolicyRequired). */
  readonly requirePolicy: boolean;
  readonly controller: {
    readonly enabled: boolean;
    readonly concurrency: number;
    readonly resyncIntervalSeconds: number;
    /** What to do about pods running an agent ddcred would no longer give, where no policy says (DatadogCredentialPolicy spec.revocation). */
    readonly revocation: "Report" | "Evict";
  };
  readonly leaderElection: {
    readonly enabled: boolean;
    readonly leaseName: string;
    readonly leaseDurationSeconds: number;
    readonly renewDeadlineSeconds: number;
    readonly retryPeriodSeconds: number;
  };
  readonly health: { readonly address: string; readonly port: number };
  readonly webhook: {
    readonly enabled: boolean;
    readonly address: string;
    readonly port: number;
    /** MutatingWebhookConfiguration whose caBundle the operator keeps current. */
    readonly configurationName: string;
    /** Service name the API server calls; the serving certificate's DNS names derive from it. */
    readonly serviceName: string;
    /** self-managed: the operator keeps a CA and serving cert in tlsSecretName; files: read tlsCertDir (cert-manager). */
    readonly tlsMode: "self-managed" | "files";
    readonly tlsSecretName: string;
    readonly tlsCertDir: string;
    /** Names the serving certificate carries besides the Service's (the chart's webhook.url host; 127.0.0.1 in tests). */
    readonly extraSans: { readonly dnsNames: readonly string[]; readonly ipAddresses: readonly string[] };
    /** Self-managed mode: lifetime of each serving certificate and of each CA; both rotate with a third left. */
    readonly certificateValiditySeconds: number;
    readonly caValiditySeconds: number;
    /** Longest an admission request waits for the grant cache's first sync. */
    readonly cacheSyncWaitMs: number;
  };
  /** What every injected pod gets (chart values agent.*). */
  readonly injection: InjectionSettings;
}

type Env = Readonly<Record<string, string | undefined>>;

export type OperatorConfigResult = { ok: true; config: OperatorConfig } | { ok: false; errors: string[] };

export function parseOperatorConfig(env: Env): OperatorConfigResult {
  const errors: string[] = [];
  const text = (name: string, fallback: string) => {
    const v = env[name];
    return v === undefined || v === "" ? fallback : v;
  };
  const bool = (name: string, fallback: boolean) => {
    const v = text(name, String(fallback));
    if (v !== "true" && v !== "false") errors.push(`${name} must be "true" or "false", got ${JSON.stringify(v)}`);
    return v === "true";
  };
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = text(name, String(fallback));
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) errors.push(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const oneOf = <T extends string>(name: string, fallback: T, allowed: readonly T[]): T => {
    const v = text(name, fallback);
    if (!allowed.includes(v as T)) errors.push(`${name} must be one of ${allowed.join(", ")}, got ${JSON.stringify(v)}`);
    return v as T;
  };

  const json = <T>(name: string, fallback: T, check: (value: unknown) => boolean, what: string): T => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    try {
      const value: unknown = JSON.parse(raw);
      if (check(value)) return value as T;
    } catch {
      // reported below
    }
    errors.push(`${name} must be ${what}, got ${JSON.stringify(raw)}`);
    return fallback;
  };
  const isAgentExtraEnv = (v: unknown) =>
    Array.isArray(v) &&
    v.every(
      (entry: unknown) =>
        typeof entry === "object" && entry !== null &&
        typeof (entry as Record<string, unknown>).name === "string" && typeof (entry as Record<string, unknown>).value === "string" &&
        AGENT_EXTRA_ENV_NAME.test((entry as { name: string }).name) && !(entry as { name: string }).name.startsWith("DDCRED_"),
    );
  const isStringArray = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");
  const isSecretNameList = (v: unknown) => isStringArray(v) && (v as string[]).every((name) => /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name));
  const isResources = (v: unknown) =>
    typeof v === "object" && v !== null && ["requests", "limits"].every((k) => typeof (v as Record<string, unknown>)[k] === "object");

  const namespace = text("DDCRED_NAMESPACE", "ddcred-system");
  const webhookEnabled = bool("DDCRED_WEBHOOK_ENABLED", true);
  const agentImage = text("DDCRED_AGENT_IMAGE", "");
  if (webhookEnabled && agentImage === "") errors.push("DDCRED_AGENT_IMAGE is required when the webhook is enabled (the chart sets it)");
  const datadogApiUrl = env.DDCRED_AGENT_DATADOG_API_URL;
  if (datadogApiUrl && !/^https?:\/\/[^/]+/.test(datadogApiUrl)) {
    errors.push(`DDCRED_AGENT_DATADOG_API_URL must be an http(s) URL, got ${JSON.stringify(datadogApiUrl)}`);
  }
  const defaults = DEFAULT_INJECTION_SETTINGS;
  const injection: InjectionSettings = {
    agentImage,
    agentImagePullPolicy: oneOf<ImagePullPolicy>("DDCRED_AGENT_IMAGE_PULL_POLICY", defaults.agentImagePullPolicy, ["Always", "IfNotPresent", "Never"]),
    agentCommand: json<string[]>("DDCRED_AGENT_COMMAND", [...defaults.agentCommand], isStringArray, "a JSON array of strings"),
    agentExtraEnv: json<{ name: string; value: string }[]>("DDCRED_AGENT_EXTRA_ENV", [...defaults.agentExtraEnv], isAgentExtraEnv, AGENT_EXTRA_ENV_RULE),
    agentImagePullSecrets: json<string[]>("DDCRED_AGENT_IMAGE_PULL_SECRETS", [...defaults.agentImagePullSecrets], isSecretNameList, 'a JSON array of Secret names like ["registry-credentials"]'),
    agentResources: json<AgentResources>("DDCRED_AGENT_RESOURCES", defaults.agentResources, isResources, 'JSON like {"requests":{...},"limits":{...}}'),
    agentRunAsUser: int("DDCRED_AGENT_RUN_AS_USER", defaults.agentRunAsUser, 1, 2_147_483_647),
    apiPort: int("DDCRED_AGENT_API_PORT", defaults.apiPort, 1, 65_535),
    metricsPort: int("DDCRED_AGENT_METRICS_PORT", defaults.metricsPort, 1, 65_535),
    logLevel: oneOf("DDCRED_AGENT_LOG_LEVEL", defaults.logLevel, ["trace", "debug", "info", "warn", "error", "fatal"]),
    ...(datadogApiUrl ? { datadogApiUrl } : {}),
    volumeSizeLimit: text("DDCRED_AGENT_VOLUME_SIZE_LIMIT", defaults.volumeSizeLimit),
    startupProbe: {
      ...defaults.startupProbe,
      failureThreshold: int("DDCRED_AGENT_STARTUP_FAILURE_THRESHOLD", defaults.startupProbe.failureThreshold, 1, 10_000),
    },
    livenessProbe: defaults.livenessProbe,
    operatorNamespace: namespace,
  };
  if (injection.apiPort === injection.metricsPort) errors.push("DDCRED_AGENT_API_PORT and DDCRED_AGENT_METRICS_PORT must differ");

  const kubeconfig = env.KUBECONFIG;
  const config: OperatorConfig = {
    namespace,
    podName: text("DDCRED_POD_NAME", hostname()),
    ...(kubeconfig ? { kubeconfig } : {}),
    logLevel: oneOf("DDCRED_LOG_LEVEL", "info", ["trace", "debug", "info", "warn", "error", "fatal"]),
    shutdownDelaySeconds: int("DDCRED_SHUTDOWN_DELAY_SECONDS", 5, 0, 120),
    requirePolicy: bool("DDCRED_REQUIRE_POLICY", false),
    controller: {
      enabled: bool("DDCRED_CONTROLLER_ENABLED", true),
      concurrency: int("DDCRED_CONTROLLER_CONCURRENCY", 4, 1, 64),
      resyncIntervalSeconds: int("DDCRED_RESYNC_INTERVAL_SECONDS", 300, 5, 86_400),
      revocation: oneOf("DDCRED_REVOCATION", "Report", ["Report", "Evict"] as const),
    },
    leaderElection: {
      enabled: bool("DDCRED_LEADER_ELECTION", true),
      leaseName: text("DDCRED_LEASE_NAME", "ddcred-operator"),
      leaseDurationSeconds: int("DDCRED_LEASE_DURATION_SECONDS", 15, 2, 600),
      renewDeadlineSeconds: int("DDCRED_RENEW_DEADLINE_SECONDS", 10, 1, 600),
      retryPeriodSeconds: int("DDCRED_RETRY_PERIOD_SECONDS", 2, 1, 60),
    },
    health: {
      address: text("DDCRED_HEALTH_ADDRESS", "0.0.0.0"),
      port: int("DDCRED_HEALTH_PORT", 8080, 0, 65_535),
    },
    webhook: {
      enabled: webhookEnabled,
      address: text("DDCRED_WEBHOOK_ADDRESS", "0.0.0.0"),
      port: int("DDCRED_WEBHOOK_PORT", 9443, 0, 65_535),
      configurationName: text("DDCRED_WEBHOOK_CONFIGURATION_NAME", "ddcred-operator"),
      serviceName: text("DDCRED_WEBHOOK_SERVICE_NAME", "ddcred-operator-webhook"),
      tlsMode: oneOf("DDCRED_TLS_MODE", "self-managed", ["self-managed", "files"] as const),
      tlsSecretName: text("DDCRED_TLS_SECRET_NAME", "ddcred-operator-webhook-tls"),
      tlsCertDir: text("DDCRED_TLS_CERT_DIR", "/var/run/ddcred-operator/tls"),
      extraSans: extraSans(text("DDCRED_WEBHOOK_EXTRA_SANS", ""), errors),
      certificateValiditySeconds: int("DDCRED_TLS_CERT_VALIDITY_SECONDS", 365 * DAY_SECONDS, 3, 100 * 365 * DAY_SECONDS),
      caValiditySeconds: int("DDCRED_TLS_CA_VALIDITY_SECONDS", 10 * 365 * DAY_SECONDS, 3, 100 * 365 * DAY_SECONDS),
      cacheSyncWaitMs: int("DDCRED_WEBHOOK_CACHE_SYNC_WAIT_MS", 2000, 0, 30_000),
    },
    injection,
  };
  const le = config.leaderElection;
  if (le.renewDeadlineSeconds >= le.leaseDurationSeconds) {
    errors.push("DDCRED_RENEW_DEADLINE_SECONDS must be shorter than DDCRED_LEASE_DURATION_SECONDS");
  }
  if (le.retryPeriodSeconds >= le.renewDeadlineSeconds) {
    errors.push("DDCRED_RETRY_PERIOD_SECONDS must be shorter than DDCRED_RENEW_DEADLINE_SECONDS");
  }
  if (config.webhook.certificateValiditySeconds >= config.webhook.caValiditySeconds) {
    errors.push("DDCRED_TLS_CERT_VALIDITY_SECONDS must be shorter than DDCRED_TLS_CA_VALIDITY_SECONDS");
  }
  if (!config.controller.enabled && !config.webhook.enabled) {
    errors.push("DDCRED_CONTROLLER_ENABLED and DDCRED_WEBHOOK_ENABLED are both false: nothing to run");
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}

const DAY_SECONDS = 86_400;
/** An RFC 1123 DNS name, optionally a leftmost wildcard label. */
const DNS_NAME = /^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

/** DDCRED_WEBHOOK_EXTRA_SANS: comma-separated DNS names and IP addresses. */
function extraSans(raw: string, errors: string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const entry of raw.split(",").map((part) => part.trim()).filter((part) => part !== "")) {
    if (isIP(entry) !== 0) ipAddresses.push(entry);
    else if (DNS_NAME.test(entry) && entry.length <= 253) dnsNames.push(entry);
    else errors.push(`DDCRED_WEBHOOK_EXTRA_SANS must list DNS names or IP addresses separated by commas, got ${JSON.stringify(entry)}`);
  }
  return { dnsNames, ipAddresses };
}
