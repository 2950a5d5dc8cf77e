// The mutation, pure: (pod, the grants of its namespace, settings) → JSON
// patch, admission warnings and an outcome. A copy of the pod goes through
// small named steps and is diffed against the original, so the patch touches
// exactly what the steps changed. The steps never modify an object in place:
// they put new containers, lists and maps where they change something, so the
// copy shares every untouched subtree with the original and the diff skips
// those by reference (a full deep clone was a quarter of the admission time).
// Every step is linear in the size of the pod: its lists are the pod
// author's to make long.
import type { Grant } from "../shared/grant.js";
import { AGENT_CONTAINER_NAME } from "../shared/names.js";
import type { RayWorkload } from "../shared/ray-workload.js";
import { agentContainer } from "./agent-container.js";
import { appEnv } from "./app-env.js";
import { appContainerWiring } from "./app-wiring.js";
import { findBaseIdentity, foreignIdentityEnvNames, tokenVolumeNames, withBaseIdentity, withoutForeignIdentity } from "./base-identity.js";
import { credentialsMount, credentialsVolume } from "./credentials-volume.js";
import { decideInjection, type GrantInjection } from "./decide-injection.js";
import { diffJson, type JsonPatchOperation } from "./json-patch.js";
import { boundedWarnings, nameList, warning, type Outcome } from "./outcome.js";
import { podMarkers } from "./pod-markers.js";
import { containerAt, replaceContainer, type Container, type ContainerSlot, type Pod } from "./pod.js";
import type { InjectionSettings } from "./settings.js";

export interface MutationInput {
  readonly pod: Pod;
  /** The request's namespace: a pod being created may not carry it in its metadata. */
  readonly namespace: string;
  /** The grants of that namespace, as the informer cache holds them. */
  readonly grants: readonly Grant[];
  readonly settings: InjectionSettings;
  /** The pod's KubeRay workload, resolved by the caller; none when omitted. */
  readonly rayWorkload?: RayWorkload;
}

export interface MutationResult {
  readonly patch: JsonPatchOperation[];
  readonly warnings: string[];
  readonly outcome: Outcome;
  /** Set when the pod must not be admitted at all: why, and what to change. */
  readonly refusal?: string;
}

export function mutatePod(input: MutationInput): MutationResult {
  const plan = decideInjection(input.pod, input.namespace, input.grants, input.settings, input.rayWorkload);
  switch (plan.kind) {
    case "skip":
      return { patch: [], warnings: [...plan.warnings], outcome: plan.outcome };
    case "refuse":
      return { patch: [], warnings: [], outcome: plan.outcome, refusal: `ddcred: ${plan.outcome.message}` };
    case "converge":
      return convergeInjectedPod(input.pod, plan, input.settings);
    case "inject":
      return injectPod(input.pod, plan, input.settings);
  }
}

function injectPod(pod: Pod, plan: GrantInjection, settings: InjectionSettings): MutationResult {
  const { grant, spec, wired, volumeName } = plan;
  const next = copyForMutation(pod);
  const baseIdentity = findBaseIdentity(pod, wired.map((slot) => containerAt(pod, slot)));
  // With exposeToWorkload off the app gets no AWS credentials from us, so
  // whatever identity it has stays its own.
  const movesIdentity = spec.aws.exposeToWorkload;
  const notes = wireAppContainers(pod, next, plan, settings);
  addAgentFirst(next, agentContainer({ grantName: grant.metadata.name, spec, settings, volumeName, baseIdentity }));
  addVolume(next, credentialsVolume(volumeName, settings.volumeSizeLimit));
  addImagePullSecrets(next, settings.agentImagePullSecrets);
  const markers = podMarkers(grant, pod.metadata?.annotations ?? {}, movesIdentity ? wired.map((slot) => slot.name) : []);
  applyMarkers(next, markers);

  const moved = baseIdentity && movesIdentity ? `; the base AWS identity from container ${baseIdentity.sourceContainer} now serves the agent only` : "";
  return {
    patch: diffJson(pod, next),
    warnings: [...boundedWarnings(notes), ...markers.warnings.map(warning)],
    outcome: {
      injected: true,
      reason: "Injected",
      grant: grant.metadata.name,
      message: `injected from grant ${grant.metadata.name} (generation ${grant.metadata.generation ?? 0}) into ${nameList(wired.map((slot) => slot.name))}${moved}`,
    },
  };
}

/**
 * The grant's env and the read-only credentials mount in each wired app
 * container of `next`, after moving out a base identity another webhook gave
 * it. Returns what the pod author should hear about.
 */
