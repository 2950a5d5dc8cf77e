// KubeRay's real operator (v1.5.0) creating Ray pods through ddcred's real
// webhook: what the API server stores is what a KubeRay user would get.
// KubeRay watches only this file's namespaces; ddcred's webhook is scoped to
// them by a label of this file's own. The test API server runs no kubelet or
// job controller, so emulated-node.ts plays their part where KubeRay waits
// on them (pod readiness, the submitter Job's pod).
import { BatchV1Api, CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ClusterInfo } from "../harness/cluster.js";
import { adminKubeConfig } from "../harness/cluster.js";
import { createGrant, createNamespace, createPod, deleteNamespace, eventually, grantSpec, simplePod, waitForGrant } from "../harness/kube.js";
import type { GrantSpec } from "../../src/shared/grant.js";
import { AGENT_IMAGE, hasAgent, startWebhookOperator, waitUntilInjecting, type WebhookOperator } from "../harness/webhook-operator.js";
import { createJobPod, reportRayClusterPodsReady, waitForSubmitterJob } from "./emulated-node.js";
import { installKubeRayCrds, startKubeRay, type KubeRayProcess } from "./kuberay-operator.js";
import { createRayCluster, createRayJob, deleteRayObjects, rayClusterSpec, rayJobClusterName, scaleWorkerGroup } from "./ray-objects.js";

const TEAM_LABEL = { "datadog-credentials": "ray-training" };
const RAY_NODE_LABEL = { "ray.io/is-ray-node": "yes" };
const KUBERAY_LABEL_KEYS = ["ray.io/cluster", "ray.io/node-type", "ray.io/group", "ray.io/is-ray-node", "app.kubernetes.io/created-by"];
const INJECTED_ENV = [
  "DD_SITE",
  "DDCRED_ENDPOINT",
  "DD_BEARER_TOKEN_FILE",
  "AWS_CONFIG_FILE",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
  "AWS_REGION",
];

let cluster: ClusterInfo;
let admin: KubeConfig;
let core: CoreV1Api;
let webhook: WebhookOperator | undefined;
let kuberay: KubeRayProcess | undefined;
const namespaces = { rayCluster: "", scaling: "", rayJob: "", rayLabelsOnly: "" };
const created: string[] = [];

async function podsOf(namespace: string, labelSelector: string): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace, labelSelector })).items;
}

function byNodeType(pods: V1Pod[], type: "head" | "worker"): V1Pod[] {
  return pods.filter((pod) => pod.metadata?.labels?.["ray.io/node-type"] === type);
}

function envNames(pod: V1Pod): string[] {
  return (pod.spec?.containers[0]?.env ?? []).map((variable) => variable.name);
}

async function namespaceWithGrant(prefix: string, grantName: string, spec: GrantSpec, probeLabels: Record<string, string>): Promise<string> {
  const name = await createNamespace(admin, { prefix, injection: true, labels: webhook!.scopeLabel });
  created.push(name);
  await createGrant(admin, name, grantName, spec);
  await waitUntilInjecting(admin, name, { metadata: { name: "probe", labels: probeLabels }, spec: { containers: [{ name: "main", image: "registry.example/app:1" }] } });
  return name;
}

async function setUpNamespaces(): Promise<void> {
  webhook = await startWebhookOperator(cluster, {}, "kuberay");
  const teamGrant = grantSpec({ podSelector: { matchLabels: TEAM_LABEL } });
  [namespaces.rayCluster, namespaces.scaling, namespaces.rayJob, namespaces.rayLabelsOnly] = await Promise.all([
    namespaceWithGrant("kr-cluster", "ray-training", teamGrant, TEAM_LABEL),
    namespaceWithGrant("kr-scale", "ray-training", teamGrant, TEAM_LABEL),
    namespaceWithGrant("kr-job", "ray-training", teamGrant, TEAM_LABEL),
    namespaceWithGrant("kr-raylabels", "ray-nodes", grantSpec({ podSelector: { matchLabels: RAY_NODE_LABEL } }), RAY_NODE_LABEL),
  ]);
}

/** What deleteNamespace leaves behind here, where no garbage collector follows owner references. */
async function deleteKubeRayObjects(namespace: string): Promise<void> {
  await deleteRayObjects(admin, namespace).catch(() => undefined);
  await admin.makeApiClient(BatchV1Api).deleteCollectionNamespacedJob({ namespace }).catch(() => undefined);
  await core.deleteCollectionNamespacedService({ namespace }).catch(() => undefined);
}

