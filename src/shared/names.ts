// Names every part of ddcred agrees on: the API group, labels, annotations,
// the agent's container, volume, ports and files.
// The chart, the README and the tests use these exact strings.

export const API_GROUP = "ddcred.io";
export const API_VERSION = "v1alpha1";

/** Namespace label that turns injection on, like istio-injection=enabled. */
export const INJECTION_LABEL = "ddcred.io/injection";
export const INJECTION_ENABLED = "enabled";

/** Pod label written at injection; on a pod before injection it picks one grant among several. */
export const GRANT_LABEL = "ddcred.io/grant";
/** Pod annotation "false" opts the pod out of injection. */
export const INJECT_ANNOTATION = "ddcred.io/inject";
/** Pod annotation written at injection: the grant the agent was configured from. */
export const INJECTED_ANNOTATION = "ddcred.io/injected";
/** Pod annotation written at injection: the grant's metadata.generation at that time. */
export const GRANT_GENERATION_ANNOTATION = "ddcred.io/grant-generation";

/** Namespaces the webhook never touches, whatever their labels say. */
export const SYSTEM_NAMESPACES: ReadonlySet<string> = new Set(["kube-system", "kube-node-lease", "kube-public"]);

export const AGENT_CONTAINER_NAME = "ddcred-agent";
export const CREDENTIALS_VOLUME_NAME = "ddcred";
/** Where app containers see the credentials volume (read-only). */
export const CREDENTIALS_MOUNT_PATH = "/var/run/ddcred";

export const DEFAULT_AGENT_API_PORT = 9911;
export const DEFAULT_AGENT_METRICS_PORT = 9912;

/** Files the agent keeps in the credentials volume, replaced atomically. */
export const CREDENTIAL_FILES = {
  datadogToken: "datadog-token",
  datadogIntakeKey: "datadog-intake-key",
  /** The per-pod secret for the loopback API (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE). */
  agentToken: "agent-token",
  /** Shared AWS config whose credential_process reads awsProcessCredentials. */
  awsConfig: "aws-config",
  /** credential_process JSON ({Version: 1, ...}), for images with only a POSIX shell. */
  awsProcessCredentials: "aws-credentials.json",
} as const;

/** Loopback API paths of the agent. */
export const AGENT_PATHS = {
  awsCredentials: "/v1/aws-credentials",
  datadogToken: "/v1/datadog-token",
  datadogIntakeKey: "/v1/datadog-intake-key",
  healthz: "/healthz",
  readyz: "/readyz",
  metrics: "/metrics",
} as const;

export type CredentialKind = "aws" | "datadog_token" | "datadog_intake_key";
