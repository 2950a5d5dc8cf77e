import { describe, expect, it } from "vitest";
import { chooseGrant } from "../../src/shared/grant-choice.js";
import type { Grant, GrantSpec } from "../../src/shared/grant.js";
import { rayPodOwner, rayWorkloadOf, type OwnerRecord, type OwnerReference } from "../../src/shared/ray-workload.js";

// Owner references and labels as KubeRay v1.5.0 writes them (controllers/ray).
const controllerRef = (apiVersion: string, kind: string, name: string, uid: string): OwnerReference => ({
  apiVersion,
  kind,
  name,
  uid,
  controller: true,
});

const rayJobCluster: OwnerRecord = {
  name: "rayjob-sample-x7k2p",
  uid: "uid-cluster",
  labels: { "ray.io/originated-from-cr-name": "rayjob-sample", "ray.io/originated-from-crd": "RayJob" },
  ownerReferences: [controllerRef("ray.io/v1", "RayJob", "rayjob-sample", "uid-job-cr")],
};
const serviceCluster: OwnerRecord = {
  name: "rayservice-sample-raycluster-9hbz2",
  uid: "uid-svc-cluster",
  labels: { "ray.io/originated-from-cr-name": "rayservice-sample", "ray.io/originated-from-crd": "RayService" },
  ownerReferences: [controllerRef("ray.io/v1", "RayService", "rayservice-sample", "uid-svc")],
};
const plainCluster: OwnerRecord = { name: "raycluster-kuberay", uid: "uid-plain", labels: {}, ownerReferences: [] };
const submitterJob: OwnerRecord = {
  name: "rayjob-sample",
  uid: "uid-k8s-job",
  labels: { "ray.io/originated-from-cr-name": "rayjob-sample", "ray.io/originated-from-crd": "RayJob", "app.kubernetes.io/created-by": "kuberay-operator" },
  ownerReferences: [controllerRef("ray.io/v1", "RayJob", "rayjob-sample", "uid-job-cr")],
};

function podOwnedBy(reference: OwnerReference, labels: Record<string, string> = {}) {
  return { metadata: { labels, ownerReferences: [reference] }, spec: {} };
}

function grant(name: string, spec: Partial<GrantSpec>): Grant {
  return {
    metadata: { name, namespace: "ray" },
    spec: { aws: { roleArn: "arn:aws:iam::123456789012:role/x" }, datadog: { orgUuid: "0f8fad5b-d9cb-469f-a165-70867728950e" }, ...spec },
  };
}

describe("rayPodOwner", () => {
  it("names the RayCluster that controls a head or worker pod", () => {
    expect(rayPodOwner(podOwnedBy(controllerRef("ray.io/v1", "RayCluster", "raycluster-kuberay", "uid-plain")))).toEqual({
      kind: "RayCluster",
      name: "raycluster-kuberay",
      uid: "uid-plain",
    });
  });

  it("names the Job that controls a submitter pod", () => {
    expect(rayPodOwner(podOwnedBy(controllerRef("batch/v1", "Job", "rayjob-sample", "uid-k8s-job")))?.kind).toBe("Job");
  });

  it("finds no Ray owner for a pod of a ReplicaSet, or one whose owner reference is not its controller", () => {
    expect(rayPodOwner(podOwnedBy(controllerRef("apps/v1", "ReplicaSet", "web-5d9f", "u")))).toBeUndefined();
    expect(rayPodOwner(podOwnedBy({ apiVersion: "ray.io/v1", kind: "RayCluster", name: "c", uid: "u" }))).toBeUndefined();
  });
});

describe("rayWorkloadOf", () => {
  it("places a pod of a RayJob's cluster in both the RayJob and its generated RayCluster", () => {
    const owner = { kind: "RayCluster" as const, name: rayJobCluster.name, uid: rayJobCluster.uid };
    expect(rayWorkloadOf(owner, rayJobCluster)).toEqual({ rayCluster: "rayjob-sample-x7k2p", rayJob: "rayjob-sample" });
  });

  it("places a pod of any cluster a RayService creates, an upgrade's new one included, in the RayService", () => {
    const owner = { kind: "RayCluster" as const, name: serviceCluster.name, uid: serviceCluster.uid };
    expect(rayWorkloadOf(owner, serviceCluster)).toEqual({ rayCluster: serviceCluster.name, rayService: "rayservice-sample" });
  });

  it("places a submitter pod in its RayJob through the Job KubeRay made for it", () => {
    expect(rayWorkloadOf({ kind: "Job", name: "rayjob-sample", uid: "uid-k8s-job" }, submitterJob)).toEqual({ rayJob: "rayjob-sample" });
  });

  it("finds no Ray workload for a pod of a Job that no RayJob made, however it is labelled", () => {
    const forged: OwnerRecord = { ...submitterJob, ownerReferences: [controllerRef("batch/v1", "CronJob", "nightly", "u")] };
    expect(rayWorkloadOf({ kind: "Job", name: "rayjob-sample", uid: "uid-k8s-job" }, forged)).toEqual({});
  });

  it("believes nothing of an owner whose uid differs from the one the pod names", () => {
    expect(rayWorkloadOf({ kind: "RayCluster", name: plainCluster.name, uid: "another-uid" }, plainCluster)).toEqual({});
    expect(rayWorkloadOf({ kind: "RayCluster", name: plainCluster.name, uid: "uid-plain" }, undefined)).toEqual({});
  });
});

describe("chooseGrant with Ray workloads", () => {
  const headOfJob = { metadata: { labels: { "ray.io/node-type": "head" } }, spec: {} };

  it("chooses the grant that names the pod's RayJob", () => {
    const choice = chooseGrant(headOfJob, [grant("train", { ray: { rayJobs: ["rayjob-sample"] } }), grant("other", { ray: { rayJobs: ["other"] } })], {
      rayCluster: "rayjob-sample-x7k2p",
      rayJob: "rayjob-sample",
    });
    expect(choice).toMatchObject({ kind: "chosen", grant: { metadata: { name: "train" } } });
  });

  it("selects no pod by a Ray grant when the pod's workload is not known", () => {
    expect(chooseGrant(headOfJob, [grant("train", { ray: { rayJobs: ["rayjob-sample"] } })]).kind).toBe("noMatch");
  });

  it("narrows a Ray grant's pods by its podSelector when it has one", () => {
    const heads = grant("heads", { ray: { rayClusters: ["c"] }, podSelector: { matchLabels: { "ray.io/node-type": "head" } } });
    expect(chooseGrant(headOfJob, [heads], { rayCluster: "c" }).kind).toBe("chosen");
    expect(chooseGrant({ metadata: { labels: { "ray.io/node-type": "worker" } } }, [heads], { rayCluster: "c" }).kind).toBe("noMatch");
  });

  it("reports a conflict when two grants name the same workload, or a label grant selects a Ray grant's pod", () => {
    const workload = { rayCluster: "c" };
    expect(chooseGrant(headOfJob, [grant("a", { ray: { rayClusters: ["c"] } }), grant("b", { ray: { rayClusters: ["c"] } })], workload).kind).toBe("conflict");
    expect(chooseGrant(headOfJob, [grant("a", { ray: { rayClusters: ["c"] } }), grant("all", { podSelector: {} })], workload).kind).toBe("conflict");
  });
});
