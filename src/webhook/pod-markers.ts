// The label and annotations that say a pod was injected, and from which
// grant and generation: the controller counts injected and stale pods by them.
import type { Grant } from "../shared/grant.js";
import { GRANT_GENERATION_ANNOTATION, GRANT_LABEL, INJECTED_ANNOTATION } from "../shared/names.js";
import { labelValueProblem } from "../shared/selector.js";
import { EKS_SKIP_CONTAINERS_ANNOTATION, mergedSkipContainers } from "./base-identity.js";

export interface PodMarkers {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly warnings: readonly string[];
}

/**
 * @param currentAnnotations the pod's annotations, to extend rather than replace a skip-containers list
 * @param containersWithoutBaseIdentity the wired app containers that must resolve the granted role
 */
export function podMarkers(
  grant: Grant,
  currentAnnotations: Readonly<Record<string, string>>,
  containersWithoutBaseIdentity: readonly string[],
): PodMarkers {
  const name = grant.metadata.name;
  const annotations: Record<string, string> = {
    [INJECTED_ANNOTATION]: name,
    [GRANT_GENERATION_ANNOTATION]: String(grant.metadata.generation ?? 0),
  };
  const skip = mergedSkipContainers(currentAnnotations[EKS_SKIP_CONTAINERS_ANNOTATION], containersWithoutBaseIdentity);
  if (skip !== undefined) annotations[EKS_SKIP_CONTAINERS_ANNOTATION] = skip;
  // Grant names may be 253 characters, label values only 63: a label the API
  // server rejects would fail the pod, so the annotation alone carries it.
  if (labelValueProblem(name)) {
    return {
      labels: {},
      annotations,
      warnings: [`grant name ${name} is too long for the ${GRANT_LABEL} label; only the ${INJECTED_ANNOTATION} annotation names it`],
    };
  }
  return { labels: { [GRANT_LABEL]: name }, annotations, warnings: [] };
}
