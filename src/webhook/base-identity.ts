// The AWS identity other webhooks give a pod: IRSA (amazon-eks-pod-identity-webhook's
// web identity env and the aws-iam-token projected volume) and EKS Pod
// Identity (the container-credentials endpoint on 169.254.170.23 and the
// eks-pod-identity-token volume). That identity is the agent's base: it
// assumes the grant's role from it. The app containers we wire must not keep
// it: the AWS SDKs try web identity (AWS_WEB_IDENTITY_TOKEN_FILE) before
// credential_process in AWS_CONFIG_FILE, and an EKS endpoint in
// AWS_CONTAINER_CREDENTIALS_FULL_URI would replace ours, so the app would
// silently run as the base role instead of the granted one.
import {
  CONTAINER_CREDENTIALS_ENV,
  REGION_ENV,
  serviceAccountTokenVolumeNames,
  WEB_IDENTITY_ENV,
} from "../shared/injected-agent.js";
import { findEnv, isPathWithin, type Container, type EnvVar, type Pod, type VolumeMount } from "./pod.js";

/** The EKS Pod Identity Agent's link-local addresses (IPv4 and IPv6). */
const POD_IDENTITY_HOSTS: ReadonlySet<string> = new Set(["169.254.170.23", "[fd00:ec2::23]"]);

/**
 * amazon-eks-pod-identity-webhook skips the containers this pod annotation
 * lists. Naming the wired app containers there keeps that webhook from
 * putting the base identity back into them when it runs (or is reinvoked)
 * after us; the agent is never listed, so it still gets the identity.
 */
export const EKS_SKIP_CONTAINERS_ANNOTATION = "eks.amazonaws.com/skip-containers";

/** A base identity found in one container: the env and mounts to give the agent. */
export interface BaseIdentity {
  readonly sourceContainer: string;
  readonly env: readonly EnvVar[];
  readonly mounts: readonly VolumeMount[];
}

/** The env names through which another webhook gave this container an identity. */
export function foreignIdentityEnvNames(container: Container): string[] {
  const names: string[] = [];
  if (findEnv(container, "AWS_WEB_IDENTITY_TOKEN_FILE")) {
    names.push(...WEB_IDENTITY_ENV.filter((name) => findEnv(container, name)));
  }
  if (isPodIdentityEndpoint(findEnv(container, "AWS_CONTAINER_CREDENTIALS_FULL_URI")?.value)) {
    names.push(...CONTAINER_CREDENTIALS_ENV.filter((name) => findEnv(container, name)));
  }
  return names;
}

function isPodIdentityEndpoint(uri: string | undefined): boolean {
  if (!uri) return false;
  try {
    return POD_IDENTITY_HOSTS.has(new URL(uri).host);
  } catch {
    return false;
  }
}

/**
 * The pod's projected service-account-token volumes (aws-iam-token,
 * eks-pod-identity-token, kube-api-access-*): only these can hold an
 * identity token. A user's own volume above the token path (/var/run, say)
 * is never taken for one.
 */
export function tokenVolumeNames(pod: Pod): ReadonlySet<string> {
  return serviceAccountTokenVolumeNames(pod.spec?.volumes ?? []);
}

/** The mounts the identity's token files are read through: for each file, the deepest token-volume mount holding it. */
function identityTokenMounts(container: Container, identityEnv: readonly string[], tokenVolumes: ReadonlySet<string>): VolumeMount[] {
  const mounts = (container.volumeMounts ?? []).filter((mount) => tokenVolumes.has(mount.name));
  const found = new Set<VolumeMount>();
  for (const name of identityEnv.filter((n) => n.endsWith("_TOKEN_FILE"))) {
    const file = findEnv(container, name)?.value;
    if (!file) continue;
    const holders = mounts.filter((mount) => isPathWithin(file, mount.mountPath) && file !== mount.mountPath);
    const deepest = holders.sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    if (deepest) found.add(deepest);
  }
  return [...found];
}

export function baseIdentityOf(container: Container, tokenVolumes: ReadonlySet<string>): BaseIdentity | undefined {
  const identityEnv = foreignIdentityEnvNames(container);
  if (identityEnv.length === 0) return undefined;
  const names: ReadonlySet<string> = new Set([...identityEnv, ...REGION_ENV]);
  return {
    sourceContainer: container.name,
    env: (container.env ?? []).filter((variable) => names.has(variable.name)),
    mounts: identityTokenMounts(container, identityEnv, tokenVolumes),
  };
}

/** The first base identity in the pod, looking at the given containers first. */
export function findBaseIdentity(pod: Pod, preferred: readonly Container[]): BaseIdentity | undefined {
  const everyContainer = [...preferred, ...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  const tokenVolumes = tokenVolumeNames(pod);
  for (const container of everyContainer) {
    const identity = baseIdentityOf(container, tokenVolumes);
    if (identity) return identity;
  }
  return undefined;
}

/**
 * The agent with the base identity added, unless it has one already (given
 * at injection, or by an identity webhook that ran after us): a second one
 * would make its credential chain depend on env order.
 */
export function withBaseIdentity(agent: Container, identity: BaseIdentity | undefined): Container {
  if (!identity || foreignIdentityEnvNames(agent).length > 0) return agent;
  const env = [...(agent.env ?? [])];
  for (const variable of identity.env) {
    if (!env.some((existing) => existing.name === variable.name)) env.push(variable);
  }
  const mounts = [...(agent.volumeMounts ?? [])];
  for (const mount of identity.mounts) {
    const taken = mounts.some((existing) => existing.name === mount.name || existing.mountPath === mount.mountPath);
    if (!taken) mounts.push({ name: mount.name, mountPath: mount.mountPath, readOnly: true });
  }
  return { ...agent, env, volumeMounts: mounts };
}

/** An app container without the identity env and token mounts another webhook gave it. */
export function withoutForeignIdentity(container: Container, tokenVolumes: ReadonlySet<string>): Container {
  const identityEnv = foreignIdentityEnvNames(container);
  if (identityEnv.length === 0) return container;
  const tokenMounts = identityTokenMounts(container, identityEnv, tokenVolumes);
  const moved: ReadonlySet<string> = new Set(identityEnv);
  const next: Container = { ...container, env: (container.env ?? []).filter((v) => !moved.has(v.name)) };
  if (tokenMounts.length > 0) next.volumeMounts = (container.volumeMounts ?? []).filter((m) => !tokenMounts.includes(m));
  return next;
}

/** The skip-containers annotation value with `names` added; undefined when nothing changes. */
export function mergedSkipContainers(current: string | undefined, names: readonly string[]): string | undefined {
  const listed = (current ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  // A Set: both lists are the pod author's to make long.
  const present = new Set(listed);
  const missing = names.filter((name) => !present.has(name));
  if (missing.length === 0) return undefined;
  return [...listed, ...missing].join(",");
}
