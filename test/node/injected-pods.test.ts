// Injected pods that really run, on the test bed's node: the chart installed
// as a platform team installs it (the image built from the Dockerfile, two
// operator replicas, the webhook reached through its Service), a grant, and
// pods a kubelet starts. Everything is asserted from what the kubelet reports
// and what the containers themselves print. The app containers run the
// official clients (AWS CLI, boto3, datadog-api-client) as UID 1000, the
// agent as 65532; the pods carry the IRSA shape EKS gives them, so the agent's
// base identity is a projected ServiceAccount token exchanged at the STS
// stand-in with AssumeRoleWithWebIdentity.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdmissionregistrationV1Api, AppsV1Api, BatchV1Api, CoreV1Api, PolicyV1Api, type KubeConfig, type V1Container, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminKubeConfig } from "../harness/cluster.js";
import { createGrant, eventually, readyCondition, REPO_ROOT, TEST_ORG_UUID, waitForGrant } from "../harness/kube.js";
import { createNodeNamespace, deleteNodeNamespace, hasFinished, isRunningAndReady, nodeCluster, podJsonLines, podLog, waitForPod } from "../harness/node/pods.js";
import { IRSA_AUDIENCE, webIdentityStsClient, type WebIdentitySts } from "../harness/node/web-identity-sts.js";
import { withIrsa } from "../harness/node/irsa.js";
import type { NodeClusterInfo } from "../harness/node/node-cluster.js";
import { AGENT_CONTAINER_NAME } from "../../src/shared/names.js";
import { CHART_DIR, helm, VALUES_FROM_STDIN, valuesInput } from "../chart/helm.js";

const { node, stack, skip } = nodeCluster();
const GRANTED_ROLE = "datadog/node-reporter";
const IRSA_ROLE = "irsa/reporter-base";
const IRSA_SESSION = "reporter-irsa";
const SERVICE_ACCOUNT = "reporter";
const APP_UID = 1000;
const API_PORT = 9911;
const METRICS_PORT = 9912;

let admin: KubeConfig;
let sts: Omit<WebIdentitySts, "stop">;
let roleArn: (role: string) => string;
let namespace: string;
let appPod: V1Pod;

