// The mutation, pure: (pod, the grants of its namespace, settings) → JSON
// patch, admission warnings and an outcome. A copy of the pod goes through
// small named steps and is diffed against the original, so the patch touches
// exactly what the steps changed. The steps never modify an object in place:
// they put new containers, lists and maps where they change something, so the
// copy shares every untouched subtree with the original and the diff skips
// those by reference (a full deep clone was a quarter of the admission time).
import type { Grant } from "../shared/grant.js";
import { AGENT_ENV } from "../shared/agent-config.js";
import { AGENT_CONTAINER_NAME, CREDENTIALS_MOUNT_PATH, CREDENTIALS_VOLUME_NAME } from "../shared/names.js";
import { agentContainer } from "./agent-container.js";
import { appEnv } from "./app-env.js";
import { appContainerWiring } from "./app-wiring.js";
import {
  EKS_SKIP_CONTAINERS_ANNOTATION,
  findBaseIdentity,
  foreignIdentityEnvNames,
  mergedSkipContainers,
  tokenVolumeNames,
  withBaseIdentity,
  withoutForeignIdentity,
} from "./base-identity.js";
import { credentialsMount, credentialsVolume } from "./credentials-volume.js";
import { decideInjection, isInjectedAgent, type InjectionPlan } from "./decide-injection.js";
import { diffJson, type JsonPatchOperation } from "./json-patch.js";
import { nameList, warning, type Outcome } from "./outcome.js";
import { podMarkers } from "./pod-markers.js";
import { containerAt, containerSlots, replaceContainer, type Container, type ContainerSlot, type Pod } from "./pod.js";
import type { InjectionSettings } from "./settings.js";

export interface MutationInput {
  readonly pod: Pod;
  /** The request's namespace: a pod being created may not carry it in its metadata. */
  readonly namespace: string;
  /** The grants of that namespace, as the informer cache holds them. */
  readonly grants: readonly Grant[];
  readonly settings: InjectionSettings;
}

export interface MutationResult {
  readonly patch: JsonPatchOperation[];
  readonly warnings: string[];
  readonly outcome: Outcome;
}

export function mutatePod(input: MutationInput): MutationResult {
  const plan = decideInjection(input.pod, input.namespace, input.grants, input.settings);
  switch (plan.kind) {
    case "skip":
      return { patch: [], warnings: [...plan.warnings], outcome: plan.outcome };
    case "converge":
      return convergeInjectedPod(input.pod, plan.grantName);
    case "inject":
      return injectPod(input.pod, plan, input.settings);
  }
}

type InjectPlan = Extract<InjectionPlan, { kind: "inject" }>;

function injectPod(pod: Pod, plan: InjectPlan, settings: InjectionSettings): MutationResult {
  const { grant, spec, wired, volumeName } = plan;
  const next = copyForMutation(pod);
  const warnings: string[] = [];
  const baseIdentity = findBaseIdentity(pod, wired.map((slot) => containerAt(pod, slot)));
  // With exposeToWorkload off the app gets no AWS credentials from us, so
  // whatever identity it has stays its own.
  const movesIdentity = spec.aws.exposeToWorkload;

  const env = appEnv(spec, settings);
  const mount = credentialsMount(volumeName, "readOnly");
  const tokenVolumes = tokenVolumeNames(pod);
  for (const slot of wired) {
    const current = containerAt(next, slot);
    const wiring = appContainerWiring(movesIdentity ? withoutForeignIdentity(current, tokenVolumes) : current, env, mount);
    replaceContainer(next, slot, wiring.container);
    if (wiring.keptEnv.length > 0) {
      warnings.push(warning(`container ${slot.name} keeps its own ${nameList(wiring.keptEnv, 8)}; ddcred did not override them`));
    }
  }
  addAgentFirst(next, agentContainer({ grantName: grant.metadata.name, spec, settings, volumeName, baseIdentity }));
  addVolume(next, credentialsVolume(volumeName, settings.volumeSizeLimit));
  const markers = podMarkers(grant, pod.metadata?.annotations ?? {}, movesIdentity ? wired.map((slot) => slot.name) : []);
  applyMarkers(next, markers);
  warnings.push(...markers.warnings.map(warning));

  const moved = baseIdentity && movesIdentity ? `; the base AWS identity from container ${baseIdentity.sourceContainer} now serves the agent only` : "";
  return {
    patch: diffJson(pod, next),
    warnings,
    outcome: {
      injected: true,
      reason: "Injected",
      grant: grant.metadata.name,
      message: `injected from grant ${grant.metadata.name} (generation ${grant.metadata.generation ?? 0}) into ${nameList(wired.map((slot) => slot.name))}${moved}`,
    },
  };
}

