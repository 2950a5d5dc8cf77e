// The ddcred demo: everything a platform team and a Ray user would see, on a
// real Kubernetes API server on this machine, explained step by step.
// Run it with ./scripts/demo.sh (which installs what it needs first).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, type V1Container, type V1EnvVar, type V1Pod } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { adminKubeConfig, serviceAccountKubeconfig, startCluster, type Cluster } from "../test/harness/cluster.js";
import { startDatadogService, type DatadogService } from "../test/harness/datadog.js";
import { createGrant, createNamespace, eventually, readyCondition, waitForGrant } from "../test/harness/kube.js";
import { startMoto, type MotoServer } from "../test/harness/moto.js";
import { startOperator, sumMetric, type OperatorProcess } from "../test/harness/operator.js";
import { pythonVenv, venvBin } from "../test/harness/paths.js";
import { freePort, spawnTied, waitFor, type TiedProcess } from "../test/harness/process.js";
import { CHART_DIR, helm, VALUES_FROM_STDIN, valuesInput } from "../test/chart/helm.js";
import { resolveOperatorEnv } from "../test/chart/operator-env.js";
import { apiRequest } from "../test/chart/api.js";
import { AGENT_NODE_FLAGS } from "../src/agent/node-flags.js";
import { AGENT_CONTAINER_NAME, CREDENTIALS_MOUNT_PATH, DEFAULT_AGENT_API_PORT, DEFAULT_AGENT_METRICS_PORT } from "../src/shared/names.js";
import { bold, dim, secondsSinceStart, show, step } from "./narration.js";

const run = promisify(execFile);
const ORG_UUID = "3f5e8c1a-7b2d-4e9f-a6c0-1d2b3c4d5e6f";
const ROLE = "ray-training";
const TOKEN_TTL_SECONDS = 20;

/** Never print a credential: a short fingerprint tells two apart. */
function fingerprint(secret: string): string {
  return `sha256:${createHash("sha256").update(secret).digest("hex").slice(0, 12)} (${secret.length} characters)`;
}

const cleanups: Array<() => Promise<unknown>> = [];
const scratch = mkdtempSync(join(tmpdir(), "ddcred-demo-"));
cleanups.push(async () => rmSync(scratch, { recursive: true, force: true }));