describe.skipIf(skip !== undefined)(`injected pods on a real node${skip ? ` (skipped: ${skip})` : ""}`, () => {
  beforeAll(async () => {
    const cluster = node as NodeClusterInfo;
    admin = adminKubeConfig(cluster);
    sts = webIdentityStsClient(stack!.stsUrl, stack!.stsControlUrl);
    roleArn = (role) => stack!.roleArns[role]!;
    namespace = await createNodeNamespace(admin, { prefix: "reporting", injection: true });
    await sts.trust(roleArn(IRSA_ROLE), `system:serviceaccount:${namespace}:${SERVICE_ACCOUNT}`);

    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: SERVICE_ACCOUNT } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "consumers" }, data: consumerScripts() } });
    await createGrant(admin, namespace, "reporter", {
      podSelector: { matchLabels: { app: "reporter" } },
      serviceAccountNames: [SERVICE_ACCOUNT],
      aws: { roleArn: roleArn(GRANTED_ROLE), region: "us-east-1" },
      datadog: { orgUuid: TEST_ORG_UUID, site: "datadoghq.com" },
    });
    await waitForGrant(admin, namespace, "reporter", (grant) => readyCondition(grant)?.status === "True");
    appPod = await createUntilInjected(admin, namespace, reporterPod(cluster, "reporter-app", ["--stay"]));
    await waitForPod(admin, namespace, "reporter-app", "to run with every check done", isRunningAndReady, 180_000);
    await eventually("the app's checks to finish", async () => (await podLog(admin, namespace, "reporter-app", "app")).includes('"check": "done"'), 120_000);
  }, 600_000);

  afterAll(async () => {
    if (namespace) await deleteNodeNamespace(admin, namespace);
  });

  describe("the chart's operator", () => {
    it("runs as two ready replicas of the Deployment, from the image built from the Dockerfile, restricted and read-only", async () => {
      const deployments = await admin.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace: stack!.release.namespace, labelSelector: `app.kubernetes.io/instance=${stack!.release.name}` });
      expect(deployments.items).toHaveLength(1);
      const deployment = deployments.items[0]!;
      expect(deployment.status?.readyReplicas).toBe(2);
      const pods = (await admin.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: stack!.release.namespace })).items;
      const operators = pods.filter((pod) => pod.metadata?.labels?.["app.kubernetes.io/name"] === "ddcred-operator");
      expect(operators).toHaveLength(2);
      for (const pod of operators) {
        expect(isRunningAndReady(pod)).toBe(true);
        const container = pod.spec!.containers[0]!;
        expect(container.image).toBe(stack!.release.image);
        expect(pod.status!.containerStatuses![0]!.imageID).toContain("sha256:");
        expect(effectiveUser(pod, container)).toBe(65532);
        expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
        expect(container.securityContext?.capabilities?.drop).toEqual(["ALL"]);
        // In-cluster configuration: the API server through the `kubernetes` Service (kube-proxy).
        expect((container.env ?? []).map((e) => e.name)).not.toContain("KUBECONFIG");
      }
      const budgets = await admin.makeApiClient(PolicyV1Api).listNamespacedPodDisruptionBudget({ namespace: stack!.release.namespace });
      expect(budgets.items).toHaveLength(1);
      expect(budgets.items[0]!.status?.currentHealthy).toBe(2);
    });

    it("is called by the API server through the webhook's Service, not a URL", async () => {
      const configurations = await admin.makeApiClient(AdmissionregistrationV1Api).listMutatingWebhookConfiguration();
      const ours = configurations.items.filter((c) => c.metadata?.labels?.["app.kubernetes.io/instance"] === stack!.release.name);
      expect(ours).toHaveLength(1);
      for (const webhook of ours[0]!.webhooks ?? []) {
        expect(webhook.clientConfig.url).toBeUndefined();
        expect(webhook.clientConfig.service).toMatchObject({ namespace: stack!.release.namespace });
        expect(webhook.clientConfig.caBundle).toBeTruthy();
      }
      expect(appPod.spec!.initContainers![0]!.name).toBe(AGENT_CONTAINER_NAME);
    });
  });

  describe("an injected pod", () => {
    it("starts the agent first, as a native sidecar, and the app only after the agent's startup probe passed", async () => {
      const pod = await readPod("reporter-app");
      const agent = pod.status!.initContainerStatuses!.find((s) => s.name === AGENT_CONTAINER_NAME)!;
      const app = pod.status!.containerStatuses!.find((s) => s.name === "app")!;
      expect(pod.spec!.initContainers![0]).toMatchObject({ name: AGENT_CONTAINER_NAME, restartPolicy: "Always" });
      expect(agent.started).toBe(true);
      expect(agent.state?.running).toBeDefined();
      expect(Date.parse(String(app.state!.running!.startedAt))).toBeGreaterThanOrEqual(Date.parse(String(agent.state!.running!.startedAt)));
      // What the app saw the moment it started: the files were already there.
      const [start] = await podJsonLines(admin, namespace, "reporter-app", "app");
      expect(start).toMatchObject({ check: "start", tokenFileAtStart: true, awsConfigAtStart: true });
    });

    it("shows the agent's first credentials in its log (kubectl logs -c ddcred-agent)", async () => {
      const log = await podLog(admin, namespace, "reporter-app", AGENT_CONTAINER_NAME);
      expect(log).toContain("ready: every granted credential is held");
      expect(log).toContain("refreshed aws");
      expect(log).toContain("refreshed datadog_token");
    });

    it("lets an app running as another UID use the credentials with the AWS CLI, boto3 and datadog-api-client", async () => {
      const lines = await podJsonLines(admin, namespace, "reporter-app", "app");
      const byCheck = Object.fromEntries(lines.map((line) => [line.check, line]));
      expect(byCheck.start).toMatchObject({ uid: APP_UID });
      // The agent that wrote the files runs as another user than the app that read them.
      const agent = (await readPod("reporter-app")).spec!.initContainers!.find((c) => c.name === AGENT_CONTAINER_NAME)!;
      expect(agent.securityContext?.runAsUser).toBeDefined();
      expect(agent.securityContext!.runAsUser).not.toBe(byCheck.start!.uid);
      const assumed = new RegExp(`^arn:aws:sts::${stack!.accountId}:assumed-role/${GRANTED_ROLE.split("/").pop()}/`);
      expect(byCheck["aws-cli"]).toMatchObject({ ok: true, arn: expect.stringMatching(assumed) });
      expect(byCheck["boto3-credential-process"]).toMatchObject({ ok: true, arn: expect.stringMatching(assumed), method: "custom-process" });
      expect(byCheck["boto3-container-endpoint"]).toMatchObject({ ok: true, arn: expect.stringMatching(assumed), method: "container-role" });
      expect(byCheck["datadog-api-client"]).toMatchObject({ ok: true });
      expect(byCheck.done).toMatchObject({ failed: false });
    });

    it("takes its base identity from the projected ServiceAccount token, exchanged with AssumeRoleWithWebIdentity", async () => {
      const pod = await readPod("reporter-app");
      const agent = pod.spec!.initContainers!.find((c) => c.name === AGENT_CONTAINER_NAME)!;
      const app = pod.spec!.containers.find((c) => c.name === "app")!;
      const names = (container: V1Container) => (container.env ?? []).map((e) => e.name);
      expect(names(agent)).toEqual(expect.arrayContaining(["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"]));
      expect(names(agent)).not.toContain("AWS_ACCESS_KEY_ID");
      expect(names(app)).not.toContain("AWS_WEB_IDENTITY_TOKEN_FILE");
      expect(names(app)).not.toContain("AWS_ROLE_ARN");
      const [start] = await podJsonLines(admin, namespace, "reporter-app", "app");
      expect(start!.identityEnv).toEqual([]);
      expect(await sts.exchanges()).toContainEqual({
        roleArn: roleArn(IRSA_ROLE),
        subject: `system:serviceaccount:${namespace}:${SERVICE_ACCOUNT}`,
        audience: IRSA_AUDIENCE,
        result: "issued",
      });
    });

    it("completes a Job's pod (Succeeded) with the agent beside it", async () => {
      const batch = admin.makeApiClient(BatchV1Api);
      const template = reporterPod(node!, "unused", []);
      await batch.createNamespacedJob({
        namespace,
        body: {
          metadata: { name: "reporter-job" },
          spec: { backoffLimit: 0, template: { metadata: { labels: template.metadata!.labels! }, spec: { ...template.spec!, restartPolicy: "Never" } } },
        },
      });
      const job = await eventually(
        "the Job to complete",
        async () => {
          const current = await batch.readNamespacedJob({ name: "reporter-job", namespace });
          if (current.status?.failed) throw new Error(`the Job failed: ${JSON.stringify(current.status)}`);
          return current.status?.succeeded === 1 ? current : undefined;
        },
        180_000,
      );
      expect(job.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True")).toBe(true);
      const [pod] = (await admin.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector: "job-name=reporter-job" })).items;
      expect(pod!.status!.phase).toBe("Succeeded");
      expect(pod!.spec!.initContainers![0]!.name).toBe(AGENT_CONTAINER_NAME);
      const lines = await podJsonLines(admin, namespace, pod!.metadata!.name!, "app");
      expect(lines.at(-1)).toMatchObject({ check: "done", failed: false });
    });
  });

  describe("`helm test`", () => {
    it("passes: the chart's test pod, in a labelled namespace, is injected and its agent becomes ready", async () => {
      const release = stack!.release;
      const home = mkdtempSync(join(tmpdir(), "ddcred-helm-test-"));
      try {
        // The pod's base identity is IRSA, like the reporter's: the env and token volume go through tests.*.
        const irsa = reporterPod(node!, "unused", []);
        const values = {
          tests: {
            enabled: true,
            namespace,
            podLabels: { app: "reporter" },
            serviceAccountName: SERVICE_ACCOUNT,
            env: irsa.spec!.containers[0]!.env!.filter((e) => e.name.startsWith("AWS_")),
            volumeMounts: irsa.spec!.containers[0]!.volumeMounts!.filter((m) => m.name === "aws-iam-token"),
            volumes: irsa.spec!.volumes!.filter((v) => v.name === "aws-iam-token"),
          },
        };
        const kubeconfig = ["--kubeconfig", node!.adminKubeconfig, "--namespace", release.namespace];
        const upgrade = await helm(["upgrade", release.name, CHART_DIR, "--reuse-values", ...kubeconfig, ...VALUES_FROM_STDIN], valuesInput(values), home);
        expect(upgrade.code, upgrade.stderr).toBe(0);
        // Without --logs: Helm 3 reads a test pod's logs in the release's namespace, and this one runs in the workload's.
        const test = await helm(["test", release.name, "--timeout", "3m", ...kubeconfig], undefined, home);
        const [testPod] = (await admin.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector: "app.kubernetes.io/component=test" })).items;
        const checkLog = testPod ? await podLog(admin, namespace, testPod.metadata!.name!, "check").catch(String) : "(no test pod)";
        expect(test.code, `${test.stdout}\n${test.stderr}\n${checkLog}`).toBe(0);
        expect(test.stdout).toMatch(/Phase:\s+Succeeded/);
        expect(testPod!.status!.phase).toBe("Succeeded");
        expect(testPod!.spec!.initContainers![0]!.name).toBe(AGENT_CONTAINER_NAME);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    });
  });

  describe("an agent killed in a running pod", () => {
    it("is restarted by the kubelet while the app keeps reading valid credentials from the memory volume", async () => {
      const cluster = node!;
      const pod = reporterPod(cluster, "steady-reader", []);
      pod.spec!.containers[0]!.command = ["python3", "/consumers/steady_reader.py"];
      await createUntilInjected(admin, namespace, pod);
      await waitForPod(admin, namespace, "steady-reader", "to run", isRunningAndReady);
      await eventually("the app's first reads", async () => (await podJsonLines(admin, namespace, "steady-reader", "app")).length > 0);
      const running = await readPod("steady-reader");
      const agentId = running.status!.initContainerStatuses!.find((s) => s.name === AGENT_CONTAINER_NAME)!.containerID!.replace("containerd://", "");
      const killedAt = Date.now();
      execFileSync("ctr", ["-a", cluster.containerdSocket, "-n", "k8s.io", "tasks", "kill", "--signal", "SIGKILL", agentId]);
      const restarted = await waitForPod(admin, namespace, "steady-reader", "to have its agent restarted and ready", (current) => {
        const agent = current.status?.initContainerStatuses?.find((s) => s.name === AGENT_CONTAINER_NAME);
        return (agent?.restartCount ?? 0) >= 1 && agent?.ready === true;
      });
      console.log(`agent SIGKILLed; restarted and ready again after ${Date.now() - killedAt} ms`);
      const agent = restarted.status!.initContainerStatuses!.find((s) => s.name === AGENT_CONTAINER_NAME)!;
      expect(agent.lastState?.terminated?.exitCode).toBe(137);
      const app = restarted.status!.containerStatuses!.find((s) => s.name === "app")!;
      expect(app.restartCount).toBe(0);
      // A few more seconds of reads after the restart, then nothing bad in any of them.
      const readsAtRestart = ((await podJsonLines(admin, namespace, "steady-reader", "app")).at(-1)!.reads as number);
      const final = await eventually("the app to read on after the restart", async () => {
        const last = (await podJsonLines(admin, namespace, "steady-reader", "app")).at(-1)!;
        return (last.reads as number) > readsAtRestart + 20 ? last : undefined;
      });
      expect(final).toMatchObject({ bad: 0, last: "ok" });
    });
  });

  describe("a neighbour pod on the same node", () => {
    it("reaches neither the agent's API nor its files, and finds nothing secret on its probe and metrics port", async () => {
      const victim = await readPod("reporter-app");
      const podIp = victim.status!.podIP!;
      const core = admin.makeApiClient(CoreV1Api);
      await core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name: "neighbour", labels: { app: "neighbour" } },
          spec: {
            restartPolicy: "Never",
            securityContext: { runAsNonRoot: true, runAsUser: 2000, seccompProfile: { type: "RuntimeDefault" } },
            containers: [
              {
                name: "probe",
                image: node!.images["app-python"].ref,
                imagePullPolicy: "Never",
                command: ["python3", "/consumers/neighbour.py", podIp, String(API_PORT), String(METRICS_PORT)],
                volumeMounts: [{ name: "consumers", mountPath: "/consumers", readOnly: true }],
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
              },
            ],
            volumes: [{ name: "consumers", configMap: { name: "consumers" } }],
          },
        },
      });
      await waitForPod(admin, namespace, "neighbour", "to finish", hasFinished);
      const [seen] = await podJsonLines(admin, namespace, "neighbour", "probe");
      expect(seen).toMatchObject({ ownLoopbackApi: "refused", podIpApi: "refused", credentialsDir: false });
      const served = seen as { readyz: { status: number; body: string }; healthz: { status: number }; metrics: { status: number; body: string } };
      expect(served.readyz.status).toBe(200);
      expect(served.metrics.status).toBe(200);
      expect(served.metrics.body).toContain("ddcred_credential_expiry_timestamp_seconds");
      // The agent runs the image built from this checkout, and says which commit it was built at.
      const revision = /ddcred_build_info\{[^}]*revision="([0-9a-f]{12})"/.exec(served.metrics.body)?.[1];
      expect(revision, "a commit in ddcred_build_info").toBeDefined();
      expect(() => execFileSync("git", ["-C", REPO_ROOT, "cat-file", "-e", `${revision}^{commit}`])).not.toThrow();
      for (const secret of credentialSecrets(node!, victim)) {
        expect(served.readyz.body).not.toContain(secret);
        expect(served.metrics.body).not.toContain(secret);
      }
    });
  });
});

