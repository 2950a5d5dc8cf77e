// The credential agent as a native sidecar: an init container with
// restartPolicy Always, which the kubelet starts before the app containers
// and stops after them, so Jobs (RayJob submitters) still complete.
import { agentEnv } from "../shared/agent-config.js";
import type { ResolvedGrantSpec } from "../shared/grant.js";
import { AGENT_CONTAINER_NAME, AGENT_PATHS } from "../shared/names.js";
import { parseQuantity } from "../shared/quantity.js";
import { withBaseIdentity, type BaseIdentity } from "./base-identity.js";
import { credentialsMount } from "./credentials-volume.js";
import type { Container } from "./pod.js";
import type { InjectionSettings, ProbeTiming } from "./settings.js";

/** The name of the agent's metrics and probe port (at most 15 characters). */
export const AGENT_METRICS_PORT_NAME = "ddcred-metrics";

export interface AgentContainerInput {
  readonly grantName: string;
  readonly spec: ResolvedGrantSpec;
  readonly settings: InjectionSettings;
  readonly volumeName: string;
  /** The identity another webhook gave the pod, which the agent assumes the grant's role from. */
  readonly baseIdentity?: BaseIdentity | undefined;
}

export function agentContainer(input: AgentContainerInput): Container {
  const { grantName, spec, settings, volumeName } = input;
  const container: Container = {
    name: AGENT_CONTAINER_NAME,
    image: settings.agentImage,
    imagePullPolicy: settings.agentImagePullPolicy,
    ...(settings.agentCommand.length > 0 ? { command: [...settings.agentCommand] } : {}),
    restartPolicy: "Always",
    env: [...agentEnv(grantName, spec, settings), ...settings.agentExtraEnv.map(({ name, value }) => ({ name, value }))],
    ports: [{ name: AGENT_METRICS_PORT_NAME, containerPort: settings.metricsPort, protocol: "TCP" }],
    // The kubelet probes the pod IP, where the agent's metrics server listens
    // (DDCRED_METRICS_ADDRESS): its loopback API is out of the kubelet's reach.
    // /readyz passes only once the first credentials are held, so the app
    // containers, which start after this probe succeeds, find them in place.
    startupProbe: httpProbe(AGENT_PATHS.readyz, settings.metricsPort, settings.startupProbe),
    livenessProbe: httpProbe(AGENT_PATHS.healthz, settings.metricsPort, settings.livenessProbe),
    resources: agentResources(settings, spec),
    securityContext: restrictedSecurityContext(settings.agentRunAsUser),
    volumeMounts: [credentialsMount(volumeName, "readWrite")],
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
  return withBaseIdentity(container, input.baseIdentity);
}

/**
 * The operator's default requests and limits, each key the grant sets
 * replaced. A request the grant raises above the default limit raises that
 * limit with it: the API server refuses a request above its limit.
 */
function agentResources(settings: InjectionSettings, spec: ResolvedGrantSpec): NonNullable<Container["resources"]> {
  const requests: Record<string, string> = { ...settings.agentResources.requests, ...spec.agentResources.requests };
  const limits: Record<string, string> = { ...settings.agentResources.limits, ...spec.agentResources.limits };
  for (const [key, request] of Object.entries(spec.agentResources.requests)) {
    const limit = limits[key];
    if (limit !== undefined && spec.agentResources.limits[key] === undefined && parseQuantity(request) > parseQuantity(limit)) limits[key] = request;
  }
  return { requests, limits };
}

function httpProbe(path: string, port: number, timing: ProbeTiming): NonNullable<Container["startupProbe"]> {
  return {
    httpGet: { path, port, scheme: "HTTP" },
    periodSeconds: timing.periodSeconds,
    timeoutSeconds: timing.timeoutSeconds,
    failureThreshold: timing.failureThreshold,
    successThreshold: 1,
  };
}

/** What the `restricted` Pod Security Standard requires of a container, and a read-only root. */
function restrictedSecurityContext(runAsUser: number): NonNullable<Container["securityContext"]> {
  return {
    runAsNonRoot: true,
    runAsUser,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}
