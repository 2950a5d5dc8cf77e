// The ddcred demo on a real Kubernetes node on this machine: what a platform
// team and a Ray user see, with kubectl, step by step. ./scripts/demo.sh runs
// it where a node can run (root, containerd) and the API-server-only demo
// (demo/run.ts) elsewhere.
//
// With DDCRED_DEMO_NODE set (JSON {node, stack}: the test suite's running
// node and credential stack) it uses those instead of starting its own: one
// node runs per host.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { adminKubeConfig } from "../test/harness/cluster.js";
import { createGrant, eventually, readyCondition, uniqueName, waitForGrant } from "../test/harness/kube.js";
import { startNodeCluster, type NodeClusterInfo } from "../test/harness/node/node-cluster.js";
import { startCredentialStack, type CredentialStackInfo } from "../test/harness/node/credential-stack.js";
import { isRunningAndReady, waitForPod } from "../test/harness/node/pods.js";
import { withIrsa } from "../test/harness/node/irsa.js";
import { webIdentityStsClient } from "../test/harness/node/web-identity-sts.js";
import { toolPaths } from "../test/harness/tools.js";
import { installKubeRayCrds, startKubeRay } from "../test/kuberay/kuberay-operator.js";
import { createRayCluster, deleteRayObjects, rayClusterSpec } from "../test/kuberay/ray-objects.js";
import { AGENT_CONTAINER_NAME, DEFAULT_AGENT_METRICS_PORT } from "../src/shared/names.js";
import { bold, dim, secondsSinceStart, show, step } from "./narration.js";

const run = promisify(execFile);
const GRANTED_ROLE = "datadog/ray";
const BASE_ROLE = "irsa/ray-base";
const BASE_SESSION = "ray-irsa";
const TOKEN_TTL_SECONDS = 20;


const cleanups: Array<() => Promise<unknown>> = [];

