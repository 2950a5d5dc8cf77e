// What makes a pod "injected": its credential agent, reduced to a fingerprint
// that the webhook (before converging a pod that arrives with an agent) and
// the controller (before counting a pod as injected) compare with the agent
// the grant would get today. Anyone who can create a pod can write an init
// container named ddcred-agent and ddcred.io/ annotations, so neither the
// name nor the markers prove anything; only the whole container does.
import { createHash } from "node:crypto";
import type { V1Container, V1Pod, V1Volume } from "@kubernetes/client-node";
import { AGENT_ENV } from "./agent-config.js";
import { AGENT_CONTAINER_NAME, CREDENTIALS_MOUNT_PATH } from "./names.js";

/** Web identity (IRSA) env another webhook gives a pod. */
export const WEB_IDENTITY_ENV = ["AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME"] as const;
/** Container-credentials (EKS Pod Identity) env another webhook gives a pod. */
export const CONTAINER_CREDENTIALS_ENV = ["AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] as const;
/**
 * Set beside the identity by the same webhooks. The agent gets them too; the
 * app keeps them, since a region is no identity and may be the user's own.
 */
export const REGION_ENV = ["AWS_STS_REGIONAL_ENDPOINTS", "AWS_DEFAULT_REGION", "AWS_REGION"] as const;

/** Env the agent may carry beyond what ddcred writes: the pod's base identity, from whichever webhook. */
const BASE_IDENTITY_ENV: ReadonlySet<string> = new Set([...WEB_IDENTITY_ENV, ...CONTAINER_CREDENTIALS_ENV, ...REGION_ENV]);

/** Fields the API server fills in with these values when a pod leaves them out. */
const DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log";
const DEFAULT_FIELD_REF_API_VERSION = "v1";
/** The credentials volume's name is ours to choose per pod (ddcred, ddcred-1...): compared under this one. */
const VOLUME_NAME_PLACEHOLDER = "<credentials volume>";

/** The pod's projected service-account-token volumes: the only ones an identity token can come from. */
export function serviceAccountTokenVolumeNames(volumes: readonly V1Volume[]): ReadonlySet<string> {
  return new Set(
    volumes.filter((volume) => volume.projected?.sources?.some((source) => source.serviceAccountToken)).map((volume) => volume.name),
  );
}

/**
 * A digest of everything about the agent that ddcred decides: the container
 * (image, command, its configuration env and any other env, probes, ports,
 * resources, security context, mounts) and the credentials volume it writes
 * into. Left out: a base identity (env and token mounts another webhook may
 * add, before or after ddcred), the volume's name, and what the API server
 * defaults.
 */
export function agentFingerprint(agent: V1Container, volumes: readonly V1Volume[]): string {
  const tokenVolumes = serviceAccountTokenVolumeNames(volumes);
  const credentialsMount = agent.volumeMounts?.find((mount) => mount.mountPath === CREDENTIALS_MOUNT_PATH);
  const volume = credentialsMount && volumes.find((v) => v.name === credentialsMount.name);
  const { terminationMessagePath, ...rest } = agent;
  const normalized = {
    ...rest,
    ...(terminationMessagePath === undefined || terminationMessagePath === DEFAULT_TERMINATION_MESSAGE_PATH ? {} : { terminationMessagePath }),
    env: (agent.env ?? []).filter((variable) => !BASE_IDENTITY_ENV.has(variable.name)).map(withoutDefaultedFieldRef),
    volumeMounts: (agent.volumeMounts ?? [])
      .filter((mount) => !tokenVolumes.has(mount.name))
      .map((mount) => (mount === credentialsMount ? { ...mount, name: VOLUME_NAME_PLACEHOLDER } : mount)),
  };
  const document = { agent: normalized, volume: volume ? { ...volume, name: VOLUME_NAME_PLACEHOLDER } : null };
  return createHash("sha256").update(canonicalJson(document)).digest("base64url");
}

function withoutDefaultedFieldRef<T extends { valueFrom?: { fieldRef?: { apiVersion?: string; fieldPath: string } } }>(variable: T): T {
  const fieldRef = variable.valueFrom?.fieldRef;
  if (fieldRef?.apiVersion !== DEFAULT_FIELD_REF_API_VERSION) return variable;
  return { ...variable, valueFrom: { ...variable.valueFrom, fieldRef: { fieldPath: fieldRef.fieldPath } } };
}

/** JSON with object keys sorted, so that two equal values give one string. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** What a pod claims about its injection, read from what its author can write. */
export interface InjectionClaim {
  /** Init and regular containers named ddcred-agent. */
  readonly agents: number;
  /** Whether the first init container is named ddcred-agent. */
  readonly agentFirst: boolean;
  /** The grant the first such container's configuration names (DDCRED_GRANT_NAME). */
  readonly agentGrant?: string;
  /** agentFingerprint of the first init container named ddcred-agent. */
  readonly fingerprint?: string;
}

export function injectionClaim(pod: V1Pod): InjectionClaim {
  const initContainers = pod.spec?.initContainers ?? [];
  let agents = 0;
  for (const container of [...initContainers, ...(pod.spec?.containers ?? [])]) {
    if (container.name === AGENT_CONTAINER_NAME) agents += 1;
  }
  const agent = initContainers.find((container) => container.name === AGENT_CONTAINER_NAME);
  if (!agent) return { agents, agentFirst: false };
  const agentGrant = agent.env?.findLast((variable) => variable.name === AGENT_ENV.grantName)?.value;
  return {
    agents,
    agentFirst: initContainers[0] === agent,
    ...(agentGrant === undefined ? {} : { agentGrant }),
    fingerprint: agentFingerprint(agent, pod.spec?.volumes ?? []),
  };
}

/**
 * Whether the pod's agent is exactly the one expected (the fingerprint of
 * what the grant would get today) for grant `grantName`: one container of
 * that name, first among init containers, configured for that grant.
 */
export function claimMatches(claim: InjectionClaim, grantName: string, expectedFingerprint: string): boolean {
  return claim.agents === 1 && claim.agentFirst && claim.agentGrant === grantName && claim.fingerprint === expectedFingerprint;
}
