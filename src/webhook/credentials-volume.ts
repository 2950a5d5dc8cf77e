// The memory-backed volume the agent writes credentials into and the app
// containers read them from.
import { CREDENTIALS_MOUNT_PATH, CREDENTIALS_VOLUME_NAME } from "../shared/names.js";
import type { Pod, Volume, VolumeMount } from "./pod.js";

export function credentialsVolume(name: string, sizeLimit: string): Volume {
  return { name, emptyDir: { medium: "Memory", sizeLimit } };
}

/** Read-write for the agent, read-only for the apps. */
export function credentialsMount(volumeName: string, access: "readWrite" | "readOnly"): VolumeMount {
  return access === "readOnly"
    ? { name: volumeName, mountPath: CREDENTIALS_MOUNT_PATH, readOnly: true }
    : { name: volumeName, mountPath: CREDENTIALS_MOUNT_PATH };
}

/**
 * `ddcred`, unless the pod already has a volume of that name (its own; an
 * injected pod never reaches this). Renaming ours is safe: the agent and the
 * apps find the files by mount path, never by volume name, and clobbering the
 * user's volume would break their pod.
 */
export function credentialsVolumeName(pod: Pod): string {
  const taken = new Set((pod.spec?.volumes ?? []).map((volume) => volume.name));
  if (!taken.has(CREDENTIALS_VOLUME_NAME)) return CREDENTIALS_VOLUME_NAME;
  for (let suffix = 1; ; suffix++) {
    const name = `${CREDENTIALS_VOLUME_NAME}-${suffix}`;
    if (!taken.has(name)) return name;
  }
}