beforeAll(async () => {
  cluster = inject("cluster");
  admin = adminKubeConfig(cluster);
  core = admin.makeApiClient(CoreV1Api);
  await Promise.all([installKubeRayCrds(cluster), setUpNamespaces()]);
  kuberay = await startKubeRay(cluster, Object.values(namespaces));
});

afterAll(async () => {
  // KubeRay first, so it recreates nothing while its objects go.
  await kuberay?.stop();
  await Promise.all([
    ...created.map(async (namespace) => {
      await deleteKubeRayObjects(namespace);
      await deleteNamespace(admin, namespace);
    }),
    webhook?.stop(),
  ]);
});

describe("a RayCluster whose head and worker templates carry the team's label", () => {
  let head: V1Pod;
  let worker: V1Pod;

  beforeAll(async () => {
    await createRayCluster(admin, namespaces.rayCluster, "training", rayClusterSpec({ labels: TEAM_LABEL, workers: 1 }));
    const pods = await eventually("KubeRay to create the head and the worker", async () => {
      const found = await podsOf(namespaces.rayCluster, "ray.io/cluster=training");
      return found.length === 2 ? found : undefined;
    });
    [head] = byNodeType(pods, "head") as [V1Pod];
    [worker] = byNodeType(pods, "worker") as [V1Pod];
  });

  it("gives the head and the worker KubeRay creates the agent as a native sidecar first among init containers", () => {
    for (const pod of [head, worker]) {
      expect(pod.spec?.initContainers?.[0]).toMatchObject({ name: "ddcred-agent", image: AGENT_IMAGE, restartPolicy: "Always" });
    }
  });

  it("keeps KubeRay's own wait-gcs-ready init container on the worker, after the agent", () => {
    expect(worker.spec?.initContainers?.map((container) => container.name)).toEqual(["ddcred-agent", "wait-gcs-ready"]);
  });

  it("leaves the Ray container first among containers, with KubeRay's env kept and the credentials env added", () => {
    expect(head.spec?.containers.map((container) => container.name)).toEqual(["ray-head"]);
    expect(worker.spec?.containers.map((container) => container.name)).toEqual(["ray-worker"]);
    for (const pod of [head, worker]) {
      expect(pod.spec?.containers[0]?.args?.join(" ")).toContain("ray start");
      expect(envNames(pod)).toEqual(expect.arrayContaining(["RAY_CLOUD_INSTANCE_ID", "KUBERAY_GEN_RAY_START_CMD", ...INJECTED_ENV]));
      expect(pod.spec?.containers[0]?.volumeMounts).toContainEqual(expect.objectContaining({ name: "ddcred", mountPath: "/var/run/ddcred", readOnly: true }));
    }
  });

  it("keeps KubeRay's labels and adds ddcred's markers", () => {
    expect(head.metadata?.labels).toMatchObject({ "ray.io/cluster": "training", "ray.io/node-type": "head", "ray.io/group": "headgroup" });
    expect(worker.metadata?.labels).toMatchObject({ "ray.io/cluster": "training", "ray.io/node-type": "worker", "ray.io/group": "cpu" });
    for (const pod of [head, worker]) {
      expect(Object.keys(pod.metadata?.labels ?? {})).toEqual(expect.arrayContaining(KUBERAY_LABEL_KEYS));
      expect(pod.metadata?.labels).toMatchObject({ "ray.io/is-ray-node": "yes", "app.kubernetes.io/created-by": "kuberay-operator", "ddcred.io/grant": "ray-training" });
      expect(pod.metadata?.annotations).toMatchObject({ "ddcred.io/injected": "ray-training", "ddcred.io/grant-generation": "1" });
    }
  });

  it("has the grant count the head and the worker as injected pods", async () => {
    const grant = await waitForGrant(admin, namespaces.rayCluster, "ray-training", (g) => g.status?.injectedPods === 2);
    expect(grant.status).toMatchObject({ injectedPods: 2, missedPods: 0 });
  });
});

describe("a RayCluster scaled up", () => {
  it("gets more workers from KubeRay, each injected", async () => {
    const namespace = namespaces.scaling;
    await createRayCluster(admin, namespace, "elastic", rayClusterSpec({ labels: TEAM_LABEL, workers: 1 }));
    await eventually("the first worker", async () => (await podsOf(namespace, "ray.io/node-type=worker")).length === 1);

    await scaleWorkerGroup(admin, namespace, "elastic", 3);
    const workers = await eventually("KubeRay to create two more workers", async () => {
      const found = await podsOf(namespace, "ray.io/cluster=elastic,ray.io/node-type=worker");
      return found.length === 3 ? found : undefined;
    });
    expect(workers.map(hasAgent)).toEqual([true, true, true]);
    const grant = await waitForGrant(admin, namespace, "ray-training", (g) => g.status?.injectedPods === 4);
    expect(grant.status).toMatchObject({ injectedPods: 4, missedPods: 0 });
  });
});

