// KubeRay on the test bed's node: KubeRay's real operator (v1.5.0) drives a
// RayCluster and RayJobs whose pods a kubelet starts, through ddcred's webhook
// as the chart installed it. Ray's images cannot be pulled here, so the Ray
// containers run tools/ray-standin (answers KubeRay's probes, serves the Ray
// Jobs API on the head and runs a job's driver there, checks the credentials
// the way a Ray task would). Ray pods use IRSA: the agent's base identity is
// their ServiceAccount token.
//
// Names resolve through the node's cluster DNS, for the pods and for KubeRay:
// workers' init container (KubeRay's own) waits for the head's GCS through the
// head Service's name, the submitter submits to the dashboard at that name,
// and KubeRay polls the job's status there until the RayJob is Complete. The
// job's driver is a script of the user's (test/node/consumers/ray_driver.py,
// mounted from a ConfigMap as KubeRay's samples do) that calls Datadog's API
// with the token and STS with the role. A RayService gets its Serve config
// deployed on the head (the stand-in reports it RUNNING), and an upgrade
// moves it to a new RayCluster, whose pods the grant naming the RayService
// covers too.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BatchV1Api, CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminKubeConfig } from "../harness/cluster.js";
import { createGrant, eventually, readyCondition, TEST_ORG_UUID, waitForGrant } from "../harness/kube.js";
import { createNodeNamespace, deleteNodeNamespace, hasFinished, isRunningAndReady, nodeCluster, podJsonLines, waitForPod } from "../harness/node/pods.js";
import { IRSA_TOKEN_MOUNT, IRSA_TOKEN_VOLUME, irsaEnv } from "../harness/node/irsa.js";
import { webIdentityStsClient } from "../harness/node/web-identity-sts.js";
import type { NodeClusterInfo } from "../harness/node/node-cluster.js";
import { installKubeRayCrds, startKubeRay, type KubeRayProcess } from "../kuberay/kuberay-operator.js";
import {
  createRayCluster,
  createRayJob,
  createRayService,
  deleteRayObjects,
  rayClusterSpec,
  rayJobClusterName,
  readRayJobStatus,
  readRayServiceStatus,
  upgradeRayService,
  type RayJobStatus,
  type TemplateOptions,
} from "../kuberay/ray-objects.js";
import { REPO_ROOT } from "../harness/paths.js";
import { AGENT_CONTAINER_NAME } from "../../src/shared/names.js";
import type { Grant } from "../../src/shared/grant.js";

const { node, stack, skip } = nodeCluster();
const GRANTED_ROLE = "datadog/ray";
const IRSA_ROLE = "irsa/ray-base";
const IRSA_SESSION = "ray-irsa";
const SERVICE_ACCOUNT = "ray-runner";
const TEAM_LABEL = { "datadog-credentials": "ray-training" };
const RAY_NODE_LABEL = { "ray.io/is-ray-node": "yes" };
/** Where the job's code is mounted in every Ray container, as in KubeRay's samples. */
const JOB_CODE_DIR = "/home/ray/samples";

let admin: KubeConfig;
let core: CoreV1Api;
let kuberay: KubeRayProcess | undefined;
const namespaces = { rayCluster: "", rayJob: "", rayLabelsOnly: "", byName: "", byService: "" };

interface CredentialCheck {
  readonly ray: string;
  readonly datadogToken: boolean;
  readonly awsArn: string | null;
  readonly datadogApi?: boolean;
  readonly error?: string;
}

