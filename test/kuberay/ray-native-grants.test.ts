// Grants that name KubeRay workloads, with KubeRay's real operator (v1.5.0)
// creating the pods from its own sample manifests (its Go module's
// config/samples), applied unmodified: no label added to any Ray manifest.
// Pods are stored here, never run, so a RayJob never reaches the point where
// KubeRay creates its submitter Job; that Job and its pod are made here with
// exactly the labels and owner references KubeRay and the Job controller give
// them (ray-operator/controllers/ray/rayjob_controller.go).
import { BatchV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { adminKubeConfig } from "../harness/cluster.js";
import { createGrant, createNamespace, deleteNamespace, eventually, grantSpec, waitForGrant } from "../harness/kube.js";
import { hasAgent, startWebhookOperator, waitUntilInjecting, type WebhookOperator } from "../harness/webhook-operator.js";
import type { GrantSpec } from "../../src/shared/grant.js";
import { installKubeRayCrds, KUBERAY_VERSION, startKubeRay, type KubeRayProcess } from "./kuberay-operator.js";
import { createRayCluster, deleteRayObjects, rayClusterSpec, scaleWorkerGroup } from "./ray-objects.js";

const RAY = { group: "ray.io", version: "v1" } as const;
const PLURALS: Record<string, string> = { RayCluster: "rayclusters", RayJob: "rayjobs", RayService: "rayservices" };
const PROBE_LABEL = { "ddcred-test/probe": "yes" };

let admin: KubeConfig;
let core: CoreV1Api;
let webhook: WebhookOperator | undefined;
let kuberay: KubeRayProcess | undefined;
let namespace = "";

function samplesDirectory(): string {
  const cache = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
  return join(cache, `github.com/ray-project/kuberay/ray-operator@v${KUBERAY_VERSION}/config/samples`);
}

/** Creates every object of one of KubeRay's sample files as it is written. */
async function applySample(file: string): Promise<void> {
  const custom = admin.makeApiClient(CustomObjectsApi);
  // YAML 1.1, as kubectl reads it: the autoscaler sample's defaultMode 0777 is octal.
  for (const document of parseAllDocuments(readFileSync(join(samplesDirectory(), file), "utf8"), { version: "1.1" })) {
    const object = document.toJS() as { kind: string; metadata: { name: string } };
    if (object.kind === "ConfigMap") {
      await core.createNamespacedConfigMap({ namespace, body: object }).catch((error: { code?: number }) => {
        if (error.code !== 409) throw error; // two samples share one ConfigMap
      });
    } else {
      await custom.createNamespacedCustomObject({ ...RAY, plural: PLURALS[object.kind]!, namespace, body: object });
    }
  }
}

function rayGrant(ray: GrantSpec["ray"]): GrantSpec {
  const { podSelector: _selector, ...spec } = grantSpec();
  return { ...spec, ray };
}

async function podsOf(labelSelector: string): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace, labelSelector })).items;
}

async function rayObject(plural: string, name: string): Promise<{ metadata: { uid: string }; status?: { rayClusterName?: string } }> {
  return (await admin.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...RAY, plural, namespace, name })) as never;
}

/** The pods KubeRay made for a RayCluster, once there are `count`. */
function clusterPods(cluster: string, count: number): Promise<V1Pod[]> {
  return eventually(`KubeRay to create ${count} pods of RayCluster ${cluster}`, async () => {
    const pods = await podsOf(`ray.io/cluster=${cluster}`);
    return pods.length === count ? pods : undefined;
  });
}

beforeAll(async () => {
  const cluster = inject("cluster");
  admin = adminKubeConfig(cluster);
  core = admin.makeApiClient(CoreV1Api);
  // KubeRay first, as a cluster has it before grants name its workloads: the
  // operator then caches RayClusters from its start.
  await installKubeRayCrds(cluster);
  webhook = await startWebhookOperator(cluster, {}, "kuberay-native");
  namespace = await createNamespace(admin, { prefix: "kr-native", injection: true, labels: webhook.scopeLabel });
  await createGrant(admin, namespace, "cluster", rayGrant({ rayClusters: ["raycluster-kuberay"] }));
  await createGrant(admin, namespace, "autoscaled", rayGrant({ rayClusters: ["raycluster-autoscaler"] }));
  await createGrant(admin, namespace, "job", rayGrant({ rayJobs: ["rayjob-sample"] }));
  await createGrant(admin, namespace, "sidecar", rayGrant({ rayJobs: ["rayjob-sidecar-mode"] }));
  await createGrant(admin, namespace, "service", rayGrant({ rayServices: ["rayservice-sample"] }));
  // Written last: once a pod it selects is injected, the webhook's cache holds every grant above.
  await createGrant(admin, namespace, "probe", grantSpec({ podSelector: { matchLabels: PROBE_LABEL } }));
  await waitUntilInjecting(admin, namespace, { metadata: { name: "probe", labels: PROBE_LABEL }, spec: { containers: [{ name: "main", image: "registry.example/app:1" }] } });
  kuberay = await startKubeRay(cluster, [namespace]);
});

