// RayCluster and RayJob objects shaped as KubeRay's own samples
// (ray-operator/config/samples), created as plain JSON through the custom
// objects API (its body is passed through untouched).
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";

export const RAY_IMAGE = "rayproject/ray:2.46.0";
const RAY = { group: "ray.io", version: "v1" } as const;

export type Labels = Record<string, string>;

/**
 * What a pod template may add to the samples' shape: on the test bed's node
 * the Ray stand-in image, small requests (one 2-core node runs several
 * clusters), a ServiceAccount and IRSA env and volumes.
 */
export interface TemplateOptions {
  readonly image?: string;
  readonly imagePullPolicy?: "Never" | "IfNotPresent";
  readonly resources?: object;
  readonly serviceAccountName?: string;
  readonly env?: readonly object[];
  readonly volumeMounts?: readonly object[];
  readonly volumes?: readonly object[];
}

function podTemplate(containerName: string, labels: Labels, options: TemplateOptions = {}) {
  return {
    metadata: { labels },
    spec: {
      ...(options.serviceAccountName ? { serviceAccountName: options.serviceAccountName } : {}),
      ...(options.volumes ? { volumes: options.volumes } : {}),
      containers: [
        {
          name: containerName,
          image: options.image ?? RAY_IMAGE,
          ...(options.imagePullPolicy ? { imagePullPolicy: options.imagePullPolicy } : {}),
          ...(options.env ? { env: options.env } : {}),
          ...(options.volumeMounts ? { volumeMounts: options.volumeMounts } : {}),
          resources: options.resources ?? { limits: { cpu: "1", memory: "2Gi" }, requests: { cpu: "500m", memory: "1Gi" } },
          ...(containerName === "ray-head"
            ? {
                ports: [
                  { containerPort: 6379, name: "gcs-server" },
                  { containerPort: 8265, name: "dashboard" },
                  { containerPort: 10001, name: "client" },
                ],
              }
            : {}),
        },
      ],
    },
  };
}

export function rayClusterSpec(options: { labels: Labels; workers: number; template?: TemplateOptions }) {
  return {
    rayVersion: "2.46.0",
    headGroupSpec: { rayStartParams: {}, template: podTemplate("ray-head", options.labels, options.template) },
    workerGroupSpecs: [
      {
        groupName: "cpu",
        replicas: options.workers,
        minReplicas: 1,
        maxReplicas: 5,
        rayStartParams: {},
        template: podTemplate("ray-worker", options.labels, options.template),
      },
    ],
  };
}

export async function createRayCluster(kc: KubeConfig, namespace: string, name: string, spec: ReturnType<typeof rayClusterSpec>): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...RAY,
    plural: "rayclusters",
    namespace,
    body: { apiVersion: "ray.io/v1", kind: "RayCluster", metadata: { name, namespace }, spec },
  });
}

export async function scaleWorkerGroup(kc: KubeConfig, namespace: string, name: string, replicas: number): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
    { ...RAY, plural: "rayclusters", namespace, name, body: [{ op: "replace", path: "/spec/workerGroupSpecs/0/replicas", value: replicas }] },
    setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
  );
}

/** A RayJob in K8sJobMode (the default): KubeRay generates its RayCluster, then a submitter Job. */
export async function createRayJob(
  kc: KubeConfig,
  namespace: string,
  name: string,
  options: { clusterLabels: Labels; submitterLabels: Labels; workers: number; template?: TemplateOptions; entrypoint?: string },
): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...RAY,
    plural: "rayjobs",
    namespace,
    body: {
      apiVersion: "ray.io/v1",
      kind: "RayJob",
      metadata: { name, namespace },
      spec: {
        entrypoint: options.entrypoint ?? "python -c 'import ray; ray.init(); print(ray.cluster_resources())'",
        submitterPodTemplate: submitterTemplate(options.submitterLabels, options.template),
        rayClusterSpec: rayClusterSpec({ labels: options.clusterLabels, workers: options.workers, ...(options.template ? { template: options.template } : {}) }),
      },
    },
  });
}

function submitterTemplate(labels: Labels, options: TemplateOptions = {}) {
  const { metadata, spec } = podTemplate("ray-job-submitter", labels, options);
  return { metadata, spec: { ...spec, restartPolicy: "Never" } };
}

/** A Serve config of one application, as a RayService's `serveConfigV2` carries it (YAML, passed on to Ray as is). */
const SERVE_CONFIG = [
  "applications:",
  "  - name: telemetry",
  "    import_path: telemetry.app:reporter",
  "    route_prefix: /",
  "    deployments:",
  "      - name: Reporter",
  "        num_replicas: 1",
].join("\n");

