// The pod as the webhook reads it: the API types, plus the few lookups every
// step needs. Pods arrive as plain JSON, so these are structural types only.
import type { V1Container, V1EnvVar, V1Pod, V1Volume, V1VolumeMount } from "@kubernetes/client-node";

export type Pod = V1Pod;
export type Container = V1Container;
export type EnvVar = V1EnvVar;
export type Volume = V1Volume;
export type VolumeMount = V1VolumeMount;

/** Where a container sits in the pod spec. */
export interface ContainerSlot {
  readonly list: "initContainers" | "containers";
  readonly index: number;
  readonly name: string;
}

export function containerSlots(pod: Pod): ContainerSlot[] {
  const slots = (list: ContainerSlot["list"]): ContainerSlot[] =>
    (pod.spec?.[list] ?? []).map((container, index) => ({ list, index, name: container.name }));
  return [...slots("initContainers"), ...slots("containers")];
}

export function containerAt(pod: Pod, slot: ContainerSlot): Container {
  const container = pod.spec?.[slot.list]?.[slot.index];
  if (!container) throw new Error(`no container at ${slot.list}[${slot.index}]`);
  return container;
}

export function replaceContainer(pod: Pod, slot: ContainerSlot, container: Container): void {
  const list = pod.spec?.[slot.list];
  if (!list || !list[slot.index]) throw new Error(`no container at ${slot.list}[${slot.index}]`);
  list[slot.index] = container;
}

/** The env var the container ends up with: Kubernetes lets the last duplicate win. */
export function findEnv(container: Container, name: string): EnvVar | undefined {
  return container.env?.findLast((variable) => variable.name === name);
}

/** Mount paths compared the way the kubelet would: "/a/b/" is "/a/b". */
export function normalizedPath(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

/** Whether `path` is `directory` or lies inside it. */
export function isPathWithin(path: string, directory: string): boolean {
  const p = normalizedPath(path);
  const d = normalizedPath(directory);
  return p === d || p.startsWith(d === "/" ? "/" : `${d}/`);
}

export function podDisplayName(pod: Pod): string {
  return pod.metadata?.name || (pod.metadata?.generateName ? `${pod.metadata.generateName}*` : "<unnamed>");
}
