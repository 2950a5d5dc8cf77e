// The test API server has no kubelet, scheduler or controller-manager
// (DESIGN.md, "Verified on this machine"): pods stay Pending and Jobs never
// get pods. KubeRay waits for both, so these helpers do exactly the part of
// those components' work it needs, through the same API calls they make.
import { BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Job, type V1Pod } from "@kubernetes/client-node";
import { eventually } from "../harness/kube.js";

/**
 * What a kubelet reports once a pod's containers run and pass their probes:
 * phase Running, the Ready conditions and a pod IP, written through the
 * status subresource. KubeRay's RayCluster turns Ready when every Ray pod
 * is Running with Ready=True (utils.CheckAllPodsRunning).
 */
export async function reportPodRunningAndReady(kc: KubeConfig, pod: V1Pod, podIp: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const now = new Date();
  const conditions = ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map((type) => ({ type, status: "True", lastTransitionTime: now }));
  await core.patchNamespacedPodStatus(
    {
      name: pod.metadata!.name!,
      namespace: pod.metadata!.namespace!,
      body: { status: { phase: "Running", conditions, podIP: podIp, podIPs: [{ ip: podIp }], hostIP: "127.0.0.1", startTime: now } },
    },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
}

/** Marks every pod of a RayCluster Running and Ready once KubeRay has created `count` of them. */
export async function reportRayClusterPodsReady(kc: KubeConfig, namespace: string, rayCluster: string, count: number): Promise<V1Pod[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const pods = await eventually(`${count} pods of RayCluster ${rayCluster}`, async () => {
    const list = await core.listNamespacedPod({ namespace, labelSelector: `ray.io/cluster=${rayCluster}` });
    return list.items.length === count ? list.items : undefined;
  });
  await Promise.all(pods.map((pod, index) => reportPodRunningAndReady(kc, pod, `10.244.0.${index + 10}`)));
  return pods;
}

/**
 * The pod the Job controller creates for a Job: the Job's pod template as it
 * is (the API server already added job-name, batch.kubernetes.io/job-name,
 * controller-uid and batch.kubernetes.io/controller-uid to it when the Job was
 * created; set again here so the pod carries them whatever the server
 * version), a generated name and the Job as controlling owner. The real
 * controller also adds the batch.kubernetes.io/job-tracking finalizer; it is
 * left out because nothing here would ever remove it.
 */
export async function createJobPod(kc: KubeConfig, job: V1Job): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = job.metadata!.name!;
  const uid = job.metadata!.uid!;
  const template = job.spec!.template;
  return core.createNamespacedPod({
    namespace: job.metadata!.namespace!,
    body: {
      metadata: {
        generateName: `${name}-`,
        labels: {
          ...template.metadata?.labels,
          "job-name": name,
          "batch.kubernetes.io/job-name": name,
          "controller-uid": uid,
          "batch.kubernetes.io/controller-uid": uid,
        },
        annotations: template.metadata?.annotations,
        ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name, uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: template.spec,
    },
  });
}

/** Waits for the Job KubeRay creates for a RayJob's submitter (named after the RayJob). */
export async function waitForSubmitterJob(kc: KubeConfig, namespace: string, rayJob: string, timeoutMs = 60_000): Promise<V1Job> {
  const batch = kc.makeApiClient(BatchV1Api);
  return eventually(`the submitter Job of RayJob ${rayJob}`, async () => batch.readNamespacedJob({ name: rayJob, namespace }), timeoutMs);
}