afterAll(async () => {
  await kuberay?.stop();
  if (namespace) {
    await deleteRayObjects(admin, namespace).catch(() => undefined);
    await admin.makeApiClient(BatchV1Api).deleteCollectionNamespacedJob({ namespace }).catch(() => undefined);
    await deleteNamespace(admin, namespace);
  }
  await webhook?.stop();
});

describe("a grant naming KubeRay's sample RayCluster", () => {
  it("gets the head and the worker injected, with no label added to the manifest", async () => {
    await applySample("ray-cluster.sample.yaml");
    const pods = await clusterPods("raycluster-kuberay", 2);
    expect(pods.map(hasAgent)).toEqual([true, true]);
    for (const pod of pods) expect(pod.metadata?.annotations?.["ddcred.io/injected"]).toBe("cluster");
  });

  it("has the grant count the head and the worker as injected pods", async () => {
    const grant = await waitForGrant(admin, namespace, "cluster", (g) => g.status?.injectedPods === 2);
    expect(grant.status).toMatchObject({ injectedPods: 2, missedPods: 0, stalePods: 0 });
    expect(grant.status?.rayWorkloads).toEqual([{ kind: "RayCluster", name: "raycluster-kuberay", injectedPods: 2, missedPods: 0 }]);
  });
});

describe("a grant naming KubeRay's autoscaler sample", () => {
  it("gets the head, with its autoscaler sidecar, and every worker the autoscaler asks for injected", async () => {
    await applySample("ray-cluster.autoscaler.yaml");
    // The sample starts with no worker (replicas: 0).
    const [head] = await clusterPods("raycluster-autoscaler", 1);
    expect(head?.spec?.containers.map((container) => container.name)).toEqual(["ray-head", "autoscaler"]);
    expect(hasAgent(head!)).toBe(true);
    // What Ray's autoscaler does to add workers: raise the group's replicas.
    await scaleWorkerGroup(admin, namespace, "raycluster-autoscaler", 3);
    const scaled = await clusterPods("raycluster-autoscaler", 4);
    expect(scaled.map(hasAgent)).toEqual([true, true, true, true]);
    expect(scaled.map((pod) => pod.metadata?.annotations?.["ddcred.io/injected"])).toEqual(["autoscaled", "autoscaled", "autoscaled", "autoscaled"]);
  });
});

describe("a grant naming KubeRay's sample RayJob (K8sJobMode)", () => {
  let clusterName = "";

  beforeAll(async () => {
    await applySample("ray-job.sample.yaml");
    clusterName = await eventually("KubeRay to name the RayJob's cluster", async () => (await rayObject("rayjobs", "rayjob-sample")).status?.rayClusterName);
  });

  it("gets the pods of the RayCluster KubeRay generates for it injected", async () => {
    const pods = await clusterPods(clusterName, 2);
    expect(clusterName).not.toBe("rayjob-sample");
    expect(pods.map(hasAgent)).toEqual([true, true]);
    for (const pod of pods) expect(pod.metadata?.annotations?.["ddcred.io/injected"]).toBe("job");
  });

  it("gets the submitter pod of its submitter Job injected, though that pod carries no ray.io label", async () => {
    const rayJob = await rayObject("rayjobs", "rayjob-sample");
    const job = await admin.makeApiClient(BatchV1Api).createNamespacedJob({
      namespace,
      body: {
        metadata: {
          name: "rayjob-sample",
          labels: { "ray.io/originated-from-cr-name": "rayjob-sample", "ray.io/originated-from-crd": "RayJob", "app.kubernetes.io/created-by": "kuberay-operator" },
          ownerReferences: [{ apiVersion: "ray.io/v1", kind: "RayJob", name: "rayjob-sample", uid: rayJob.metadata.uid, controller: true, blockOwnerDeletion: true }],
        },
        spec: { backoffLimit: 2, template: { spec: { restartPolicy: "Never", containers: [{ name: "ray-job-submitter", image: "rayproject/ray:2.46.0" }] } } },
      },
    });
    const submitter = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: {
          generateName: "rayjob-sample-",
          labels: { "batch.kubernetes.io/job-name": "rayjob-sample", "job-name": "rayjob-sample", "batch.kubernetes.io/controller-uid": job.metadata!.uid! },
          ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "rayjob-sample", uid: job.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
        },
        spec: { restartPolicy: "Never", containers: [{ name: "ray-job-submitter", image: "rayproject/ray:2.46.0" }] },
      },
    });
    expect(hasAgent(submitter)).toBe(true);
    expect(submitter.metadata?.annotations?.["ddcred.io/injected"]).toBe("job");
  });

  it("has the grant count the cluster's pods and the submitter as injected pods", async () => {
    const grant = await waitForGrant(admin, namespace, "job", (g) => g.status?.injectedPods === 3);
    expect(grant.status).toMatchObject({ injectedPods: 3, missedPods: 0, stalePods: 0 });
    expect(grant.status?.rayWorkloads).toEqual([{ kind: "RayJob", name: "rayjob-sample", injectedPods: 3, missedPods: 0 }]);
  });

  it("leaves a pod of a plain Job of the same name alone when it is no RayJob's submitter", async () => {
    const job = await admin.makeApiClient(BatchV1Api).createNamespacedJob({
      namespace,
      body: {
        metadata: { name: "backfill", labels: { "ray.io/originated-from-cr-name": "rayjob-sample" } },
        spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image: "registry.example/app:1" }] } } },
      },
    });
    const pod = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { generateName: "backfill-", ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "backfill", uid: job.metadata!.uid!, controller: true }] },
        spec: { restartPolicy: "Never", containers: [{ name: "main", image: "registry.example/app:1" }] },
      },
    });
    expect(hasAgent(pod)).toBe(false);
  });
});