async function main(): Promise<void> {
  console.log(bold("ddcred demo: short-lived Datadog credentials for Kubernetes pods, from their AWS identity"));
  console.log(dim("Everything runs on this machine, on loopback; nothing talks to AWS or Datadog."));

  step(
    "Start a real Kubernetes control plane",
    "etcd plus a kube-apiserver built from the k8s.io/kubernetes Go module, with RBAC and TLS.",
    "(There is no kubelet or scheduler: pods are admitted and stored, but nothing runs them;",
    " this demo runs the credential agent itself in step 7.)",
  );
  const cluster: Cluster = await startCluster();
  cleanups.push(() => cluster.stop());
  const admin = adminKubeConfig(cluster);
  const version = (await apiRequest(cluster, "GET", "/version")).body;
  show(`kube-apiserver ${version.gitVersion} at ${cluster.server}`);

  step(
    "Start stand-ins for AWS STS and Datadog",
    "moto plays AWS STS with SigV4 signature checking on; it knows one IAM user (the pod's base identity)",
    `and one role, ${ROLE}. The project's Datadog token service verifies delegated proofs the way Datadog`,
    `does (it replays the signed GetCallerIdentity against STS) and issues tokens that live ${TOKEN_TTL_SECONDS} s here.`,
  );
  const moto: MotoServer = await startMoto({ roles: [ROLE] });
  cleanups.push(() => moto.stop());
  const datadog: DatadogService = await startDatadogService({
    stsUrl: moto.url,
    orgs: [{ uuid: ORG_UUID, roleArns: [moto.roleArn(ROLE)] }],
    tokenTtlSeconds: TOKEN_TTL_SECONDS,
  });
  cleanups.push(() => datadog.stop());
  show(`AWS STS (moto)          ${moto.url}\nDatadog token service   ${datadog.url}  (org ${ORG_UUID} maps role ${ROLE})`);

  step(
    "helm install the ddcred-operator chart",
    "CRDs, RBAC, the webhook configuration, the Deployment. The API server here cannot route to a Service,",
    "so the chart's webhook.url points the webhook at the operator process this demo runs locally.",
  );
  const webhookPort = await freePort();
  const helmHome = join(scratch, "helm");
  const installed = await helm(
    ["install", "ddcred", CHART_DIR, "--namespace", "ddcred-system", "--create-namespace", "--kubeconfig", cluster.adminKubeconfig, ...VALUES_FROM_STDIN],
    valuesInput({
      image: { repository: "ddcred/ddcred-operator", tag: "demo" },
      webhook: { port: webhookPort, url: `https://127.0.0.1:${webhookPort}` },
      agent: { datadogApiUrl: datadog.url },
    }),
    helmHome,
  );
  if (installed.code !== 0) throw new Error(`helm install failed:\n${installed.stderr}`);
  show(installed.stdout.split("\n").filter((line) => /^(NAME|NAMESPACE|STATUS|REVISION):/.test(line)).join("\n"));
  await eventually("the CRDs to be served", async () => (await apiRequest(cluster, "GET", "/apis/ddcred.io/v1alpha1")).status === 200);

  step(
    "Run the operator as the chart's Deployment would",
    "Same environment as the installed Deployment, and a token of the chart's own ServiceAccount,",
    "so it can do exactly what the chart's RBAC allows. It creates its webhook CA and patches the caBundle.",
  );
  const deployments = await apiRequest(cluster, "GET", "/apis/apps/v1/namespaces/ddcred-system/deployments?labelSelector=app.kubernetes.io/instance%3Dddcred");
  const deployment = deployments.body.items[0];
  const { DDCRED_HEALTH_PORT: _chosenLocally, ...operatorEnv } = resolveOperatorEnv(deployment, { namespace: "ddcred-system", podName: "ddcred-demo-0" });
  const { path: operatorKubeconfig } = await serviceAccountKubeconfig(cluster, "ddcred-system", deployment.spec.template.spec.serviceAccountName);
  const operator: OperatorProcess = await startOperator({ kubeconfig: operatorKubeconfig, namespace: "ddcred-system", env: { ...operatorEnv, DDCRED_LOG_LEVEL: "warn" } });
  cleanups.push(() => operator.stop());
  const webhookName = operatorEnv.DDCRED_WEBHOOK_CONFIGURATION_NAME!;
  await eventually("the caBundle", async () => {
    const configuration = (await apiRequest(cluster, "GET", `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${webhookName}`)).body;
    return Boolean(configuration.webhooks?.[0]?.clientConfig?.caBundle);
  });
  show(`operator ready (${operator.healthUrl}/readyz); caBundle of ${webhookName} set by the operator`);

  step(
    "Enable a namespace and declare a grant",
    "kubectl label namespace ray ddcred.io/injection=enabled, then one grant for every pod carrying the",
    "label datadog-credentials=ray-training (put it on the head, worker and submitter templates).",
  );
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: "ray", labels: { "ddcred.io/injection": "enabled" } } } });
  await core.createNamespacedServiceAccount({ namespace: "ray", body: { metadata: { name: "default" } } });
  const grantSpec = {
    podSelector: { matchLabels: { "datadog-credentials": "ray-training" } },
    aws: { roleArn: moto.roleArn(ROLE), region: "us-east-1" },
    datadog: { orgUuid: ORG_UUID, site: "datadoghq.com" as const },
  };
  show(stringify({ apiVersion: "ddcred.io/v1alpha1", kind: "DatadogCredentialGrant", metadata: { name: "ray-training", namespace: "ray" }, spec: grantSpec }));
  await createGrant(admin, "ray", "ray-training", grantSpec);
  const ready = await waitForGrant(admin, "ray", "ray-training", (g) => readyCondition(g)?.status === "True");
  show(`$ kubectl get ddgrant -n ray\nNAME           READY   REASON   INJECTED\nray-training   ${readyCondition(ready)?.status}    ${readyCondition(ready)?.reason}    ${ready.status?.injectedPods}`);

  step(
    "Create a Ray worker pod, shaped as KubeRay makes it",
    "The webhook adds the credential agent as a native sidecar (first init container, restartPolicy Always,",
    "startup probe gated on the first credentials), a memory volume, and env for the Ray container.",
  );
  const pod = await core.createNamespacedPod({ namespace: "ray", body: rayWorkerPod() });
  const agentContainer = pod.spec!.initContainers![0]!;
  const rayContainer = pod.spec!.containers[0]!;
  show(stringify({ initContainers: [summarizeAgent(agentContainer)], volumes: pod.spec!.volumes?.filter((v) => v.name.startsWith("ddcred")) }));
  const added = (rayContainer.env ?? []).filter((e) => /^(DD_|DDCRED_|AWS_)/.test(e.name));
  show(stringify({ [`containers[0] (${rayContainer.name}) env added`]: added.map((e) => `${e.name}=${e.value}`) }));
  show(`markers: label ddcred.io/grant=${pod.metadata?.labels?.["ddcred.io/grant"]}, annotation ddcred.io/grant-generation=${pod.metadata?.annotations?.["ddcred.io/grant-generation"]}`);

  step(
    "Run the agent with this pod's configuration",
    "Exactly the env the webhook wrote into the ddcred-agent container. Three things differ from a node:",
    `the pod's base AWS identity comes from env (in EKS: IRSA or Pod Identity), the volume ${CREDENTIALS_MOUNT_PATH} is a`,
    "temporary directory, and free ports replace 9911/9912 so nothing on this machine collides.",
  );
  const credentialsDir = join(scratch, "credentials");
  const [apiPort, metricsPort] = [await freePort(), await freePort()];
  const localize = (value: string) =>
    value
      .replaceAll(CREDENTIALS_MOUNT_PATH, credentialsDir)
      .replaceAll(`:${DEFAULT_AGENT_API_PORT}`, `:${apiPort}`)
      .replaceAll(`:${DEFAULT_AGENT_METRICS_PORT}`, `:${metricsPort}`);
  const podFields: Record<string, string> = { "metadata.name": pod.metadata!.name!, "metadata.namespace": "ray", "status.podIP": "127.0.0.1" };
  const containerEnv = (container: V1Container) =>
    Object.fromEntries(
      (container.env ?? []).map((e: V1EnvVar) => [e.name, localize(e.value ?? podFields[e.valueFrom?.fieldRef?.fieldPath ?? ""] ?? "")]),
    );
  const agentEnv = {
    ...containerEnv(agentContainer),
    DDCRED_API_PORT: String(apiPort),
    DDCRED_METRICS_PORT: String(metricsPort),
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    AWS_ACCESS_KEY_ID: moto.baseCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: moto.baseCredentials.secretAccessKey,
    AWS_ENDPOINT_URL_STS: moto.url,
    AWS_EC2_METADATA_DISABLED: "true",
  };
  const agentStart = Date.now();
  const agent: TiedProcess = spawnTied("ddcred-agent", process.execPath, [...AGENT_NODE_FLAGS, join(process.cwd(), "dist/agent.mjs")], {
    env: agentEnv,
    logFile: join(scratch, "agent.log"),
  });
  cleanups.push(() => agent.stop());
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  await waitFor("the agent's /readyz", async () => ((await fetch(`${metricsUrl}/readyz`).catch(() => undefined))?.ok ? true : undefined), {
    process: agent,
    timeoutMs: 30_000,
    intervalMs: 20,
  });
  show(`agent ready in ${Date.now() - agentStart} ms (the startup probe would pass now; the Ray container may start)`);
  show(`credentials volume: ${readdirSync(credentialsDir).sort().join(", ")}`);

  step(
    "A real consumer gets the granted identity, with no code change",
    "The AWS CLI with the Ray container's env: AWS_CONFIG_FILE's credential_process is a plain `cat` of a",
    "file the agent keeps fresh. Then the official Datadog Python client, with the token from DD_BEARER_TOKEN_FILE.",
  );
  const appEnv = { ...containerEnv(rayContainer), PATH: `${join(pythonVenv(), "bin")}:/usr/bin:/bin`, HOME: scratch, AWS_ENDPOINT_URL_STS: moto.url };
  const identity = await run(venvBin("aws"), ["sts", "get-caller-identity", "--output", "json"], { env: appEnv });
  show(`$ aws sts get-caller-identity\n${identity.stdout.trim()}`);
  const tokenFile = appEnv.DD_BEARER_TOKEN_FILE!;
  const firstToken = readFileSync(tokenFile, "utf8").trim();
  const users = await run(venvBin("python"), [join(process.cwd(), "test/agent/consumers/datadog_bearer.py"), datadog.url, "1"], { env: appEnv });
  show(`$ python datadog_bearer.py   # UsersApi.list_users with Configuration(access_token=<DD_BEARER_TOKEN_FILE>)\n${users.stdout.trim()}`);
  show(`token in DD_BEARER_TOKEN_FILE: ${fingerprint(firstToken)}`);

  step(
    "The agent refreshes before expiry",
    `Tokens live ${TOKEN_TTL_SECONDS} s here (an hour or so in real life); the agent replaces the file atomically`,
    "well before expiry, so readers never see an expired or half-written token.",
  );
  const secret = readFileSync(appEnv.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE!, "utf8").trim();
  const tokenInfo = async () =>
    (await (await fetch(`http://127.0.0.1:${apiPort}/v1/datadog-token`, { headers: { authorization: secret } })).json()) as { token: string; expiresAt: string };
  const before = await tokenInfo();
  show(`now:     ${fingerprint(before.token)} expires ${before.expiresAt}`);
  const after = await eventually("a refreshed token", async () => {
    const current = await tokenInfo();
    return current.token !== before.token ? current : undefined;
  }, TOKEN_TTL_SECONDS * 1000 + 10_000);
  show(`renewed: ${fingerprint(after.token)} expires ${after.expiresAt}  (file rewritten: ${readFileSync(tokenFile, "utf8").trim() === after.token})`);
  const refused = await fetch(`http://127.0.0.1:${apiPort}/v1/datadog-token`, { headers: { authorization: "guess" } });
  show(`the loopback API without the per-pod secret: HTTP ${refused.status}`);
  const awsSecret = (JSON.parse(readFileSync(join(credentialsDir, "aws-credentials.json"), "utf8")) as { SecretAccessKey: string }).SecretAccessKey;
  const stored = JSON.stringify(await core.readNamespacedPod({ name: pod.metadata!.name!, namespace: "ray" }));
  const leaked = [firstToken, after.token, secret, awsSecret].filter((value) => stored.includes(value));
  show(`the pod as the API server stores it holds none of the token, the per-pod secret or the AWS secret key: ${leaked.length === 0 ? "confirmed" : "LEAKED"}`);
  if (leaked.length > 0) throw new Error("a credential reached the pod spec");

  step("The agent's expiry metrics", `What Prometheus scrapes from the pod IP, port ${DEFAULT_AGENT_METRICS_PORT} (nothing secret in them).`);
  const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
  show(
    metrics
      .split("\n")
      .filter((line) => /^ddcred_credential_(expiry_timestamp_seconds|refresh_total)/.test(line))
      .map((line) => {
        const [name, value] = line.split(/ (?=\S+$)/);
        return /expiry/.test(line) ? `${name} ${value}   # ${new Date(Number(value) * 1000).toISOString()}` : line;
      })
      .join("\n"),
  );

  step("The grant's status follows the pods", "The controller counts injected, stale and missed pods from live pods.");
  const counted = await waitForGrant(admin, "ray", "ray-training", (g) => g.status?.injectedPods === 1);
  show(stringify({ status: { ...counted.status, conditions: counted.status?.conditions?.map(({ type, status, reason }) => ({ type, status, reason })) } }));
  show(`operator: ${sumMetric(await operator.metrics(), "ddcred_admission_requests_total", { result: "injected" })} pod injected, ${sumMetric(await operator.metrics(), "ddcred_reconcile_total")} reconciles`);

  console.log(`\n${bold(`Done in ${secondsSinceStart()} s.`)} Cleaning up: agent, operator, token service, moto, API server, temp files.`);
}