/**
 * A RayService (the default NewCluster upgrade strategy): KubeRay creates a
 * RayCluster for it, deploys the Serve config there, and on a change to
 * `rayClusterConfig` prepares a new cluster, switches to it once its Serve
 * applications run, and deletes the old one after `deletionDelaySeconds`.
 */
export async function createRayService(
  kc: KubeConfig,
  namespace: string,
  name: string,
  options: { labels: Labels; workers: number; template?: TemplateOptions; deletionDelaySeconds?: number },
): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...RAY,
    plural: "rayservices",
    namespace,
    body: {
      apiVersion: "ray.io/v1",
      kind: "RayService",
      metadata: { name, namespace },
      spec: {
        serveConfigV2: SERVE_CONFIG,
        ...(options.deletionDelaySeconds === undefined ? {} : { rayClusterDeletionDelaySeconds: options.deletionDelaySeconds }),
        rayClusterConfig: withServePort(rayClusterSpec({ labels: options.labels, workers: options.workers, ...(options.template ? { template: options.template } : {}) })),
      },
    },
  });
}

/** A RayService's head declares the Serve port (8000, named `serve`), as KubeRay's sample does: KubeRay builds the Serve Service from it. */
function withServePort(spec: ReturnType<typeof rayClusterSpec>): ReturnType<typeof rayClusterSpec> {
  const [head] = spec.headGroupSpec.template.spec.containers;
  const ports = [...(head!.ports ?? []), { containerPort: 8000, name: "serve" }];
  return {
    ...spec,
    headGroupSpec: { ...spec.headGroupSpec, template: { ...spec.headGroupSpec.template, spec: { ...spec.headGroupSpec.template.spec, containers: [{ ...head!, ports }] } } },
  };
}

/** Changes the head's pod template (an annotation): KubeRay upgrades the RayService to a new RayCluster. */
export async function upgradeRayService(kc: KubeConfig, namespace: string, name: string, revision: string): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
    {
      ...RAY,
      plural: "rayservices",
      namespace,
      name,
      body: { spec: { rayClusterConfig: { headGroupSpec: { template: { metadata: { annotations: { "example.com/revision": revision } } } } } } },
    },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
}

export interface RayServiceStatus {
  readonly activeServiceStatus?: { readonly rayClusterName?: string; readonly applicationStatuses?: Record<string, { readonly status?: string }> };
  readonly pendingServiceStatus?: { readonly rayClusterName?: string };
  readonly conditions?: readonly { readonly type: string; readonly status: string; readonly reason?: string }[];
}

export async function readRayServiceStatus(kc: KubeConfig, namespace: string, name: string): Promise<RayServiceStatus> {
  const service = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...RAY, plural: "rayservices", namespace, name })) as { status?: RayServiceStatus };
  return service.status ?? {};
}

/** What KubeRay reports of a RayJob: its deployment status and the Ray job's own status. */
export interface RayJobStatus {
  readonly jobDeploymentStatus?: string;
  readonly jobStatus?: string;
  readonly jobId?: string;
  readonly message?: string;
  readonly reason?: string;
}

export async function readRayJobStatus(kc: KubeConfig, namespace: string, name: string): Promise<RayJobStatus> {
  const job = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...RAY, plural: "rayjobs", namespace, name })) as { status?: RayJobStatus };
  return job.status ?? {};
}

/** The name of the RayCluster KubeRay generated for a RayJob, once it has one. */
export async function rayJobClusterName(kc: KubeConfig, namespace: string, name: string): Promise<string | undefined> {
  const job = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...RAY, plural: "rayjobs", namespace, name })) as {
    status?: { rayClusterName?: string };
  };
  return job.status?.rayClusterName || undefined;
}

/**
 * Removes KubeRay's finalizers and deletes every Ray object in the
 * namespace: with no garbage collector here, and KubeRay stopped, nothing
 * else would.
 */
export async function deleteRayObjects(kc: KubeConfig, namespace: string): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  for (const plural of ["rayservices", "rayjobs", "rayclusters"]) {
    const list = (await custom.listNamespacedCustomObject({ ...RAY, plural, namespace })) as { items: { metadata: { name: string; finalizers?: string[] } }[] };
    for (const item of list.items) {
      if (item.metadata.finalizers?.length) {
        await custom.patchNamespacedCustomObject(
          { ...RAY, plural, namespace, name: item.metadata.name, body: { metadata: { finalizers: null } } },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        );
      }
    }
    await custom.deleteCollectionNamespacedCustomObject({ ...RAY, plural, namespace });
  }
}
