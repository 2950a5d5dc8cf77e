// Whether and how to inject a pod: the choice of grant (shared with the
// controller), then the pod's own obstacles. Every "no" carries a reason and,
// when the pod author can act on it, an admission warning.
import { AGENT_ENV } from "../shared/agent-config.js";
import { chooseGrant } from "../shared/grant-choice.js";
import { resolveGrantSpec, type Grant, type ResolvedGrantSpec } from "../shared/grant.js";
import {
  AGENT_CONTAINER_NAME,
  CREDENTIALS_MOUNT_PATH,
  GRANT_LABEL,
  INJECTED_ANNOTATION,
  SYSTEM_NAMESPACES,
} from "../shared/names.js";
import { AGENT_METRICS_PORT_NAME } from "./agent-container.js";
import { credentialsVolumeName } from "./credentials-volume.js";
import { nameList, warning, type Outcome } from "./outcome.js";
import { containerAt, containerSlots, isPathWithin, type Container, type ContainerSlot, type Pod } from "./pod.js";
import type { InjectionSettings } from "./settings.js";

export type InjectionPlan =
  | { readonly kind: "skip"; readonly outcome: Outcome; readonly warnings: readonly string[] }
  | { readonly kind: "converge"; readonly grantName: string }
  | {
      readonly kind: "inject";
      readonly grant: Grant;
      readonly spec: ResolvedGrantSpec;
      /** The app containers to wire, in pod order. */
      readonly wired: readonly ContainerSlot[];
      readonly volumeName: string;
    };

/**
 * Precedence: excluded namespaces; a pod that already carries the agent
 * (converge only); the grant choice (opt-out, pick, single match, conflict);
 * then what in the pod itself would make an injected pod fail.
 */
export function decideInjection(
  pod: Pod,
  namespace: string,
  grants: readonly Grant[],
  settings: InjectionSettings,
): InjectionPlan {
  if (SYSTEM_NAMESPACES.has(namespace) || namespace === settings.operatorNamespace) {
    return skip({ reason: "ExcludedNamespace", message: `namespace ${namespace} is never injected` });
  }
  const injectedFrom = pod.metadata?.annotations?.[INJECTED_ANNOTATION];
  if (injectedFrom !== undefined && hasAgent(pod)) return { kind: "converge", grantName: injectedFrom };

  const choice = chooseGrant(pod, grants);
  switch (choice.kind) {
    case "optedOut":
      return skip({ reason: "OptedOut", message: "the pod opts out with ddcred.io/inject: \"false\"" });
    case "noMatch":
      return skip({ reason: "NoMatchingGrant", message: `no DatadogCredentialGrant in ${namespace} selects the pod` });
    case "conflict": {
      const names = nameList(choice.grants.map((grant) => grant.metadata.name));
      const text = `several DatadogCredentialGrants select the pod (${names}); not injected. Set the ${GRANT_LABEL} label to the one it should use`;
      return skip({ reason: "GrantConflict", message: text }, [warning(text)]);
    }
    case "pickNotMatching": {
      const others = choice.matching.length > 0 ? ` (grants that do: ${nameList(choice.matching.map((g) => g.metadata.name))})` : "";
      const text = `${GRANT_LABEL} picks grant ${choice.pick}, but no valid grant of that name selects the pod${others}; not injected`;
      return skip({ reason: "PickedGrantNotMatching", message: text }, [warning(text)]);
    }
    case "chosen":
      return planForGrant(pod, choice.grant, settings);
  }
}

function planForGrant(pod: Pod, grant: Grant, settings: InjectionSettings): InjectionPlan {
  const grantName = grant.metadata.name;
  const blocked = (reason: Outcome["reason"], text: string): InjectionPlan =>
    skip({ reason, message: text, grant: grantName }, [warning(text)]);

  // Two containers of one name would get the pod rejected, and renaming the
  // user's would break whatever refers to it: leave the pod alone.
  if (containerSlots(pod).some((slot) => slot.name === AGENT_CONTAINER_NAME)) {
    return blocked("AgentNameTaken", `the pod has its own container named ${AGENT_CONTAINER_NAME}; not injected. Rename that container`);
  }
  if (pod.spec?.hostNetwork) {
    return blocked("HostNetwork", "hostNetwork pods share the node's loopback, where the agents of two pods would collide; not injected");
  }
  const portUser = containerUsingAgentPorts(pod, settings);
  if (portUser) {
    return blocked("PortTaken", `container ${portUser} uses port ${settings.apiPort} or ${settings.metricsPort}, which the credential agent needs; not injected`);
  }
  const spec = resolveGrantSpec(grant.spec);
  const wired = containersToWire(pod, spec.containers);
  if (wired.length === 0) {
    return blocked("NoContainerToWire", `grant ${grantName} wires containers ${nameList(spec.containers)}, none of which is in the pod; not injected`);
  }
  // Two volumes at one path would get the pod rejected, and a mount inside
  // ours would shadow part of it: leave the pod alone rather than inject half
  // of it. A mount above it (/var/run) is fine: ours nests inside.
  const pathUser = wired.find((slot) =>
    (containerAt(pod, slot).volumeMounts ?? []).some((mount) => isPathWithin(mount.mountPath, CREDENTIALS_MOUNT_PATH)),
  );
  if (pathUser) {
    return blocked(
      "CredentialsPathTaken",
      `container ${pathUser.name} already mounts a volume at ${CREDENTIALS_MOUNT_PATH}; not injected. Move that mount, or leave the container out of spec.containers of grant ${grantName}`,
    );
  }
  return { kind: "inject", grant, spec, wired, volumeName: credentialsVolumeName(pod) };
}

/** grant.spec.containers by name (init containers too, when named), or every regular container. */
export function containersToWire(pod: Pod, names: readonly string[]): ContainerSlot[] {
  const slots = containerSlots(pod).filter((slot) => slot.name !== AGENT_CONTAINER_NAME);
  if (names.length === 0) return slots.filter((slot) => slot.list === "containers");
  return slots.filter((slot) => names.includes(slot.name));
}

function containerUsingAgentPorts(pod: Pod, settings: InjectionSettings): string | undefined {
  const agentPorts = [settings.apiPort, settings.metricsPort];
  for (const slot of containerSlots(pod)) {
    const ports = containerAt(pod, slot).ports ?? [];
    if (ports.some((port) => agentPorts.includes(port.containerPort) || port.name === AGENT_METRICS_PORT_NAME)) return slot.name;
  }
  return undefined;
}

/**
 * Our agent, told apart from a user's container of the same name by the
 * configuration env only we write.
 */
export function isInjectedAgent(container: Container): boolean {
  return container.name === AGENT_CONTAINER_NAME && (container.env ?? []).some((v) => v.name === AGENT_ENV.grantName);
}

function hasAgent(pod: Pod): boolean {
  return (pod.spec?.initContainers ?? []).some(isInjectedAgent);
}

function skip(outcome: Omit<Outcome, "injected">, warnings: readonly string[] = []): InjectionPlan {
  return { kind: "skip", outcome: { injected: false, ...outcome }, warnings };
}
