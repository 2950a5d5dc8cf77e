// What the operator's configuration (chart values) decides about every
// injected pod. Parsed once by the operator's main into this typed value; the
// mutation never reads env or files itself.
import type { AgentSettings } from "../shared/agent-config.js";
import { DEFAULT_AGENT_API_PORT, DEFAULT_AGENT_METRICS_PORT } from "../shared/names.js";

export type ImagePullPolicy = "Always" | "IfNotPresent" | "Never";

/** Kubernetes resource quantities, e.g. { cpu: "10m", memory: "48Mi" }. */
export interface ResourceList {
  readonly cpu?: string;
  readonly memory?: string;
  readonly "ephemeral-storage"?: string;
}

export interface AgentResources {
  readonly requests: ResourceList;
  readonly limits: ResourceList;
}

export interface ProbeTiming {
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
}

export interface InjectionSettings extends AgentSettings {
  /** The agent image, e.g. ghcr.io/example/ddcred-operator:0.1.0 (the operator image runs the agent too). */
  readonly agentImage: string;
  readonly agentImagePullPolicy: ImagePullPolicy;
  /** The agent's command; empty keeps the image's entrypoint. */
  readonly agentCommand: readonly string[];
  /**
   * Plain env for every agent, after ddcred's own: e.g. AWS_ENDPOINT_URL_STS
   * for an STS VPC endpoint, HTTPS_PROXY/NO_PROXY. Never secrets: pod specs are readable.
   */
  readonly agentExtraEnv: readonly { readonly name: string; readonly value: string }[];
  /**
   * Pull secrets (names, in the pod's namespace) added to every injected pod
   * that does not list them yet, for an agent image in a private registry.
   */
  readonly agentImagePullSecrets: readonly string[];
  readonly agentResources: AgentResources;
  /** Non-root UID the agent runs as (restricted Pod Security Standard). */
  readonly agentRunAsUser: number;
  /** sizeLimit of the memory-backed credentials volume. */
  readonly volumeSizeLimit: string;
  /**
   * How long the agent may take to get its first credentials: the startup
   * probe polls /readyz every periodSeconds, failureThreshold times, before
   * the kubelet restarts the agent. App containers wait for it meanwhile.
   */
  readonly startupProbe: ProbeTiming;
  readonly livenessProbe: ProbeTiming;
  /** The operator's own namespace: never injected, whatever its labels say. */
  readonly operatorNamespace: string;
}

export const DEFAULT_INJECTION_SETTINGS = {
  agentImagePullPolicy: "IfNotPresent",
  agentCommand: [],
  agentExtraEnv: [],
  agentImagePullSecrets: [],
  agentResources: {
    requests: { cpu: "10m", memory: "48Mi" },
    limits: { memory: "96Mi" },
  },
  agentRunAsUser: 65532,
  apiPort: DEFAULT_AGENT_API_PORT,
  metricsPort: DEFAULT_AGENT_METRICS_PORT,
  logLevel: "info",
  volumeSizeLimit: "1Mi",
  startupProbe: { periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 120 },
  livenessProbe: { periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 },
} as const satisfies Partial<InjectionSettings>;

/** Settings with every default filled in; the image and the operator's namespace have none. */
export function injectionSettings(
  required: Pick<InjectionSettings, "agentImage" | "operatorNamespace">,
  overrides: Partial<InjectionSettings> = {},
): InjectionSettings {
  return { ...DEFAULT_INJECTION_SETTINGS, ...overrides, ...required };
}
