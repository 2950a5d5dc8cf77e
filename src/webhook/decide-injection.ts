// Whether and how to inject a pod: the choice of grant (shared with the
// controller), then the pod's own obstacles. Every "no" carries a reason and,
// when the pod author can act on it, an admission warning.
//
// A pod may arrive already carrying an agent or ddcred's markers: our own
// output coming back (reinvocationPolicy: IfNeeded), a copy of an injected
// pod, or a pod author's forgery. All three are the author's to write, so
// the pod is converged only when its agent is exactly what the grant that
// selects it gives today; anything else is refused, with what to remove.
import { AGENT_ENV } from "../shared/agent-config.js";
import { chooseGrant, type GrantChoice } from "../shared/grant-choice.js";
import { resolveGrantSpec, type Grant, type ResolvedGrantSpec } from "../shared/grant.js";
import { claimMatches, injectionClaim, type InjectionClaim } from "../shared/injected-agent.js";
import {
  AGENT_CONTAINER_NAME,
  CREDENTIALS_MOUNT_PATH,
  GRANT_GENERATION_ANNOTATION,
  GRANT_LABEL,
  INJECTED_ANNOTATION,
  SYSTEM_NAMESPACES,
} from "../shared/names.js";
import { NO_RAY_WORKLOAD, type RayWorkload } from "../shared/ray-workload.js";
import { AGENT_METRICS_PORT_NAME } from "./agent-container.js";
import { credentialsVolumeName } from "./credentials-volume.js";
import { expectedAgentFingerprint } from "./injected-agent.js";
import { nameList, warning, type Outcome } from "./outcome.js";
import { containerAt, containerSlots, isPathWithin, type Container, type ContainerSlot, type Pod } from "./pod.js";
import type { InjectionSettings } from "./settings.js";

/** What the injection of one grant into one pod works with. */
export interface GrantInjection {
  readonly grant: Grant;
  readonly spec: ResolvedGrantSpec;
  /** The app containers to wire, in pod order. */
  readonly wired: readonly ContainerSlot[];
  readonly volumeName: string;
}

export type InjectionPlan =
  | { readonly kind: "skip"; readonly outcome: Outcome; readonly warnings: readonly string[] }
  /** Not admitted: the pod carries an agent or markers ddcred did not give it. */
  | { readonly kind: "refuse"; readonly outcome: Outcome }
  /** The pod carries exactly the agent its grant gives: converge the rest, add nothing twice. */
  | ({ readonly kind: "converge" } & GrantInjection)
  | ({ readonly kind: "inject" } & GrantInjection);

/**
 * Precedence: excluded namespaces; a pod that arrives with an agent or
 * markers (converge when verified, refuse otherwise); the grant choice
 * (opt-out, pick, single match, conflict); then what in the pod itself would
 * make an injected pod fail.
 */
