// Wiring one app container: the grant's env and the read-only credentials
// mount, appended after what the container already has.
import { jsonEqual, type JsonValue } from "./json-patch.js";
import type { Container, EnvVar, VolumeMount } from "./pod.js";

export interface AppContainerWiring {
  readonly container: Container;
  /** Env names the user already set to something else, left as they are. */
  readonly keptEnv: readonly string[];
  /** Env names ddcred appended. */
  readonly addedEnv: readonly string[];
}

export function appContainerWiring(container: Container, env: readonly EnvVar[], mount: VolumeMount): AppContainerWiring {
  const current = container.env ?? [];
  // The variable each name ends up as (Kubernetes lets the last duplicate
  // win), in one pass: env lists are the pod author's to make long.
  const effective = new Map<string, EnvVar>();
  for (const variable of current) effective.set(variable.name, variable);
  const nextEnv = [...current];
  const keptEnv: string[] = [];
  const addedEnv: string[] = [];
  for (const variable of env) {
    const existing = effective.get(variable.name);
    if (!existing) {
      nextEnv.push(variable);
      addedEnv.push(variable.name);
    } else if (!jsonEqual(existing as unknown as JsonValue, variable as unknown as JsonValue)) {
      keptEnv.push(variable.name);
    }
  }
  const mounts = [...(container.volumeMounts ?? [])];
  if (!mounts.some((m) => m.name === mount.name && m.mountPath === mount.mountPath)) mounts.push({ ...mount });
  return { container: { ...container, env: nextEnv, volumeMounts: mounts }, keptEnv, addedEnv };
}