/** Drives one RayJob through KubeRay: its generated cluster's pods, made ready, then the submitter pod. */
async function runRayJob(namespace: string, labels: Record<string, string>): Promise<{ clusterPods: V1Pod[]; submitter: V1Pod }> {
  await createRayJob(admin, namespace, "nightly", { clusterLabels: labels, submitterLabels: labels, workers: 1 });
  const rayCluster = await eventually("KubeRay to generate the RayJob's RayCluster", () => rayJobClusterName(admin, namespace, "nightly"));
  const clusterPods = await reportRayClusterPodsReady(admin, namespace, rayCluster, 2);
  // KubeRay creates the submitter Job only once the RayCluster is Ready.
  const job = await waitForSubmitterJob(admin, namespace, "nightly");
  return { clusterPods, submitter: await createJobPod(admin, job) };
}

describe("RayJobs", () => {
  let withTeamLabel: { clusterPods: V1Pod[]; submitter: V1Pod };
  let withoutTeamLabel: { clusterPods: V1Pod[]; submitter: V1Pod };

  beforeAll(async () => {
    [withTeamLabel, withoutTeamLabel] = await Promise.all([runRayJob(namespaces.rayJob, TEAM_LABEL), runRayJob(namespaces.rayLabelsOnly, {})]);
  });

  describe("a RayJob with the team's label on head, worker and submitter templates", () => {
    it("injects the head and worker pods of the RayCluster KubeRay generates for it", () => {
      const pods = withTeamLabel.clusterPods;
      expect(byNodeType(pods, "head")).toHaveLength(1);
      expect(byNodeType(pods, "worker")).toHaveLength(1);
      expect(pods.map(hasAgent)).toEqual([true, true]);
    });

    it("injects the submitter pod, which carries the Job's labels and the team's but no ray.io label", () => {
      const { submitter } = withTeamLabel;
      const labels = submitter.metadata?.labels ?? {};
      expect(labels).toMatchObject({ ...TEAM_LABEL, "job-name": "nightly", "batch.kubernetes.io/job-name": "nightly" });
      expect(Object.keys(labels).filter((key) => key.startsWith("ray.io/"))).toEqual([]);
      expect(submitter.spec?.initContainers?.[0]).toMatchObject({ name: "ddcred-agent", restartPolicy: "Always" });
      expect(submitter.spec?.containers[0]?.name).toBe("ray-job-submitter");
      expect(envNames(submitter)).toEqual(expect.arrayContaining(["RAY_DASHBOARD_ADDRESS", ...INJECTED_ENV]));
    });

    it("has the grant count head, worker and submitter as injected pods", async () => {
      const grant = await waitForGrant(admin, namespaces.rayJob, "ray-training", (g) => g.status?.injectedPods === 3);
      expect(grant.status).toMatchObject({ injectedPods: 3, missedPods: 0 });
    });
  });

  // The README's point: one selector cannot OR label sets, and the submitter has no ray.io label.
  describe("a RayJob whose grant selects ray.io/is-ray-node=yes instead of a label of the team's", () => {
    it("injects the head and worker pods", () => {
      expect(withoutTeamLabel.clusterPods.map(hasAgent)).toEqual([true, true]);
    });

    it("leaves the submitter pod without credentials", () => {
      expect(hasAgent(withoutTeamLabel.submitter)).toBe(false);
    });

    it("reports the grant Ready with nothing missed, because the grant does not match the submitter at all", async () => {
      // The controller sees a namespace's pods in the order they were created: once its count
      // includes a pod made after the submitter, its status has accounted for the submitter too.
      await createPod(admin, namespaces.rayLabelsOnly, simplePod("created-after-the-submitter", RAY_NODE_LABEL));
      const grant = await waitForGrant(admin, namespaces.rayLabelsOnly, "ray-nodes", (g) => g.status?.injectedPods === 3);
      expect(grant.status).toMatchObject({ injectedPods: 3, missedPods: 0 });
      expect(grant.status?.conditions?.find((condition) => condition.type === "Ready")?.status).toBe("True");
    });
  });
});
