// Which KubeRay workload a pod belongs to, from what KubeRay itself records
// (ray-operator v1.5.0, controllers/ray): head and worker pods have a
// controller reference to their RayCluster; a RayCluster that a RayJob or
// RayService created has a controller reference to it (and the labels
// ray.io/originated-from-crd and ray.io/originated-from-cr-name); a RayJob's
// submitter pod (K8sJobMode) has a controller reference to a batch/v1 Job
// named after the RayJob, which carries the same two labels and a controller
// reference to the RayJob. In SidecarMode the submitter is a container of the
// head pod, so the head's answer covers it. A pod author can write labels but
// not make an owner with the referenced uid exist: the owner is looked up and
// its uid compared before anything it says is believed.
import type { GrantSpecRay } from "./grant.generated.js";

export const RAY_API_VERSION = "ray.io/v1";
export const ORIGINATED_FROM_CRD_LABEL = "ray.io/originated-from-crd";
export const ORIGINATED_FROM_NAME_LABEL = "ray.io/originated-from-cr-name";

export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
}

/** The owner a Ray pod names: its RayCluster, or (a submitter) its Job. */
export interface RayPodOwner {
  readonly kind: "RayCluster" | "Job";
  readonly name: string;
  readonly uid: string;
}

/** What the resolution reads of a RayCluster or a submitter Job: metadata only. */
export interface OwnerRecord {
  readonly name: string;
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ownerReferences: readonly OwnerReference[];
}

/** The Ray workloads a pod belongs to; empty when it is no Ray pod. */
export interface RayWorkload {
  readonly rayCluster?: string;
  readonly rayJob?: string;
  readonly rayService?: string;
}

export const NO_RAY_WORKLOAD: RayWorkload = Object.freeze({});

function controllerOf(references: readonly OwnerReference[] | undefined): OwnerReference | undefined {
  return references?.find((reference) => reference.controller === true);
}

/** The RayCluster or Job that controls the pod, when it is one of those. */
export function rayPodOwner(pod: { readonly metadata?: { readonly ownerReferences?: readonly OwnerReference[] } }): RayPodOwner | undefined {
  const owner = controllerOf(pod.metadata?.ownerReferences);
  if (!owner || !owner.uid) return undefined;
  if (owner.apiVersion === RAY_API_VERSION && owner.kind === "RayCluster") return { kind: "RayCluster", name: owner.name, uid: owner.uid };
  if (owner.apiVersion === "batch/v1" && owner.kind === "Job") return { kind: "Job", name: owner.name, uid: owner.uid };
  return undefined;
}

/** The workload a RayCluster or Job was created for: its controller reference, else KubeRay's labels. */
function originOf(record: OwnerRecord): { kind: string; name: string } | undefined {
  const controller = controllerOf(record.ownerReferences);
  if (controller) return controller.apiVersion === RAY_API_VERSION ? { kind: controller.kind, name: controller.name } : undefined;
  const kind = record.labels[ORIGINATED_FROM_CRD_LABEL];
  const name = record.labels[ORIGINATED_FROM_NAME_LABEL];
  return kind && name ? { kind, name } : undefined;
}

/**
 * The pod's Ray workload, given its owner as found (undefined: no such
 * object, or another one of that name). A Job counts only when KubeRay made
 * it for a RayJob.
 */
export function rayWorkloadOf(owner: RayPodOwner, record: OwnerRecord | undefined): RayWorkload {
  if (!record || record.uid !== owner.uid) return NO_RAY_WORKLOAD;
  const origin = originOf(record);
  if (owner.kind === "Job") return origin?.kind === "RayJob" ? { rayJob: origin.name } : NO_RAY_WORKLOAD;
  if (origin?.kind === "RayJob") return { rayCluster: record.name, rayJob: origin.name };
  if (origin?.kind === "RayService") return { rayCluster: record.name, rayService: origin.name };
  return { rayCluster: record.name };
}

/** A workload a grant's spec.ray names, by kind and name. */
export interface NamedRayWorkload {
  readonly kind: "RayJob" | "RayService" | "RayCluster";
  readonly name: string;
}

/** The workload of the pod that the grant's spec.ray names: its RayJob or RayService before its RayCluster. */
export function namedRayWorkload(ray: GrantSpecRay, workload: RayWorkload): NamedRayWorkload | undefined {
  if (workload.rayJob !== undefined && (ray.rayJobs ?? []).includes(workload.rayJob)) return { kind: "RayJob", name: workload.rayJob };
  if (workload.rayService !== undefined && (ray.rayServices ?? []).includes(workload.rayService)) return { kind: "RayService", name: workload.rayService };
  if (workload.rayCluster !== undefined && (ray.rayClusters ?? []).includes(workload.rayCluster)) return { kind: "RayCluster", name: workload.rayCluster };
  return undefined;
}

/** Whether a grant's spec.ray names any workload the pod belongs to. */
export function rayNamesWorkload(ray: GrantSpecRay, workload: RayWorkload): boolean {
  return namedRayWorkload(ray, workload) !== undefined;
}