/**
 * A pod that already carries the agent is not injected again. The one change
 * it may still need comes from another webhook that ran after us
 * (reinvocationPolicy: IfNeeded) and gave the wired app containers a base AWS
 * identity: that identity moves to the agent, and the apps keep resolving
 * the granted role. Applied to its own output this changes nothing.
 */
function convergeInjectedPod(pod: Pod, grantName: string): MutationResult {
  const next = copyForMutation(pod);
  const agentSlot = containerSlots(next).find((slot) => slot.list === "initContainers" && isInjectedAgent(containerAt(next, slot)));
  const agent = agentSlot && containerAt(next, agentSlot);
  const alreadyInjected: Outcome = {
    injected: true,
    reason: "AlreadyInjected",
    grant: grantName,
    message: `the pod already carries the credential agent from grant ${grantName}`,
  };
  if (!agentSlot || !agent || findEnvValue(agent, AGENT_ENV.exposeToWorkload) === "false") {
    return { patch: [], warnings: [], outcome: alreadyInjected };
  }
  const wired = wiredSlots(next, agent);
  const baseIdentity = findBaseIdentity(pod, wired.map((slot) => containerAt(pod, slot)));
  replaceContainer(next, agentSlot, withBaseIdentity(agent, baseIdentity));
  const tokenVolumes = tokenVolumeNames(pod);
  for (const slot of wired) replaceContainer(next, slot, withoutForeignIdentity(containerAt(next, slot), tokenVolumes));
  const skip = mergedSkipContainers(next.metadata?.annotations?.[EKS_SKIP_CONTAINERS_ANNOTATION], wired.map((s) => s.name));
  if (skip !== undefined) applyMarkers(next, { labels: {}, annotations: { [EKS_SKIP_CONTAINERS_ANNOTATION]: skip } });

  const patch = diffJson(pod, next);
  if (patch.length === 0) return { patch, warnings: [], outcome: alreadyInjected };
  const movedFrom = wired.filter((slot) => foreignIdentityEnvNames(containerAt(pod, slot)).length > 0).map((slot) => slot.name);
  const change =
    movedFrom.length > 0
      ? `the base AWS identity another webhook added to ${nameList(movedFrom)} now serves the agent only`
      : `the wired containers are listed in ${EKS_SKIP_CONTAINERS_ANNOTATION} again`;
  return {
    patch,
    warnings: [],
    outcome: { injected: true, reason: "Converged", grant: grantName, message: `${alreadyInjected.message}; ${change}` },
  };
}

/** The app containers an earlier injection wired: those mounting the agent's credentials volume. */
function wiredSlots(pod: Pod, agent: Container): ContainerSlot[] {
  const volumeName =
    agent.volumeMounts?.find((mount) => mount.mountPath === CREDENTIALS_MOUNT_PATH)?.name ?? CREDENTIALS_VOLUME_NAME;
  return containerSlots(pod).filter(
    (slot) =>
      slot.name !== AGENT_CONTAINER_NAME &&
      (containerAt(pod, slot).volumeMounts ?? []).some((m) => m.name === volumeName && m.mountPath === CREDENTIALS_MOUNT_PATH),
  );
}

/** A copy whose own maps and lists the steps may replace entries of; everything below is shared. */
function copyForMutation(pod: Pod): Pod {
  const spec = pod.spec ?? { containers: [] };
  return {
    ...pod,
    metadata: { ...pod.metadata },
    spec: {
      ...spec,
      containers: [...spec.containers],
      ...(spec.initContainers ? { initContainers: [...spec.initContainers] } : {}),
    },
  };
}

function findEnvValue(container: Container, name: string): string | undefined {
  return container.env?.findLast((variable) => variable.name === name)?.value;
}

function addAgentFirst(pod: Pod, agent: Container): void {
  const spec = (pod.spec ??= { containers: [] });
  spec.initContainers = [agent, ...(spec.initContainers ?? [])];
}

function addVolume(pod: Pod, volume: NonNullable<NonNullable<Pod["spec"]>["volumes"]>[number]): void {
  const spec = (pod.spec ??= { containers: [] });
  spec.volumes = [...(spec.volumes ?? []), volume];
}

function applyMarkers(
  pod: Pod,
  markers: { readonly labels: Readonly<Record<string, string>>; readonly annotations: Readonly<Record<string, string>> },
): void {
  const metadata = (pod.metadata ??= {});
  if (Object.keys(markers.labels).length > 0) metadata.labels = { ...metadata.labels, ...markers.labels };
  if (Object.keys(markers.annotations).length > 0) metadata.annotations = { ...metadata.annotations, ...markers.annotations };
}
