// The informers the operator keeps: grants (whole), namespaces and pods
// (slim records: the controller watches every pod, so it keeps only what
// matching and counting read).
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Namespace, type V1Pod } from "@kubernetes/client-node";
import { injectionClaim, type InjectionClaim } from "../injected-agent.js";
import { API_GROUP, API_VERSION } from "../names.js";
import { rayPodOwner, type RayPodOwner } from "../ray-workload.js";
import { GRANT_PLURAL, type Grant } from "../grant.js";
import { POLICY_PLURAL, type Policy } from "../policy.js";
import { Informer, type InformerLogger } from "./informer.js";

export interface NamespaceRecord {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly terminating: boolean;
}

/** What the controller needs of a pod: identity for matching, markers, liveness. */
export interface PodRecord {
  readonly metadata: {
    readonly namespace: string;
    readonly name: string;
    readonly uid: string;
    readonly labels: Readonly<Record<string, string>>;
    /** Only the ddcred.io/ annotations. */
    readonly annotations: Readonly<Record<string, string>>;
    readonly deleting: boolean;
  };
  readonly spec: { readonly serviceAccountName: string };
  /** Its agent as a fingerprint: what the controller checks before counting the pod as injected. */
  readonly injection: InjectionClaim;
  readonly phase: string;
  /** Its RayCluster or (a RayJob's submitter) Job, when one controls it: for grants that name Ray workloads. */
  readonly rayOwner?: RayPodOwner;
}

export function podRecord(pod: V1Pod): PodRecord {
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(pod.metadata?.annotations ?? {})) {
    if (key.startsWith(`${API_GROUP}/`)) annotations[key] = value;
  }
  return {
    metadata: {
      namespace: pod.metadata?.namespace ?? "",
      name: pod.metadata?.name ?? "",
      uid: pod.metadata?.uid ?? "",
      labels: { ...pod.metadata?.labels },
      annotations,
      deleting: Boolean(pod.metadata?.deletionTimestamp),
    },
    spec: { serviceAccountName: pod.spec?.serviceAccountName || "default" },
    injection: injectionClaim(pod),
    phase: pod.status?.phase ?? "Pending",
    ...withRayOwner(pod),
  };
}

function withRayOwner(pod: V1Pod): { rayOwner?: RayPodOwner } {
  const rayOwner = rayPodOwner(pod);
  return rayOwner ? { rayOwner } : {};
}

/** A pod that still runs or will: not finished and not being deleted. */
export function podIsLive(pod: PodRecord): boolean {
  return !pod.metadata.deleting && pod.phase !== "Succeeded" && pod.phase !== "Failed";
}

export function namespaceRecord(namespace: V1Namespace): NamespaceRecord {
  return {
    name: namespace.metadata?.name ?? "",
    labels: { ...namespace.metadata?.labels },
    terminating: namespace.status?.phase === "Terminating",
  };
}

export interface Caches {
  readonly grants: Informer<Grant, Grant>;
  readonly pods: Informer<V1Pod, PodRecord>;
  readonly namespaces: Informer<V1Namespace, NamespaceRecord>;
}

/** A cache of one of our custom resources, kept whole (they are small and few). */
function customObjectInformer<T extends { metadata: { name: string; namespace?: string } }>(
  kubeConfig: KubeConfig,
  logger: InformerLogger,
  plural: string,
): Informer<T, T> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  return new Informer<T, T>({
    name: plural,
    kubeConfig,
    logger,
    watchPath: `/apis/${API_GROUP}/${API_VERSION}/${plural}`,
    list: async ({ limit, continueToken }) => {
      const page = (await api.listClusterCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        plural,
        limit,
        ...(continueToken ? { _continue: continueToken } : {}),
      })) as { items: T[]; metadata: { resourceVersion: string; continue?: string } };
      return { items: page.items, resourceVersion: page.metadata.resourceVersion, continueToken: page.metadata.continue };
    },
    transform: (object) => object,
    // Cluster-scoped objects share one bucket.
    namespaceOf: (object) => object.metadata.namespace ?? "",
    nameOf: (object) => object.metadata.name,
  });
}

export function grantInformer(kubeConfig: KubeConfig, logger: InformerLogger): Informer<Grant, Grant> {
  return customObjectInformer<Grant>(kubeConfig, logger, GRANT_PLURAL);
}

export function policyInformer(kubeConfig: KubeConfig, logger: InformerLogger): Informer<Policy, Policy> {
  return customObjectInformer<Policy>(kubeConfig, logger, POLICY_PLURAL);
}

export function podInformer(kubeConfig: KubeConfig, logger: InformerLogger): Informer<V1Pod, PodRecord> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  return new Informer<V1Pod, PodRecord>({
    name: "pods",
    kubeConfig,
    logger,
    watchPath: "/api/v1/pods",
    list: async ({ limit, continueToken }) => {
      const page = await api.listPodForAllNamespaces({ limit, ...(continueToken ? { _continue: continueToken } : {}) });
      return { items: page.items, resourceVersion: page.metadata?.resourceVersion ?? "", continueToken: page.metadata?._continue };
    },
    transform: podRecord,
    namespaceOf: (pod) => pod.metadata.namespace,
    nameOf: (pod) => pod.metadata.name,
  });
}

export function namespaceInformer(kubeConfig: KubeConfig, logger: InformerLogger): Informer<V1Namespace, NamespaceRecord> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  return new Informer<V1Namespace, NamespaceRecord>({
    name: "namespaces",
    kubeConfig,
    logger,
    watchPath: "/api/v1/namespaces",
    list: async ({ limit, continueToken }) => {
      const page = await api.listNamespace({ limit, ...(continueToken ? { _continue: continueToken } : {}) });
      return { items: page.items, resourceVersion: page.metadata?.resourceVersion ?? "", continueToken: page.metadata?._continue };
    },
    transform: namespaceRecord,
    // Cluster-scoped: one bucket.
    namespaceOf: () => "",
    nameOf: (namespace) => namespace.name,
  });
}