async function readPod(name: string): Promise<V1Pod> {
  return await admin.makeApiClient(CoreV1Api).readNamespacedPod({ name, namespace });
}

function consumerScripts(): Record<string, string> {
  const dir = join(REPO_ROOT, "test/node/consumers");
  return Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith(".py")).map((f) => [f, readFileSync(join(dir, f), "utf8")]));
}

/** The reporter app, in the shape amazon-eks-pod-identity-webhook gives IRSA pods (web identity env and token). */
function reporterPod(cluster: NodeClusterInfo, name: string, args: string[]): V1Pod {
  const pod: V1Pod = {
    metadata: { name, labels: { app: "reporter" } },
    spec: {
      serviceAccountName: SERVICE_ACCOUNT,
      securityContext: { runAsNonRoot: true, runAsUser: APP_UID, runAsGroup: APP_UID, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "app",
          image: cluster.images["app-python"].ref,
          imagePullPolicy: "Never",
          command: ["python3", "/consumers/app_consumer.py", stack!.datadogUrl, ...args],
          env: [{ name: "HOME", value: "/tmp" }],
          volumeMounts: [
            { name: "consumers", mountPath: "/consumers", readOnly: true },
            { name: "tmp", mountPath: "/tmp" },
          ],
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
        },
      ],
      volumes: [
        { name: "consumers", configMap: { name: "consumers" } },
        { name: "tmp", emptyDir: {} },
      ],
    },
  };
  return withIrsa(pod, { roleArn: roleArn(IRSA_ROLE), sessionName: IRSA_SESSION, stsUrl: sts.url });
}

