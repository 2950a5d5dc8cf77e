// The pods a manifest stands for, as their controllers create them.
import { describe, expect, it } from "vitest";
import { manifestPods, podAsCreated } from "../../src/explain/workload-pods.js";

const template = (labels: Record<string, string>, container = "app") => ({ metadata: { labels }, spec: { containers: [{ name: container, image: "registry.example/app:1" }] } });

describe("manifestPods", () => {
  it("reads a Deployment's pod template, in the manifest's namespace", () => {
    const { pods } = manifestPods({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "payments" }, spec: { template: template({ app: "web" }) } }, "default");
    expect(pods.map((p) => p.source)).toEqual(["Deployment payments/web"]);
    expect(pods[0]!.pod.metadata).toMatchObject({ namespace: "payments", labels: { app: "web" } });
  });

  it("gives a Job's pod the job-name labels its controller adds", () => {
    const [job] = manifestPods({ kind: "Job", metadata: { name: "backfill" }, spec: { template: template({ app: "x" }) } }, "batch").pods;
    expect(podAsCreated(job!).metadata?.labels).toEqual({ app: "x", "job-name": "backfill", "batch.kubernetes.io/job-name": "backfill" });
  });

  it("reads a CronJob's job template", () => {
    const { pods } = manifestPods({ kind: "CronJob", metadata: { name: "nightly" }, spec: { jobTemplate: { spec: { template: template({ app: "n" }) } } } }, "batch");
    expect(pods.map((p) => p.source)).toEqual(["CronJob batch/nightly, each Job's pod"]);
  });

  it("reads a RayJob's head, every worker group and its submitter, with KubeRay's labels", () => {
    const rayJob = {
      apiVersion: "ray.io/v1",
      kind: "RayJob",
      metadata: { name: "train", namespace: "ray" },
      spec: {
        entrypoint: "python train.py",
        submitterPodTemplate: template({ "datadog-credentials": "ray-training" }, "submitter"),
        rayClusterSpec: {
          headGroupSpec: { rayStartParams: {}, template: template({ "datadog-credentials": "ray-training" }, "ray-head") },
          workerGroupSpecs: [{ groupName: "gpu", replicas: 2, rayStartParams: {}, template: template({ "datadog-credentials": "ray-training" }, "ray-worker") }],
        },
      },
    };
    const { pods } = manifestPods(rayJob, "default");
    expect(pods.map((p) => p.source)).toEqual(["RayJob ray/train, head", "RayJob ray/train, worker group gpu", "RayJob ray/train, submitter"]);
    expect(podAsCreated(pods[1]!).metadata?.labels).toMatchObject({ "ray.io/node-type": "worker", "ray.io/group": "gpu", "ray.io/is-ray-node": "yes", "datadog-credentials": "ray-training" });
    expect(podAsCreated(pods[2]!).metadata?.labels).toMatchObject({ "job-name": "train" });
  });

  it("shows the submitter KubeRay makes when a RayJob gives no template of its own, without the head's labels", () => {
    const { pods } = manifestPods(
      { kind: "RayJob", metadata: { name: "train", namespace: "ray" }, spec: { rayClusterSpec: { headGroupSpec: { template: template({ team: "ml" }, "ray-head") } } } },
      "default",
    );
    const submitter = pods.find((p) => p.source.includes("submitter"))!;
    expect(submitter.source).toContain("a grant naming the RayJob selects it");
    expect(podAsCreated(submitter).metadata?.labels).toEqual({ "job-name": "train", "batch.kubernetes.io/job-name": "train" });
  });

  it("places each pod of a RayJob, RayCluster or RayService in its Ray workload, for grants that name it", () => {
    const job = manifestPods(
      { kind: "RayJob", metadata: { name: "train" }, spec: { rayClusterSpec: { headGroupSpec: { template: template({}, "ray-head") } } } },
      "ray",
    ).pods;
    expect(job.map((p) => p.rayWorkload)).toEqual([{ rayCluster: "train-<generated>", rayJob: "train" }, { rayJob: "train" }]);
    const cluster = manifestPods({ kind: "RayCluster", metadata: { name: "etl" }, spec: { headGroupSpec: { template: template({}, "ray-head") } } }, "ray").pods;
    expect(cluster[0]?.rayWorkload).toEqual({ rayCluster: "etl" });
    const service = manifestPods({ kind: "RayService", metadata: { name: "serve" }, spec: { rayClusterConfig: { headGroupSpec: { template: template({}, "ray-head") } } } }, "ray").pods;
    expect(service[0]?.rayWorkload).toEqual({ rayCluster: "serve-<generated>", rayService: "serve" });
  });

  it("reads every item of a List, and names what it cannot read", () => {
    const { pods, errors } = manifestPods(
      { kind: "List", items: [{ kind: "Pod", metadata: { name: "p" }, spec: { containers: [] } }, { kind: "ConfigMap", metadata: { name: "settings" } }] },
      "ns",
    );
    expect(pods.map((p) => p.source)).toEqual(["Pod ns/p"]);
    expect(errors).toEqual(["ConfigMap settings: not a pod or a workload ddcred can read pod templates from"]);
  });
});