async function main(): Promise<void> {
  console.log(bold("ddcred demo on a real Kubernetes node: short-lived Datadog credentials for Ray pods, from their AWS identity"));
  console.log(dim("Everything runs on this machine; nothing talks to AWS or Datadog. Secrets are shown as fingerprints only."));
  const shared = process.env.DDCRED_DEMO_NODE ? (JSON.parse(process.env.DDCRED_DEMO_NODE) as { node: NodeClusterInfo; stack: CredentialStackInfo }) : undefined;

  step(
    "Start a one-node Kubernetes cluster",
    "etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy built from the k8s.io/kubernetes",
    "module, containerd and runc from Debian; images built with buildah from the repository's Dockerfile, no registry.",
  );
  let node: NodeClusterInfo;
  if (shared) {
    node = shared.node;
    show("(using the test run's node)");
  } else {
    const own = await startNodeCluster();
    cleanups.push(() => own.stop());
    node = own;
  }
  const kubectl = async (...args: string[]) => (await run(toolPaths().kube, ["kubectl", `--kubeconfig=${node.adminKubeconfig}`, ...args])).stdout;
  show(`$ kubectl get nodes -o wide\n${await kubectl("get", "nodes", "-o", "wide")}`);

  step(
    "Install ddcred with Helm, as a platform team does",
    "Two operator replicas (every one serves the webhook, one leads the controller), the webhook reached through its",
    "Service, its CA and serving certificate managed by the operator. Beside it: stand-ins for AWS STS (moto, with",
    "IRSA's AssumeRoleWithWebIdentity) and Datadog (the project's token service), on the node's address.",
  );
  let stack: CredentialStackInfo;
  if (shared) {
    stack = shared.stack;
    show(`(using the test run's release ${stack.release.name} in ${stack.release.namespace})`);
  } else {
    const own = await startCredentialStack(node, { grantedRoles: [GRANTED_ROLE], baseRoles: [{ role: BASE_ROLE, sessionName: BASE_SESSION }] });
    cleanups.push(() => own.stop());
    stack = own.info();
    show(own.release.installOutput.split("\n").filter((line) => /^(NAME|NAMESPACE|STATUS|REVISION):/.test(line)).join("\n"));
  }
  // Tokens that expire in seconds, so a refresh happens while you watch.
  const ttl = await datadogTtl(stack.datadogUrl, { tokenTtlSeconds: TOKEN_TTL_SECONDS });
  cleanups.push(() => datadogTtl(stack.datadogUrl, ttl));
  show(`$ kubectl get deployments,pods -n ${stack.release.namespace}\n${await kubectl("get", "deployments,pods", "-n", stack.release.namespace)}`);

  step(
    "Enable a namespace and grant its Ray pods a role",
    "The namespace opts in with a label; the grant names the pods, their ServiceAccount, the AWS role and the Datadog org.",
  );
  const admin = adminKubeConfig(node);
  const core = admin.makeApiClient(CoreV1Api);
  const namespace = shared ? uniqueName("demo-ray") : "ray";
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { "ddcred.io/injection": "enabled" } } } });
  cleanups.push(async () => {
    await deleteRayObjects(admin, namespace).catch(() => undefined);
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });
  await eventually("the namespace's default ServiceAccount", async () => (await core.readNamespacedServiceAccount({ name: "default", namespace }), true));
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "ray-runner" } } });
  await webIdentityStsClient(stack.stsUrl, stack.stsControlUrl).trust(stack.roleArns[BASE_ROLE]!, `system:serviceaccount:${namespace}:ray-runner`);
  const grantSpec = {
    podSelector: { matchLabels: { "datadog-credentials": "ray-training" } },
    serviceAccountNames: ["ray-runner"],
    aws: { roleArn: stack.roleArns[GRANTED_ROLE]!, region: "us-east-1" },
    datadog: { orgUuid: stack.orgUuid, site: "datadoghq.com" as const },
  };
  await createGrant(admin, namespace, "ray-training", grantSpec);
  show(stringify({ apiVersion: "ddcred.io/v1alpha1", kind: "DatadogCredentialGrant", metadata: { name: "ray-training", namespace }, spec: grantSpec }));
  await waitForGrant(admin, namespace, "ray-training", (g) => readyCondition(g)?.status === "True");
  show(`$ kubectl get ddgrant -n ${namespace}\n${await kubectl("get", "ddgrant", "-n", namespace)}`);

  const kuberayBuilt = existsSync(toolPaths().kuberayOperator);
  step(
    kuberayBuilt ? "Create a RayCluster with KubeRay" : "Create a Ray-shaped Deployment (KubeRay's operator is not built here)",
    "The Ray containers run a stand-in for Ray (its images cannot be pulled here) that answers KubeRay's probes and, like",
    "a Ray task, reads DD_BEARER_TOKEN_FILE and asks STS who it is: no line of it is about ddcred.",
  );
  const template = withIrsa(
    { metadata: { labels: { "datadog-credentials": "ray-training" } }, spec: { serviceAccountName: "ray-runner", containers: [{ name: "ray-head" }] } },
    { roleArn: stack.roleArns[BASE_ROLE]!, sessionName: BASE_SESSION, stsUrl: stack.stsUrl },
  );
  const container = template.spec!.containers[0]!;
  if (kuberayBuilt) {
    await installKubeRayCrds(node);
    const kuberay = await startKubeRay(node, [namespace]);
    cleanups.push(() => kuberay.stop());
    await createRayCluster(
      admin,
      namespace,
      "training",
      rayClusterSpec({
        labels: template.metadata!.labels!,
        workers: 1,
        template: {
          image: node.images["ray-standin"].ref,
          imagePullPolicy: "Never",
          resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
          serviceAccountName: "ray-runner",
          env: [...container.env!, { name: "HOME", value: "/tmp" }],
          volumeMounts: container.volumeMounts!,
          volumes: template.spec!.volumes!,
        },
      }),
    );
  } else {
    await admin.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: "training-head" },
        spec: {
          selector: { matchLabels: { "ray.io/node-type": "head" } },
          template: {
            metadata: { labels: { ...template.metadata!.labels!, "ray.io/node-type": "head", "ray.io/cluster": "training" } },
            spec: {
              ...template.spec!,
              containers: [{ ...container, image: node.images["ray-standin"].ref, imagePullPolicy: "Never", command: ["ray", "start", "--head", "--block"], env: [...container.env!, { name: "HOME", value: "/tmp" }] }],
            },
          },
        },
      },
    });
  }
  const pods = await eventually("the Ray pods", async () => {
    const found = (await core.listNamespacedPod({ namespace, labelSelector: "ray.io/cluster=training" })).items;
    return found.length === (kuberayBuilt ? 2 : 1) ? found : undefined;
  }, 120_000);
  const ready = await Promise.all(pods.map((pod) => waitForPod(admin, namespace, pod.metadata!.name!, "to be ready", isRunningAndReady, 180_000)));
  const head = ready.find((pod) => pod.metadata!.labels!["ray.io/node-type"] === "head")!;
  show(`$ kubectl get pods -n ${namespace} -o wide\n${await kubectl("get", "pods", "-n", namespace, "-o", "wide")}`);
  show(`$ kubectl get pod ${head.metadata!.name} -n ${namespace} -o jsonpath='{.spec.initContainers[*].name} {.spec.containers[*].name}'\n${await kubectl("get", "pod", head.metadata!.name!, "-n", namespace, "-o", "jsonpath={.spec.initContainers[*].name} | {.spec.containers[*].name}")}`);

  step("What the Ray container printed", "The Ray process found a Datadog token and ran as the granted role, through the env the webhook added.");
  const rayContainer = head.spec!.containers[0]!.name;
  show(`$ kubectl logs ${head.metadata!.name} -n ${namespace} -c ${rayContainer}\n${await kubectl("logs", head.metadata!.name!, "-n", namespace, "-c", rayContainer)}`);
  const agentLog = await kubectl("logs", head.metadata!.name!, "-n", namespace, "-c", AGENT_CONTAINER_NAME);
  show(`$ kubectl logs ${head.metadata!.name} -n ${namespace} -c ${AGENT_CONTAINER_NAME} | jq -r .msg\n${agentLog.split("\n").filter(Boolean).slice(0, 5).map((line) => (JSON.parse(line) as { msg: string }).msg).join("\n")}`);

  step(
    "Submit a Ray job, as a Ray user does",
    "`ray job submit` to the head's dashboard; the job's driver runs in the head's Ray container and calls Datadog's API",
    "with the token file and STS with the granted role, through the official clients and the env the webhook added.",
  );
  const driver = [
    "import os, boto3",
    "from datadog_api_client import ApiClient, Configuration",
    "from datadog_api_client.v2.api.users_api import UsersApi",
    "token = open(os.environ['DD_BEARER_TOKEN_FILE']).read().strip()",
    `with ApiClient(Configuration(host='${stack.datadogUrl}', access_token=token)) as api:`,
    "    me = UsersApi(api).list_users().data[0]",
    "print('Datadog API, as this job:', me.attributes.handle)",
    "print('AWS, as this job:', boto3.client('sts').get_caller_identity()['Arn'])",
  ].join("\n");
  const submitted = await kubectl("exec", head.metadata!.name!, "-n", namespace, "-c", rayContainer, "--", "ray", "job", "submit", "--address", "http://127.0.0.1:8265", "--", "python3", "-c", driver);
  show(
    `$ kubectl exec ${head.metadata!.name} -n ${namespace} -c ${rayContainer} -- ray job submit --address http://127.0.0.1:8265 -- python3 job.py\n` +
      submitted.split("\n").filter((line) => !line.startsWith("{")).join("\n"),
  );

  step("A refresh, as the Ray container sees it", `Tokens live ${TOKEN_TTL_SECONDS} s here; the agent renews each before it expires and replaces the file atomically.`);
  const fingerprint = async () => (await kubectl("exec", head.metadata!.name!, "-n", namespace, "-c", rayContainer, "--", "sha256sum", "/var/run/ddcred/datadog-token")).split(" ")[0]!.slice(0, 12);
  const before = await fingerprint();
  show(`$ kubectl exec ${head.metadata!.name} -c ${rayContainer} -- sha256sum /var/run/ddcred/datadog-token\nsha256:${before}…`);
  const after = await eventually("the agent to renew the token", async () => {
    const now = await fingerprint();
    return now !== before ? now : undefined;
  }, (TOKEN_TTL_SECONDS + 30) * 1000);
  show(`a moment later:\nsha256:${after}…   (renewed: ${after !== before})`);

  step("The agent's metrics", `What Prometheus scrapes from the pod IP, port ${DEFAULT_AGENT_METRICS_PORT}: expiry times and refresh counts, nothing secret.`);
  const metrics = await (await fetch(`http://${head.status!.podIP}:${DEFAULT_AGENT_METRICS_PORT}/metrics`)).text();
  show(metrics.split("\n").filter((line) => /^ddcred_credential_(expiry_timestamp_seconds|refresh_total)\{/.test(line)).join("\n"));

  step("The grant's status", "The controller counts the pods it injected, and those that match but carry no agent.");
  const counted = await waitForGrant(admin, namespace, "ray-training", (g) => (g.status?.injectedPods ?? 0) === ready.length);
  show(`$ kubectl get ddgrant -n ${namespace}\n${await kubectl("get", "ddgrant", "-n", namespace)}`);
  show(stringify({ status: { injectedPods: counted.status?.injectedPods, stalePods: counted.status?.stalePods, missedPods: counted.status?.missedPods } }));
  console.log(`\n${bold(`Done in ${secondsSinceStart()} s.`)} ${dim("Cleaning up: every pod, the node, and what it changed on this host.")}`);
}

/** Sets the Datadog token service's TTLs; returns the previous ones. */
async function datadogTtl(url: string, ttls: { tokenTtlSeconds?: number }): Promise<{ tokenTtlSeconds?: number }> {
  const stats = (await (await fetch(`${url}/_test/stats`)).json()) as { tokenTtlSeconds?: number };
  const response = await fetch(`${url}/_test/ttl`, { method: "PUT", body: JSON.stringify(ttls), headers: { "content-type": "application/json" } });
  if (!response.ok) throw new Error(`setting the token TTL failed: ${response.status}`);
  return { ...(stats.tokenTtlSeconds === undefined ? {} : { tokenTtlSeconds: stats.tokenTtlSeconds }) };
}

void (async () => {
  try {
    await main();
  } catch (error) {
    process.exitCode = 1;
    console.error(`\nThe demo failed: ${error instanceof Error ? error.stack : String(error)}`);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error(`cleanup: ${String(error)}`));
  }
})();