/**
 * Creates the pod; while the webhook's grant cache has not seen the new grant
 * yet (it is admitted uninjected then), deletes it and tries again.
 */
async function createUntilInjected(kc: KubeConfig, ns: string, pod: V1Pod): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  return await eventually(`pod ${pod.metadata!.name} to be injected`, async () => {
    const created = await core.createNamespacedPod({ namespace: ns, body: pod });
    if (created.spec?.initContainers?.some((c) => c.name === AGENT_CONTAINER_NAME)) return created;
    await core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: ns, gracePeriodSeconds: 0 });
    await eventually("the uninjected pod to be gone", async () => core.readNamespacedPod({ name: pod.metadata!.name!, namespace: ns }).then(() => false, () => true));
    return undefined;
  }, 60_000);
}

function effectiveUser(pod: V1Pod, container: V1Container): number | undefined {
  return container.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser ?? undefined;
}

/** The credentials the agent wrote into the pod's memory volume, read on the node (the test runs as root there). */
function credentialSecrets(cluster: NodeClusterInfo, pod: V1Pod): string[] {
  // The kubelet's --root-dir (node-cluster.ts).
  const volume = join(cluster.dir, "kubelet/pods", pod.metadata!.uid!, "volumes/kubernetes.io~empty-dir");
  const secrets: string[] = [];
  for (const dir of readdirSync(volume)) {
    for (const file of readdirSync(join(volume, dir))) {
      if (!statSync(join(volume, dir, file)).isFile()) continue;
      const text = readFileSync(join(volume, dir, file), "utf8").trim();
      if (text.startsWith("{")) {
        for (const value of Object.values(JSON.parse(text) as Record<string, unknown>)) if (typeof value === "string" && value.length >= 16) secrets.push(value);
      } else if (text.length >= 16) {
        secrets.push(text);
      }
    }
  }
  expect(secrets.length).toBeGreaterThan(2);
  return secrets;
}