function wireAppContainers(pod: Pod, next: Pod, plan: GrantInjection, settings: InjectionSettings): string[] {
  const env = appEnv(plan.spec, settings);
  const mount = credentialsMount(plan.volumeName, "readOnly");
  const tokenVolumes = tokenVolumeNames(pod);
  const notes: string[] = [];
  for (const slot of plan.wired) {
    const current = containerAt(next, slot);
    const wiring = appContainerWiring(plan.spec.aws.exposeToWorkload ? withoutForeignIdentity(current, tokenVolumes) : current, env, mount);
    replaceContainer(next, slot, wiring.container);
    if (wiring.keptEnv.length > 0) {
      notes.push(`container ${slot.name} keeps its own ${nameList(wiring.keptEnv, 8)}; ddcred did not override them`);
    }
    const sources = envFromSources(current, wiring.addedEnv);
    if (sources.length > 0) {
      notes.push(
        `container ${slot.name} takes env from ${nameList(sources, 2)}; where that sets ${nameList(wiring.addedEnv, 3)}, ddcred's value wins. To keep yours, set it under env, which ddcred leaves alone`,
      );
    }
  }
  return notes;
}

/**
 * The envFrom sources of a container that can set one of the env names
 * ddcred adds: Kubernetes lets `env` win over `envFrom`, so a value the user
 * keeps in a ConfigMap or Secret would silently lose. ddcred cannot read
 * those objects (nor would they stay as they are), so it says so instead.
 */
function envFromSources(container: Container, added: readonly string[]): string[] {
  const sources: string[] = [];
  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? "";
    if (!added.some((name) => name.startsWith(prefix))) continue;
    if (source.configMapRef) sources.push(`ConfigMap ${source.configMapRef.name ?? ""}`);
    else if (source.secretRef) sources.push(`Secret ${source.secretRef.name ?? ""}`);
  }
  return sources;
}

/**
 * A pod whose agent is exactly what its grant gives today: our own output
 * coming back (reinvocationPolicy: IfNeeded), or a copy of an injected pod.
 * Nothing is added twice; the rest converges to what injection would leave:
 * a base identity another webhook gave the wired app containers after us
 * moves to the agent, missing env or mounts are wired, the markers name the
 * grant's current generation. Applied to its own output this changes nothing.
 */
function convergeInjectedPod(pod: Pod, plan: GrantInjection, settings: InjectionSettings): MutationResult {
  const { grant, spec, wired } = plan;
  const next = copyForMutation(pod);
  const grantName = grant.metadata.name;
  const agentSlot: ContainerSlot = { list: "initContainers", index: 0, name: AGENT_CONTAINER_NAME };
  const movesIdentity = spec.aws.exposeToWorkload;
  if (movesIdentity) {
    const baseIdentity = findBaseIdentity(pod, wired.map((slot) => containerAt(pod, slot)));
    replaceContainer(next, agentSlot, withBaseIdentity(containerAt(next, agentSlot), baseIdentity));
  }
  wireAppContainers(pod, next, plan, settings);
  applyMarkers(next, podMarkers(grant, pod.metadata?.annotations ?? {}, movesIdentity ? wired.map((slot) => slot.name) : []));

  const patch = diffJson(pod, next);
  const alreadyInjected = `the pod already carries the credential agent from grant ${grantName}`;
  if (patch.length === 0) {
    return { patch, warnings: [], outcome: { injected: true, reason: "AlreadyInjected", grant: grantName, message: alreadyInjected } };
  }
  const movedFrom = wired.filter((slot) => foreignIdentityEnvNames(containerAt(pod, slot)).length > 0).map((slot) => slot.name);
  const change =
    movesIdentity && movedFrom.length > 0
      ? `the base AWS identity another webhook added to ${nameList(movedFrom)} now serves the agent only`
      : "its app containers and markers were brought in line with the grant";
  return {
    patch,
    warnings: [],
    outcome: { injected: true, reason: "Converged", grant: grantName, message: `${alreadyInjected}; ${change}` },
  };
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

function addAgentFirst(pod: Pod, agent: Container): void {
  const spec = (pod.spec ??= { containers: [] });
  spec.initContainers = [agent, ...(spec.initContainers ?? [])];
}

function addVolume(pod: Pod, volume: NonNullable<NonNullable<Pod["spec"]>["volumes"]>[number]): void {
  const spec = (pod.spec ??= { containers: [] });
  spec.volumes = [...(spec.volumes ?? []), volume];
}

/** The agent image's pull secrets, after the pod's own, each once. */
function addImagePullSecrets(pod: Pod, names: readonly string[]): void {
  if (names.length === 0) return;
  const spec = (pod.spec ??= { containers: [] });
  const present = new Set((spec.imagePullSecrets ?? []).map((secret) => secret.name));
  const missing = names.filter((name) => !present.has(name));
  if (missing.length > 0) spec.imagePullSecrets = [...(spec.imagePullSecrets ?? []), ...missing.map((name) => ({ name }))];
}

function applyMarkers(
  pod: Pod,
  markers: { readonly labels: Readonly<Record<string, string>>; readonly annotations: Readonly<Record<string, string>> },
): void {
  const metadata = (pod.metadata ??= {});
  if (Object.keys(markers.labels).length > 0) metadata.labels = { ...metadata.labels, ...markers.labels };
  if (Object.keys(markers.annotations).length > 0) metadata.annotations = { ...metadata.annotations, ...markers.annotations };
}
