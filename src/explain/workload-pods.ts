// The pods a manifest stands for: a Pod itself, or the pod templates of a
// workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob,
// PodTemplate) or of KubeRay's RayCluster, RayJob and RayService, with the
// labels their controllers add to every pod they create (a grant may select
// on those). Pure: objects in, pods out.
import type { V1Pod } from "@kubernetes/client-node";
import type { RayWorkload } from "../shared/ray-workload.js";

export interface ManifestPod {
  /** Where the pod comes from, for a person: "Deployment payments/web", "RayJob ray/train, worker group gpu". */
  readonly source: string;
  readonly pod: V1Pod;
  /** Labels the workload's controller adds to the pods it creates, which a template does not show. */
  readonly addedLabels: Readonly<Record<string, string>>;
  /** The KubeRay workload the pod belongs to, for grants that name Ray workloads. */
  readonly rayWorkload?: RayWorkload;
}

export type ManifestObject = {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly [key: string]: unknown;
};

type Template = { metadata?: V1Pod["metadata"]; spec?: V1Pod["spec"] };

const TEMPLATE_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"]);

/** Every pod a manifest object stands for; `defaultNamespace` where the object names none. Unknown kinds give an error message. */
export function manifestPods(object: ManifestObject, defaultNamespace: string): { pods: ManifestPod[]; errors: string[] } {
  const kind = object.kind ?? "";
  const name = object.metadata?.name ?? "";
  const namespace = object.metadata?.namespace ?? defaultNamespace;
  const spec = (object as { spec?: any }).spec ?? {};
  const where = `${kind} ${namespace}/${name}`;
  const fromTemplate = (source: string, template: Template | undefined, addedLabels: Record<string, string> = {}): ManifestPod[] =>
    template ? [{ source, pod: podFrom(template, namespace, `${name}-pod`), addedLabels }] : [];

  if (kind === "List") {
    const all = ((object as { items?: ManifestObject[] }).items ?? []).map((item) => manifestPods(item, defaultNamespace));
    return { pods: all.flatMap((r) => r.pods), errors: all.flatMap((r) => r.errors) };
  }
  if (kind === "Pod") {
    return { pods: [{ source: `Pod ${namespace}/${name}`, pod: { ...(object as V1Pod), metadata: { ...(object as V1Pod).metadata, namespace } }, addedLabels: {} }], errors: [] };
  }
  if (kind === "PodTemplate") return { pods: fromTemplate(where, (object as { template?: Template }).template), errors: [] };
  if (TEMPLATE_KINDS.has(kind)) return { pods: fromTemplate(where, spec.template), errors: [] };
  if (kind === "Job") return { pods: fromTemplate(where, spec.template, jobLabels(name)), errors: [] };
  if (kind === "CronJob") return { pods: fromTemplate(`${where}, each Job's pod`, spec.jobTemplate?.spec?.template), errors: [] };
  if (kind === "RayCluster") return { pods: inWorkload(rayClusterPods(where, name, spec, fromTemplate), { rayCluster: name }), errors: [] };
  if (kind === "RayService") {
    const cluster = `${name}-<generated>`;
    return { pods: inWorkload(rayClusterPods(where, cluster, spec.rayClusterConfig ?? {}, fromTemplate), { rayCluster: cluster, rayService: name }), errors: [] };
  }
  if (kind === "RayJob") {
    const cluster = `${name}-<generated>`;
    const pods = inWorkload(rayClusterPods(where, cluster, spec.rayClusterSpec ?? {}, fromTemplate), { rayCluster: cluster, rayJob: name });
    if (spec.submitterPodTemplate) {
      pods.push(...inWorkload(fromTemplate(`${where}, submitter`, spec.submitterPodTemplate, jobLabels(name)), { rayJob: name }));
    } else if ((spec.submissionMode ?? "K8sJobMode") === "K8sJobMode") {
      // KubeRay builds the submitter from the head's image with labels of its own, none from the head's template.
      const submitter = fromTemplate(`${where}, submitter (KubeRay's default: a grant naming the RayJob selects it; a label grant needs spec.submitterPodTemplate with your label)`, {
        metadata: {},
        spec: { restartPolicy: "Never", containers: [{ name: "ray-job-submitter", image: spec.rayClusterSpec?.headGroupSpec?.template?.spec?.containers?.[0]?.image ?? "" }] },
      }, jobLabels(name));
      pods.push(...inWorkload(submitter, { rayJob: name }));
    }
    return { pods, errors: [] };
  }
  return { pods: [], errors: [`${kind || "an object without kind"} ${name}: not a pod or a workload ddcred can read pod templates from`] };
}

function inWorkload(pods: ManifestPod[], rayWorkload: RayWorkload): ManifestPod[] {
  return pods.map((pod) => ({ ...pod, rayWorkload }));
}

function podFrom(template: Template, namespace: string, name: string): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { ...template.metadata, name: template.metadata?.name ?? name, namespace },
    spec: template.spec ?? { containers: [] },
  };
}

function jobLabels(jobName: string): Record<string, string> {
  return { "job-name": jobName, "batch.kubernetes.io/job-name": jobName };
}

function rayClusterPods(
  where: string,
  clusterName: string,
  spec: { headGroupSpec?: { template?: Template }; workerGroupSpecs?: { groupName?: string; template?: Template }[] },
  fromTemplate: (source: string, template: Template | undefined, labels?: Record<string, string>) => ManifestPod[],
): ManifestPod[] {
  const ray = (nodeType: string, group: string) => ({ "ray.io/cluster": clusterName, "ray.io/node-type": nodeType, "ray.io/group": group, "ray.io/is-ray-node": "yes" });
  return [
    ...fromTemplate(`${where}, head`, spec.headGroupSpec?.template, ray("head", "headgroup")),
    ...(spec.workerGroupSpecs ?? []).flatMap((group) => fromTemplate(`${where}, worker group ${group.groupName ?? ""}`, group.template, ray("worker", group.groupName ?? ""))),
  ];
}

/** The pod as its controller creates it: the template's labels plus the controller's own. */
export function podAsCreated(manifestPod: ManifestPod): V1Pod {
  const { pod, addedLabels } = manifestPod;
  if (Object.keys(addedLabels).length === 0) return pod;
  return { ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata?.labels, ...addedLabels } } };
}