describe("a grant naming KubeRay's SidecarMode RayJob sample", () => {
  it("gets the head pod, which carries the submitter container, and the workers injected", async () => {
    await applySample("ray-job.sidecar-mode.yaml");
    const clusterName = await eventually("KubeRay to name the RayJob's cluster", async () => (await rayObject("rayjobs", "rayjob-sidecar-mode")).status?.rayClusterName);
    const pods = await clusterPods(clusterName, 2);
    const [head] = pods.filter((pod) => pod.metadata?.labels?.["ray.io/node-type"] === "head");
    expect(head?.spec?.containers.length).toBeGreaterThan(1);
    expect(pods.map(hasAgent)).toEqual([true, true]);
    for (const pod of pods) expect(pod.metadata?.annotations?.["ddcred.io/injected"]).toBe("sidecar");
  });
});

describe("a grant naming KubeRay's sample RayService", () => {
  it("gets the pods of the RayCluster KubeRay creates for it injected", async () => {
    await applySample("ray-service.sample.yaml");
    const pods = await eventually("KubeRay to create the RayService's cluster pods", async () => {
      const found = (await podsOf("ray.io/is-ray-node=yes")).filter((pod) => pod.metadata?.labels?.["ray.io/cluster"]?.startsWith("rayservice-sample-"));
      return found.length >= 2 ? found : undefined;
    });
    expect(pods.map(hasAgent)).toEqual(pods.map(() => true));
    for (const pod of pods) expect(pod.metadata?.annotations?.["ddcred.io/injected"]).toBe("service");
  });
});

describe("a RayCluster two grants name", () => {
  it("gets no agent, and both grants report the conflict and the missed pods", async () => {
    await createGrant(admin, namespace, "contested-a", rayGrant({ rayClusters: ["contested"] }));
    await createGrant(admin, namespace, "contested-b", rayGrant({ rayClusters: ["contested"] }));
    await waitUntilInjecting(admin, namespace, { metadata: { name: "probe", labels: PROBE_LABEL }, spec: { containers: [{ name: "main", image: "registry.example/app:1" }] } });
    await createRayCluster(admin, namespace, "contested", rayClusterSpec({ labels: {}, workers: 1 }));
    const pods = await clusterPods("contested", 2);
    expect(pods.map(hasAgent)).toEqual([false, false]);
    for (const name of ["contested-a", "contested-b"]) {
      const grant = await waitForGrant(admin, namespace, name, (g) => g.status?.missedPods === 2);
      expect(grant.status?.conditions?.[0]).toMatchObject({ status: "False", reason: "ConflictingGrants" });
      expect(grant.status?.rayWorkloads).toEqual([{ kind: "RayCluster", name: "contested", injectedPods: 0, missedPods: 2 }]);
    }
  });
});

describe("a RayCluster no grant names", () => {
  it("gets no agent, while KubeRay still creates its pods", async () => {
    await createRayCluster(admin, namespace, "unnamed", rayClusterSpec({ labels: {}, workers: 1 }));
    const pods = await clusterPods("unnamed", 2);
    expect(pods.map(hasAgent)).toEqual([false, false]);
  });
});
