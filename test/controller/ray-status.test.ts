// A grant that names Ray workloads: its pods counted through the workload
// the caches place them in, and status.rayWorkloads per named workload.
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { assessGrant, sameStatus, type GrantWorld } from "../../src/controller/grant-status.js";
import type { Grant } from "../../src/shared/grant.js";
import { podRecord, type PodRecord } from "../../src/shared/kube/caches.js";
import type { RayWorkload } from "../../src/shared/ray-workload.js";
import { expectedAgentFingerprint } from "../../src/webhook/injected-agent.js";
import { mutatePod } from "../../src/webhook/mutate-pod.js";
import { applyPatch, settings } from "../webhook/support/fixtures.js";

const train: Grant = {
  metadata: { name: "train", namespace: "ray", generation: 1 },
  spec: {
    ray: { rayJobs: ["train"], rayClusters: [], rayServices: [] },
    aws: { roleArn: "arn:aws:iam::123456789012:role/x" },
    datadog: { orgUuid: "0f8fad5b-d9cb-469f-a165-70867728950e" },
  },
};
const TRAIN_CLUSTER: RayWorkload = { rayCluster: "train-8xk2q", rayJob: "train" };

/** A pod of RayJob train's cluster, as the controller's cache keeps it; injected as the webhook leaves it when asked. */
function clusterPod(name: string, injected: boolean): PodRecord {
  let pod: V1Pod = {
    metadata: {
      namespace: "ray",
      name,
      uid: name,
      labels: { "ray.io/cluster": "train-8xk2q" },
      ownerReferences: [{ apiVersion: "ray.io/v1", kind: "RayCluster", name: "train-8xk2q", uid: "uid-cluster", controller: true }],
    },
    spec: { containers: [{ name: "ray-worker", image: "rayproject/ray:2.46.0" }] },
    status: { phase: "Running" },
  };
  if (injected) {
    const result = mutatePod({ pod, namespace: "ray", grants: [train], settings, rayWorkload: TRAIN_CLUSTER });
    pod = applyPatch(pod, result.patch);
    pod.metadata!.annotations = { ...pod.metadata!.annotations, "ddcred.io/grant-generation": "1" };
  }
  return podRecord(pod);
}

function world(pods: PodRecord[], rayWorkloadOf: (pod: PodRecord) => RayWorkload): GrantWorld {
  return {
    grant: train,
    namespace: { name: "ray", labels: { "ddcred.io/injection": "enabled" }, terminating: false },
    grantsInNamespace: [train],
    policy: { allowed: true, by: [] },
    expectedAgent: expectedAgentFingerprint(train, settings),
    podsInNamespace: pods,
    rayWorkloadOf,
    operatorNamespace: "ddcred-system",
    now: new Date("2026-11-30T00:00:00Z"),
  };
}

describe("the status of a grant that names Ray workloads", () => {
  it("counts the pods of the named RayJob's cluster as injected and missed, per workload", () => {
    const pods = [clusterPod("head", true), clusterPod("worker-1", true), clusterPod("worker-2", false)];
    const { status } = assessGrant(world(pods, (pod) => (pod.rayOwner ? TRAIN_CLUSTER : {})));
    expect(status).toMatchObject({ injectedPods: 2, missedPods: 1, stalePods: 0 });
    expect(status.rayWorkloads).toEqual([{ kind: "RayJob", name: "train", injectedPods: 2, missedPods: 1 }]);
  });

  it("counts an injected pod as stale while its owner is not in the cache, and lists no workload", () => {
    const { status } = assessGrant(world([clusterPod("head", true)], () => ({})));
    expect(status).toMatchObject({ injectedPods: 0, stalePods: 1 });
    expect(status.rayWorkloads).toEqual([]);
  });

  it("reads the stored status as unchanged whatever order the API server keeps the workload fields in", () => {
    const { status } = assessGrant(world([clusterPod("head", true)], () => TRAIN_CLUSTER));
    const stored = { ...status, rayWorkloads: [{ missedPods: 0, name: "train", kind: "RayJob" as const, injectedPods: 1 }] };
    expect(sameStatus(stored, status)).toBe(true);
  });
});