describe.skipIf(skip !== undefined)(`KubeRay on a real node${skip ? ` (skipped: ${skip})` : ""}`, () => {
  beforeAll(async () => {
    const cluster = node as NodeClusterInfo;
    admin = adminKubeConfig(cluster);
    core = admin.makeApiClient(CoreV1Api);
    const sts = webIdentityStsClient(stack!.stsUrl, stack!.stsControlUrl);
    const grant = (podSelector: object) => ({
      podSelector,
      serviceAccountNames: [SERVICE_ACCOUNT],
      aws: { roleArn: stack!.roleArns[GRANTED_ROLE]! },
      datadog: { orgUuid: TEST_ORG_UUID },
    });
    const setUp = async (key: keyof typeof namespaces, prefix: string, grantName: string, selector: Record<string, string> | { rayJobs: string[] } | { rayServices: string[] }) => {
      const namespace = await createNodeNamespace(admin, { prefix, injection: true });
      namespaces[key] = namespace;
      await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: SERVICE_ACCOUNT } } });
      const driver = readFileSync(join(REPO_ROOT, "test/node/consumers/ray_driver.py"), "utf8");
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "ray-job-code" }, data: { "ray_driver.py": driver } } });
      await sts.trust(stack!.roleArns[IRSA_ROLE]!, `system:serviceaccount:${namespace}:${SERVICE_ACCOUNT}`);
      const { podSelector: _none, ...byName } = grant({});
      const named = "rayJobs" in selector || "rayServices" in selector;
      await createGrant(admin, namespace, grantName, named ? { ...byName, ray: selector } : grant({ matchLabels: selector as Record<string, string> }));
      await waitForGrant(admin, namespace, grantName, (g) => readyCondition(g)?.status === "True");
    };
    await Promise.all([
      installKubeRayCrds(cluster),
      setUp("rayCluster", "ray-cluster", "ray-training", TEAM_LABEL),
      setUp("rayJob", "ray-job", "ray-training", TEAM_LABEL),
      setUp("rayLabelsOnly", "ray-labels", "ray-nodes", RAY_NODE_LABEL),
      setUp("byName", "ray-by-name", "nightly-job", { rayJobs: ["nightly"] }),
      setUp("byService", "ray-service", "telemetry-service", { rayServices: ["telemetry"] }),
    ]);
    kuberay = await startKubeRay(cluster, Object.values(namespaces));
  }, 300_000);

  afterAll(async () => {
    await kuberay?.stop();
    for (const namespace of Object.values(namespaces).filter(Boolean)) {
      await deleteRayObjects(admin, namespace).catch(() => undefined);
      await deleteNodeNamespace(admin, namespace);
    }
  });

  describe("a RayCluster whose templates carry the team's label", () => {
    let pods: V1Pod[];

    beforeAll(async () => {
      await createRayCluster(admin, namespaces.rayCluster, "training", rayClusterSpec({ labels: TEAM_LABEL, workers: 1, template: rayTemplate() }));
      pods = await readyRayPods(namespaces.rayCluster, "ray.io/cluster=training", 2);
    }, 300_000);

    it("has a head and a worker that KubeRay created, the kubelet started and KubeRay's own probes found ready, each with the agent", () => {
      expect(pods.map((pod) => pod.metadata?.labels?.["ray.io/node-type"]).sort()).toEqual(["head", "worker"]);
      for (const pod of pods) {
        expect(pod.spec!.initContainers![0]).toMatchObject({ name: AGENT_CONTAINER_NAME, restartPolicy: "Always" });
        expect(pod.status!.initContainerStatuses!.find((s) => s.name === AGENT_CONTAINER_NAME)).toMatchObject({ started: true, ready: true });
        expect(pod.spec!.containers[0]!.readinessProbe?.exec?.command?.join(" ")).toContain("wget");
      }
    });

    it("lets a process in each Ray container read the Datadog token and use the granted role", async () => {
      for (const pod of pods) {
        const check = await credentialCheck(pod);
        expect(check, pod.metadata!.name).toMatchObject({ datadogToken: true, awsArn: expect.stringMatching(/:assumed-role\/ray\//) });
        expect(check.ray).toBe(pod.metadata!.labels!["ray.io/node-type"]);
      }
    });

    it("has the grant count the head and the worker as injected pods", async () => {
      await expectTwoInjectedNoneMissed(namespaces.rayCluster, "ray-training");
    });
  });

  describe("a RayJob with the team's label on head, worker and submitter templates", () => {
    let clusterPods: V1Pod[];
    let submitter: V1Pod;
    let rayJob: RayJobStatus;

    beforeAll(async () => {
      ({ clusterPods, submitter, rayJob } = await runRayJob(namespaces.rayJob, TEAM_LABEL));
    }, 300_000);

    it("runs the head and worker of the RayCluster KubeRay generated, each ready with the agent", () => {
      expect(clusterPods.map((pod) => pod.metadata?.labels?.["ray.io/node-type"]).sort()).toEqual(["head", "worker"]);
      for (const pod of clusterPods) expect(pod.spec!.initContainers![0]!.name).toBe(AGENT_CONTAINER_NAME);
    });

    it("starts the worker after KubeRay's own init container found the head's GCS through the head Service's name", () => {
      const worker = clusterPods.find((pod) => pod.metadata!.labels!["ray.io/node-type"] === "worker")!;
      expect(worker.spec!.initContainers!.map((c) => c.name)).toEqual([AGENT_CONTAINER_NAME, "wait-gcs-ready"]);
      expect(worker.spec!.initContainers![1]!.args!.join(" ")).toMatch(/ray health-check --address \S+-head-svc\.\S+\.svc\.cluster\.local:6379/);
      expect(worker.status!.initContainerStatuses!.find((s) => s.name === "wait-gcs-ready")?.state?.terminated).toMatchObject({ exitCode: 0 });
    });

    it("is Complete with the Ray job SUCCEEDED, KubeRay having read it from the head's Jobs API", () => {
      expect(rayJob).toMatchObject({ jobDeploymentStatus: "Complete", jobStatus: "SUCCEEDED" });
    });

    it("ran the job's driver in the head's Ray container, where it called Datadog's API with the token and STS with the granted role", async () => {
      expect(await credentialCheck(submitter, "driver")).toEqual({
        ray: "driver",
        datadogToken: true,
        datadogApi: true,
        awsArn: expect.stringMatching(/:assumed-role\/ray\//),
      });
    });

    it("completes the submitter Job's pod (Succeeded) with the agent beside it, after it read the credentials", async () => {
      expect(submitter.status!.phase).toBe("Succeeded");
      expect(submitter.spec!.initContainers![0]).toMatchObject({ name: AGENT_CONTAINER_NAME, restartPolicy: "Always" });
      expect(Object.keys(submitter.metadata!.labels!).filter((key) => key.startsWith("ray.io/"))).toEqual([]);
      expect(submitter.metadata!.labels).toMatchObject({ ...TEAM_LABEL, "batch.kubernetes.io/job-name": "nightly" });
      const env = (submitter.spec!.containers[0]!.env ?? []).map((e) => e.name);
      expect(env).toEqual(expect.arrayContaining(["RAY_DASHBOARD_ADDRESS", "DD_BEARER_TOKEN_FILE", "AWS_CONFIG_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI"]));
      expect(await credentialCheck(submitter, "submitter")).toMatchObject({ ray: "submitter", datadogToken: true, awsArn: expect.stringMatching(/:assumed-role\/ray\//) });
      await eventually("the Job controller to record the success", async () => {
        const job = await admin.makeApiClient(BatchV1Api).readNamespacedJob({ name: "nightly", namespace: namespaces.rayJob });
        return job.status?.succeeded === 1;
      });
    });

    it("has the grant count the live head and worker as injected pods, not the submitter that has finished", async () => {
      await expectTwoInjectedNoneMissed(namespaces.rayJob, "ray-training");
    });
  });

  // One selector cannot OR label sets, and the submitter carries no ray.io label.
  describe("a RayJob whose grant selects ray.io/is-ray-node=yes instead of a label of the team's", () => {
    let clusterPods: V1Pod[];
    let submitter: V1Pod;
    let rayJob: RayJobStatus;

    beforeAll(async () => {
      ({ clusterPods, submitter, rayJob } = await runRayJob(namespaces.rayLabelsOnly, {}));
    }, 300_000);

    it("gives the head and worker credentials", async () => {
      for (const pod of clusterPods) expect(await credentialCheck(pod)).toMatchObject({ datadogToken: true });
    });

    it("runs the submitter without credentials: it finds no token, as a user would", async () => {
      expect(submitter.spec!.initContainers ?? []).toEqual([]);
      const check = await credentialCheck(submitter, "submitter");
      expect(check).toMatchObject({ ray: "submitter", datadogToken: false });
      expect(check.error).toContain("DD_BEARER_TOKEN_FILE");
    });

    it("still completes the RayJob: its driver runs on the head, which the grant covers", async () => {
      expect(rayJob).toMatchObject({ jobDeploymentStatus: "Complete", jobStatus: "SUCCEEDED" });
      expect(await credentialCheck(submitter, "driver")).toMatchObject({ datadogToken: true, datadogApi: true });
    });

    it("reports the grant Ready with nothing missed, because the grant does not match the submitter at all", async () => {
      const grant = await expectTwoInjectedNoneMissed(namespaces.rayLabelsOnly, "ray-nodes");
      expect(readyCondition(grant)?.status).toBe("True");
    });
  });

  describe("a grant naming a RayJob (spec.ray.rayJobs), no podSelector", () => {
    let clusterPods: V1Pod[];
    let submitter: V1Pod;
    let rayJob: RayJobStatus;

    beforeAll(async () => {
      ({ clusterPods, submitter, rayJob } = await runRayJob(namespaces.byName, {}));
    }, 300_000);

    it("gives the head, the worker and the submitter of the RayJob it names credentials, with no label added anywhere", async () => {
      for (const pod of [...clusterPods, submitter]) {
        expect(pod.spec!.initContainers![0]!.name, pod.metadata!.name).toBe(AGENT_CONTAINER_NAME);
        expect(await credentialCheck(pod), pod.metadata!.name).toMatchObject({ datadogToken: true, awsArn: expect.stringMatching(/:assumed-role\/ray\//) });
      }
      expect(submitter.status!.phase).toBe("Succeeded");
      expect(rayJob).toMatchObject({ jobDeploymentStatus: "Complete", jobStatus: "SUCCEEDED" });
      expect(await credentialCheck(submitter, "driver")).toMatchObject({ datadogToken: true, datadogApi: true });
    });

    it("lists the RayJob in the grant's status with its live pods injected", async () => {
      const grant = await waitForGrant(admin, namespaces.byName, "nightly-job", (g) => (g.status?.rayWorkloads ?? []).some((w) => w.name === "nightly" && w.injectedPods === 2));
      expect(grant.status).toMatchObject({ injectedPods: 2, missedPods: 0 });
    });
  });

  describe("a grant naming a RayService (spec.ray.rayServices), through an upgrade to a new RayCluster", () => {
    let firstCluster: string;
    let firstPods: V1Pod[];

    beforeAll(async () => {
      await createRayService(admin, namespaces.byService, "telemetry", { labels: {}, workers: 1, template: rayTemplate(), deletionDelaySeconds: 1 });
      firstCluster = await activeRayCluster(namespaces.byService, "telemetry");
      firstPods = await readyRayPods(namespaces.byService, `ray.io/cluster=${firstCluster}`, 2);
    }, 300_000);

    it("runs the RayService's cluster with the agent in head and worker, KubeRay having deployed the Serve application there", async () => {
      const status = await readRayServiceStatus(admin, namespaces.byService, "telemetry");
      expect(status.activeServiceStatus?.applicationStatuses?.telemetry?.status).toBe("RUNNING");
      for (const pod of firstPods) {
        expect(pod.spec!.initContainers![0]!.name).toBe(AGENT_CONTAINER_NAME);
        expect(await credentialCheck(pod), pod.metadata!.name).toMatchObject({ datadogToken: true, awsArn: expect.stringMatching(/:assumed-role\/ray\//) });
      }
    });

    it("gives the new RayCluster of an upgrade credentials too, and counts only the live cluster once the old one is gone", async () => {
      await upgradeRayService(admin, namespaces.byService, "telemetry", "2");
      const nextCluster = await eventually("KubeRay to switch the RayService to a new RayCluster", async () => {
        const name = (await readRayServiceStatus(admin, namespaces.byService, "telemetry")).activeServiceStatus?.rayClusterName;
        return name && name !== firstCluster ? name : undefined;
      }, 240_000);
      const nextPods = await readyRayPods(namespaces.byService, `ray.io/cluster=${nextCluster}`, 2);
      for (const pod of nextPods) {
        expect(pod.spec!.initContainers![0]!.name).toBe(AGENT_CONTAINER_NAME);
        expect(await credentialCheck(pod), pod.metadata!.name).toMatchObject({ datadogToken: true, awsArn: expect.stringMatching(/:assumed-role\/ray\//) });
      }
      await eventually("KubeRay to delete the old RayCluster's pods", async () => {
        const left = (await core.listNamespacedPod({ namespace: namespaces.byService, labelSelector: `ray.io/cluster=${firstCluster}` })).items;
        return left.length === 0;
      }, 180_000);
      const grant = await waitForGrant(admin, namespaces.byService, "telemetry-service", (g) =>
        (g.status?.rayWorkloads ?? []).some((w) => w.kind === "RayService" && w.name === "telemetry" && w.injectedPods === 2),
      );
      expect(grant.status).toMatchObject({ injectedPods: 2, missedPods: 0 });
    });
  });
});

/** Ray pods on the node: the stand-in image, small requests, the team's ServiceAccount with IRSA. */
function rayTemplate(): TemplateOptions {
  return {
    image: node!.images["ray-standin"].ref,
    imagePullPolicy: "Never",
    resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
    serviceAccountName: SERVICE_ACCOUNT,
    env: [...irsaEnv({ roleArn: stack!.roleArns[IRSA_ROLE]!, sessionName: IRSA_SESSION, stsUrl: stack!.stsUrl }), { name: "HOME", value: "/tmp" }],
    volumeMounts: [IRSA_TOKEN_MOUNT, { name: "ray-job-code", mountPath: JOB_CODE_DIR, readOnly: true }],
    volumes: [IRSA_TOKEN_VOLUME, { name: "ray-job-code", configMap: { name: "ray-job-code" } }],
  };
}

/** Waits until the grant counts the cluster's head and worker, then holds that it missed none. */
async function expectTwoInjectedNoneMissed(namespace: string, grantName: string): Promise<Grant> {
  const grant = await waitForGrant(admin, namespace, grantName, (g) => g.status?.injectedPods === 2);
  expect(grant.status).toMatchObject({ injectedPods: 2, missedPods: 0 });
  return grant;
}

async function readyRayPods(namespace: string, labelSelector: string, count: number): Promise<V1Pod[]> {
  const pods = await eventually(`KubeRay to create ${count} pods (${labelSelector})`, async () => {
    const found = (await core.listNamespacedPod({ namespace, labelSelector })).items;
    return found.length === count ? found : undefined;
  }, 120_000);
  return await Promise.all(pods.map((pod) => waitForPod(admin, namespace, pod.metadata!.name!, "to be ready (KubeRay's probes)", isRunningAndReady, 180_000)));
}

async function runRayJob(namespace: string, labels: Record<string, string>): Promise<{ clusterPods: V1Pod[]; submitter: V1Pod; rayJob: RayJobStatus }> {
  await createRayJob(admin, namespace, "nightly", {
    clusterLabels: labels,
    submitterLabels: labels,
    workers: 1,
    template: rayTemplate(),
    entrypoint: `python3 ${JOB_CODE_DIR}/ray_driver.py ${stack!.datadogUrl}`,
  });
  const rayCluster = await eventually("KubeRay to generate the RayJob's RayCluster", () => rayJobClusterName(admin, namespace, "nightly"), 60_000);
  const clusterPods = await readyRayPods(namespace, `ray.io/cluster=${rayCluster}`, 2);
  // KubeRay creates the submitter Job once the RayCluster is Ready; the Job controller its pod.
  const [pod] = await eventually("the submitter Job's pod", async () => {
    const found = (await core.listNamespacedPod({ namespace, labelSelector: "batch.kubernetes.io/job-name=nightly" })).items;
    return found.length > 0 ? found : undefined;
  }, 120_000);
  const submitter = await waitForPod(admin, namespace, pod!.metadata!.name!, "to finish", hasFinished, 180_000);
  // KubeRay polls the dashboard every few seconds; the RayJob ends once the Ray job and the submitter have.
  const rayJob = await eventually("KubeRay to finish the RayJob", async () => {
    const status = await readRayJobStatus(admin, namespace, "nightly");
    return status.jobDeploymentStatus === "Complete" || status.jobDeploymentStatus === "Failed" ? status : undefined;
  }, 120_000);
  return { clusterPods, submitter, rayJob };
}

/** The RayCluster a RayService serves from, once KubeRay switched its traffic there. */
async function activeRayCluster(namespace: string, name: string): Promise<string> {
  return await eventually(`KubeRay to make ${name}'s RayCluster active`, async () => (await readRayServiceStatus(admin, namespace, name)).activeServiceStatus?.rayClusterName || undefined, 240_000);
}

/**
 * The credential check printed in the Ray container: by tools/ray-standin as
 * head, worker or submitter (the pod's own role unless `role` says), or by the
 * job's driver, whose output the submitter's `ray job logs --follow` prints.
 */
async function credentialCheck(pod: V1Pod, role = pod.metadata!.labels!["ray.io/node-type"] ?? "submitter"): Promise<CredentialCheck> {
  const container = pod.spec!.containers[0]!.name;
  const lines = await eventually(`the ${role}'s credential check in ${pod.metadata!.name}`, async () => {
    const found = (await podJsonLines(admin, pod.metadata!.namespace!, pod.metadata!.name!, container)).filter((line) => line.ray === role);
    return found.length > 0 ? found : undefined;
  });
  return lines[0] as unknown as CredentialCheck;
}
