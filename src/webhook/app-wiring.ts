// Wiring one app container: the grant's env and the read-only credentials
// mount, appended after what the container already has.
import { jsonEqual, type JsonValue } from "./json-patch.js";
import { findEnv, type Container, type EnvVar, type VolumeMount } from "./pod.js";

export interface AppContainerWiring {
  readonly container: Container;
  /** Env names the user already set to something else, left as they are. */
  readonly keptEnv: readonly string[];
}

export function appContainerWiring(container: Container, env: readonly EnvVar[], mount: VolumeMount): AppContainerWiring {
  const nextEnv = [...(container.env ?? [])];
  const keptEnv: string[] = [];
  for (const variable of env) {
    const existing = findEnv(container, variable.name);
    if (!existing) nextEnv.push(variable);
    else if (!jsonEqual(existing as unknown as JsonValue, variable as unknown as JsonValue)) keptEnv.push(variable.name);
  }
  const mounts = [...(container.volumeMounts ?? [])];
  if (!mounts.some((m) => m.name === mount.name && m.mountPath === mount.mountPath)) mounts.push({ ...mount });
  return { container: { ...container, env: nextEnv, volumeMounts: mounts }, keptEnv };
}