export function decideInjection(
  pod: Pod,
  namespace: string,
  grants: readonly Grant[],
  settings: InjectionSettings,
  rayWorkload: RayWorkload = NO_RAY_WORKLOAD,
): InjectionPlan {
  if (SYSTEM_NAMESPACES.has(namespace) || namespace === settings.operatorNamespace) {
    return skip({ reason: "ExcludedNamespace", message: `namespace ${namespace} is never injected` });
  }
  const choice = chooseGrant(pod, grants, rayWorkload);
  const claimed = claimedMarkers(pod);
  if (claimed.length > 0) {
    const verdict = verifyClaim(pod, namespace, choice, claimed, settings);
    if (verdict !== "inject") return verdict;
  }
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
  const shared = sharedNamespaceProblem(pod);
  if (shared) return blocked(shared.reason, shared.text);
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

/**
 * Namespaces shared beyond the pod's own containers would hand the agent's
 * credentials to others: the node's loopback (hostNetwork) to every
 * hostNetwork pod there; a shared process namespace to every container of
 * the pod, which can read the agent's environment, memory and mounted files
 * (its base identity's token) through /proc.
 */
function sharedNamespaceProblem(pod: Pod): { reason: Outcome["reason"]; text: string } | undefined {
  if (pod.spec?.hostNetwork) {
    return { reason: "HostNetwork", text: "hostNetwork pods share the node's loopback, where the agents of two pods would collide; not injected" };
  }
  if (pod.spec?.shareProcessNamespace) {
    return {
      reason: "SharedProcessNamespace",
      text: "shareProcessNamespace: true would let every container of the pod read the credential agent's memory, environment and files through /proc; not injected. Remove shareProcessNamespace from the pod to get credentials",
    };
  }
  return undefined;
}

const MARKER_ANNOTATIONS = [INJECTED_ANNOTATION, GRANT_GENERATION_ANNOTATION] as const;

/** What on the pod claims an injection: our annotations, and an agent carrying our configuration. */
function claimedMarkers(pod: Pod): string[] {
  const annotations = pod.metadata?.annotations ?? {};
  const markers: string[] = MARKER_ANNOTATIONS.filter((key) => Object.hasOwn(annotations, key)).map((key) => `annotation ${key}`);
  if (containerSlots(pod).some((slot) => isInjectedAgent(containerAt(pod, slot)))) markers.push(`container ${AGENT_CONTAINER_NAME}`);
  return markers;
}

/**
 * A pod with markers: "inject" when it has no agent and the chosen grant
 * injects it afresh (its markers are then overwritten); converge when its
 * agent is exactly what that grant gives; refuse otherwise.
 */
function verifyClaim(
  pod: Pod,
  namespace: string,
  choice: GrantChoice,
  markers: readonly string[],
  settings: InjectionSettings,
): InjectionPlan | "inject" {
  const annotated = pod.metadata?.annotations?.[INJECTED_ANNOTATION];
  const claim = injectionClaim(pod);
  const claimedGrant = annotated ?? claim.agentGrant;
  const refuse = (why: string): InjectionPlan => {
    const text = `the pod arrives with what only ddcred writes (${nameList(markers)})${claimedGrant === undefined ? "" : ` for grant ${claimedGrant}`}, but ${why}. ddcred adds these itself: remove the ${AGENT_CONTAINER_NAME} container and the ${MARKER_ANNOTATIONS.join(" and ")} annotations from the pod or its template`;
    return { kind: "refuse", outcome: { injected: false, reason: "UnverifiedAgent", message: text, ...(claimedGrant === undefined ? {} : { grant: claimedGrant }) } };
  };
  if (choice.kind !== "chosen") return refuse(unchosenReason(choice, namespace));
  const grant = choice.grant;
  const grantName = grant.metadata.name;
  if (annotated !== undefined && annotated !== grantName) return refuse(`grant ${grantName} is the one that selects it`);
  if (claim.agents === 0) return "inject";
  const mismatch = agentMismatch(claim, grant, settings);
  if (mismatch) return refuse(mismatch);
  const shared = sharedNamespaceProblem(pod);
  if (shared) return refuse(shared.text.replace(/; not injected.*$/, ""));
  const spec = resolveGrantSpec(grant.spec);
  const agent = pod.spec?.initContainers?.[0];
  const volumeName = agent?.volumeMounts?.find((mount) => mount.mountPath === CREDENTIALS_MOUNT_PATH)?.name ?? credentialsVolumeName(pod);
  return { kind: "converge", grant, spec, wired: containersToWire(pod, spec.containers), volumeName };
}

function unchosenReason(choice: Exclude<GrantChoice, { kind: "chosen" }>, namespace: string): string {
  switch (choice.kind) {
    case "optedOut":
      return "it opts out of injection (ddcred.io/inject: \"false\")";
    case "noMatch":
      return `no DatadogCredentialGrant in ${namespace} that cluster policy allows selects it`;
    case "conflict":
      return `several grants select it (${nameList(choice.grants.map((grant) => grant.metadata.name))}) and it picks none`;
    case "pickNotMatching":
      return `it picks grant ${choice.pick}, which does not exist, is not allowed by cluster policy or does not select it`;
  }
}

function agentMismatch(claim: InjectionClaim, grant: Grant, settings: InjectionSettings): string | undefined {
  const grantName = grant.metadata.name;
  const expected = expectedAgentFingerprint(grant, settings);
  if (claimMatches(claim, grantName, expected)) return undefined;
  if (claim.agents > 1) return `it has ${claim.agents} containers named ${AGENT_CONTAINER_NAME}`;
  if (!claim.agentFirst) return `its ${AGENT_CONTAINER_NAME} is not the first init container`;
  if (claim.agentGrant !== grantName) return `its ${AGENT_CONTAINER_NAME} is configured for ${claim.agentGrant === undefined ? "no grant" : `grant ${claim.agentGrant}`}, while grant ${grantName} selects it`;
  return `its ${AGENT_CONTAINER_NAME} differs from the agent grant ${grantName} gives today (image, command, configuration, probes, resources, security context or credentials volume)`;
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

function skip(outcome: Omit<Outcome, "injected">, warnings: readonly string[] = []): InjectionPlan {
  return { kind: "skip", outcome: { injected: false, ...outcome }, warnings };
}
