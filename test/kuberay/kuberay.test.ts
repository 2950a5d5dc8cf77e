// KubeRay's real operator (v1.5.0) creating Ray pods through ddcred's real
// webhook: what the API server stores is what a KubeRay user would get.
// KubeRay watches only this file's namespaces; ddcred's webhook is scoped to
// them by a label of this file's own. Pods are stored here, never run: the
// RayJobs, whose submitter KubeRay creates only once its RayCluster's pods are
// ready, run on the test bed's node (test/node/kuberay.test.ts).
import { BatchV1Api, CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ClusterInfo } from "../harness/cluster.js";
import { adminKubeConfig } from "../harness/cluster.js";
import { createGrant, createNamespace, deleteNamespace, eventually, grantSpec, waitForGrant } from "../harness/kube.js";
import type { GrantSpec } from "../../src/shared/grant.js";
import { AGENT_IMAGE, hasAgent, startWebhookOperator, waitUntilInjecting, type WebhookOperator } from "../harness/webhook-operator.js";
import { installKubeRayCrds, startKubeRay, type KubeRayProcess } from "./kuberay-operator.js";
import { createRayCluster, deleteRayObjects, rayClusterSpec, scaleWorkerGroup } from "./ray-objects.js";

const TEAM_LABEL = { "datadog-credentials": "ray-training" };
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
const namespaces = { rayCluster: "", scaling: "" };
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
  [namespaces.rayCluster, namespaces.scaling] = await Promise.all([
    namespaceWithGrant("kr-cluster", "ray-training", teamGrant, TEAM_LABEL),
    namespaceWithGrant("kr-scale", "ray-training", teamGrant, TEAM_LABEL),
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