function summarizeAgent(container: V1Container) {
  return {
    name: container.name,
    image: container.image,
    restartPolicy: container.restartPolicy,
    startupProbe: `${container.startupProbe?.httpGet?.path} on port ${container.startupProbe?.httpGet?.port}`,
    securityContext: container.securityContext,
    resources: container.resources,
    env: (container.env ?? []).map((e) => (e.value !== undefined ? `${e.name}=${e.value}` : `${e.name} from ${e.valueFrom?.fieldRef?.fieldPath}`)),
  };
}

/** A worker pod as KubeRay 1.5 creates it for a RayCluster's worker group. */
function rayWorkerPod(): V1Pod {
  return {
    metadata: {
      generateName: "raycluster-training-gpu-worker-",
      labels: {
        "datadog-credentials": "ray-training",
        "ray.io/cluster": "raycluster-training",
        "ray.io/group": "gpu",
        "ray.io/node-type": "worker",
        "ray.io/is-ray-node": "yes",
        "ray.io/identifier": "raycluster-training-worker",
        "app.kubernetes.io/created-by": "kuberay-operator",
        "app.kubernetes.io/name": "kuberay",
      },
    },
    spec: {
      initContainers: [
        {
          name: "wait-gcs-ready",
          image: "rayproject/ray:2.46.0",
          command: ["/bin/bash", "-lc", "--"],
          args: ["until ray health-check --address raycluster-training-head-svc.ray.svc.cluster.local:6379; do sleep 5; done"],
        },
      ],
      containers: [
        {
          name: "ray-worker",
          image: "rayproject/ray:2.46.0",
          command: ["/bin/bash", "-lc", "--"],
          args: ["ulimit -n 65536; ray start --address=raycluster-training-head-svc.ray.svc.cluster.local:6379 --block"],
          env: [{ name: "RAY_CLUSTER_NAME", value: "raycluster-training" }],
          ports: [{ containerPort: 8080, name: "metrics", protocol: "TCP" }],
          resources: { limits: { cpu: "1", memory: "2Gi" }, requests: { cpu: "1", memory: "2Gi" } },
          volumeMounts: [{ mountPath: "/dev/shm", name: "shared-mem" }],
        },
      ],
      volumes: [{ name: "shared-mem", emptyDir: { medium: "Memory", sizeLimit: "2Gi" } }],
    },
  };
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  console.error(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
}
process.exit(failed ? 1 : 0);
