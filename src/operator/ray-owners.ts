// The owners of Ray pods as the webhook reads them: RayClusters and
// KubeRay's submitter Jobs, each cached as metadata only (name, uid, labels,
// owner references), and read directly when a pod arrives before its owner
// reached the cache. Submitter Jobs are watched through KubeRay's own label
// (ray.io/originated-from-crd=RayJob), so no other Job is ever held.
// Without KubeRay's CRDs there is nothing to cache: the operator says so
// once, looks again every minute, and direct reads answer "no such owner".
import { BatchV1Api, CustomObjectsApi, type KubeConfig, type V1Job } from "@kubernetes/client-node";
import { isNotFound } from "../shared/kube/client.js";
import { Informer, type InformerLogger, type SupervisedCache } from "../shared/kube/informer.js";
import { withSignal } from "../shared/kube/request-signal.js";
import type { Logger } from "../shared/logger.js";
import { ORIGINATED_FROM_CRD_LABEL, RAY_API_VERSION, type OwnerRecord, type OwnerReference, type RayPodOwner } from "../shared/ray-workload.js";
import type { RayOwnerSource } from "../webhook/ray-resolution.js";

const RAY_GROUP = "ray.io";
const RAY_VERSION = "v1";
const CRD_RECHECK_MS = 60_000;

interface ObjectWithMetadata {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly OwnerReference[];
  };
}

interface CachedOwner extends OwnerRecord {
  readonly namespace: string;
}

export function ownerRecord(object: ObjectWithMetadata): CachedOwner {
  const metadata = object.metadata ?? {};
  return {
    namespace: metadata.namespace ?? "",
    name: metadata.name ?? "",
    uid: metadata.uid ?? "",
    labels: { ...metadata.labels },
    ownerReferences: (metadata.ownerReferences ?? []).map(({ apiVersion, kind, name, uid, controller }) => ({
      apiVersion,
      kind,
      name,
      uid,
      ...(controller === undefined ? {} : { controller }),
    })),
  };
}

export interface RayOwners extends RayOwnerSource {
  /** Calls `listener` with the namespace of every RayCluster or submitter Job that comes, changes or goes. */
  onChange(listener: (namespace: string) => void): void;
  /** The informers running now, for the watchdog (the RayCluster one only once KubeRay's CRDs exist). */
  caches(): SupervisedCache[];
  stop(): Promise<void>;
}

export function startRayOwners(kubeConfig: KubeConfig, logger: Logger): RayOwners {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const batch = kubeConfig.makeApiClient(BatchV1Api);
  const informerLogger: InformerLogger = logger;
  const jobs = new Informer<V1Job, CachedOwner>({
    name: "kuberay-submitter-jobs",
    kubeConfig,
    logger: informerLogger,
    watchPath: "/apis/batch/v1/jobs",
    labelSelector: `${ORIGINATED_FROM_CRD_LABEL}=RayJob`,
    list: async ({ limit, continueToken }) => {
      const page = await batch.listJobForAllNamespaces({
        labelSelector: `${ORIGINATED_FROM_CRD_LABEL}=RayJob`,
        limit,
        ...(continueToken ? { _continue: continueToken } : {}),
      });
      return { items: page.items, resourceVersion: page.metadata?.resourceVersion ?? "", continueToken: page.metadata?._continue };
    },
    transform: (job) => ownerRecord(job as ObjectWithMetadata),
    namespaceOf: (record) => record.namespace,
    nameOf: (record) => record.name,
  });
  const rayClusters = new Informer<ObjectWithMetadata, CachedOwner>({
    name: "rayclusters",
    kubeConfig,
    logger: informerLogger,
    watchPath: `/apis/${RAY_GROUP}/${RAY_VERSION}/rayclusters`,
    list: async ({ limit, continueToken }) => {
      const page = (await custom.listClusterCustomObject({
        group: RAY_GROUP,
        version: RAY_VERSION,
        plural: "rayclusters",
        limit,
        ...(continueToken ? { _continue: continueToken } : {}),
      })) as { items: ObjectWithMetadata[]; metadata: { resourceVersion: string; continue?: string } };
      return { items: page.items, resourceVersion: page.metadata.resourceVersion, continueToken: page.metadata.continue };
    },
    transform: ownerRecord,
    namespaceOf: (record) => record.namespace,
    nameOf: (record) => record.name,
  });

  jobs.start();
  let rayClustersStarted = false;
  let recheck: NodeJS.Timeout | undefined;
  let saidMissing = false;
  const startRayClustersWhenServed = async (): Promise<void> => {
    const served = await rayClustersServed(custom).catch((error: unknown) => {
      logger.warn({ err: error }, "could not tell whether KubeRay's CRDs are installed; asking again");
      return "unknown" as const;
    });
    if (served === "unknown") {
      recheck = setTimeout(() => void startRayClustersWhenServed(), 5_000);
      recheck.unref();
      return;
    }
    if (served) {
      rayClustersStarted = true;
      rayClusters.start();
      logger.info({ apiVersion: RAY_API_VERSION }, "KubeRay's RayCluster API is served: caching RayClusters for grants that name Ray workloads");
      return;
    }
    if (!saidMissing) {
      saidMissing = true;
      logger.info(
        { apiVersion: RAY_API_VERSION, recheckSeconds: CRD_RECHECK_MS / 1000 },
        "KubeRay's CRDs are not installed (no ray.io/v1 RayCluster API): grants that name Ray workloads select no pod until they are; label grants work as usual",
      );
    }
    recheck = setTimeout(() => void startRayClustersWhenServed(), CRD_RECHECK_MS);
    recheck.unref();
  };
  void startRayClustersWhenServed();

  return {
    cached(owner, namespace) {
      const cache = owner.kind === "RayCluster" ? rayClusters : jobs;
      return cache.get(namespace, owner.name);
    },
    async read(owner, namespace, signal) {
      try {
        const object =
          owner.kind === "RayCluster"
            ? ((await custom.getNamespacedCustomObject(
                { group: RAY_GROUP, version: RAY_VERSION, plural: "rayclusters", namespace, name: owner.name },
                withSignal(signal),
              )) as ObjectWithMetadata)
            : await batch.readNamespacedJob({ namespace, name: owner.name }, withSignal(signal));
        return ownerRecord(object as ObjectWithMetadata);
      } catch (error) {
        // No such object, or (for a RayCluster) no such API: the pod has no Ray owner.
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    onChange(listener) {
      for (const cache of [jobs, rayClusters]) cache.onEvent((event) => listener(event.object.namespace));
    },
    caches: () => (rayClustersStarted ? [jobs, rayClusters] : [jobs]),
    async stop() {
      if (recheck !== undefined) clearTimeout(recheck);
      await Promise.all([jobs.stop(), ...(rayClustersStarted ? [rayClusters.stop()] : [])]);
    },
  };
}

/** Whether the API server serves ray.io/v1 rayclusters; rejects when it cannot tell. */
async function rayClustersServed(custom: CustomObjectsApi): Promise<boolean> {
  try {
    await custom.listClusterCustomObject({ group: RAY_GROUP, version: RAY_VERSION, plural: "rayclusters", limit: 1 });
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}
