// `helm install` into the real API server, then the operator run as the
// chart's Deployment would run it: the chart's ServiceAccount token (so only
// the chart's RBAC), the Deployment's environment read back from the API
// server, the bundle laid out as in the image. The API server has no
// kube-proxy, so the chart registers the webhook by URL (webhook.url) at the
// operator's local port. Then: grant → injected pod → grant status counts.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { adminKubeConfig, serviceAccountKubeconfig, type ClusterInfo } from "../harness/cluster.js";
import {
  createGrant,
  createNamespace,
  createPod,
  deleteNamespace,
  eventually,
  grantSpec,
  readyCondition,
  REPO_ROOT,
  simplePod,
  uniqueName,
  waitForGrant,
} from "../harness/kube.js";
import { startOperator, type OperatorProcess } from "../harness/operator.js";
import { freePort } from "../harness/process.js";
import { AGENT_CONTAINER_NAME, GRANT_LABEL, INJECTED_ANNOTATION } from "../../src/shared/names.js";
import { apiRequest, Discovery } from "./api.js";
import { CHART_DIR, helm, parseObjects, VALUES_FROM_STDIN, valuesInput, type KubeObject } from "./helm.js";
import { resolveOperatorEnv } from "./operator-env.js";

/** Confines this release's webhook to this test's namespaces: the API server is shared with other test files. */
const TEST_SCOPE_LABEL = "ddcred.io/chart-test";

let cluster: ClusterInfo;
let release: string;
let releaseNamespace: string;
let webhookPort: number;
let installed = false;
let operator: OperatorProcess | undefined;
const namespaces: string[] = [];
const scratch = mkdtempSync(join(tmpdir(), "ddcred-chart-install-"));
/** Helm's home for this file: it caches the API server's discovery there. */
const helmHome = join(scratch, "helm-home");

beforeAll(async () => {
  cluster = inject("cluster");
  release = uniqueName("e2e");
  releaseNamespace = await createNamespace(adminKubeConfig(cluster), { prefix: "chart-install" });
  namespaces.push(releaseNamespace);
  webhookPort = await freePort();
});

afterAll(async () => {
  // The operator first, while the chart's RBAC still lets it release its Lease.
  // Its webhook only ever sees this test's namespaces, so nothing else waits on it meanwhile.
  await operator?.stop();
  if (installed) await helm(["uninstall", release, "--namespace", releaseNamespace, "--kubeconfig", cluster.adminKubeconfig], undefined, helmHome);
  for (const namespace of namespaces) await deleteNamespace(adminKubeConfig(cluster), namespace);
  rmSync(scratch, { recursive: true, force: true });
});

async function installedObjects(): Promise<KubeObject[]> {
  const manifest = await helm(["get", "manifest", release, "--namespace", releaseNamespace, "--kubeconfig", cluster.adminKubeconfig], undefined, helmHome);
  expect(manifest.code, manifest.stderr).toBe(0);
  return parseObjects(manifest.stdout);
}

async function readDeployment(): Promise<any> {
  const list = await apiRequest(cluster, "GET", `/apis/apps/v1/namespaces/${releaseNamespace}/deployments?labelSelector=app.kubernetes.io/instance%3D${release}`);
  expect(list.body.items).toHaveLength(1);
  return list.body.items[0];
}

describe("the chart installed with helm", () => {
  it("installs into the API server and tells the user what to do next", async () => {
    const values = {
      // The test suite installed the CRDs already, outside any release.
      crds: { install: false },
      webhook: {
        port: webhookPort,
        url: `https://127.0.0.1:${webhookPort}`,
        namespaceSelectorExpressions: [{ key: TEST_SCOPE_LABEL, operator: "In", values: [release] }],
      },
    };
    const result = await helm(
      ["install", release, CHART_DIR, "--namespace", releaseNamespace, "--kubeconfig", cluster.adminKubeconfig, ...VALUES_FROM_STDIN],
      valuesInput(values),
      helmHome,
    );
    expect(result.code, result.stderr).toBe(0);
    installed = true;
    expect(result.stdout).toContain("STATUS: deployed");
    expect(result.stdout).toContain("kubectl label namespace my-apps ddcred.io/injection=enabled");
    expect(result.stdout).toContain("kind: DatadogCredentialGrant");
    expect(result.stdout).toContain("kubectl get ddgrant -n my-apps");
  });

  it("created every object it rendered", async () => {
    const objects = await installedObjects();
    const discovery = new Discovery(cluster);
    const missing: string[] = [];
    for (const object of objects) {
      const response = await apiRequest(cluster, "GET", await discovery.objectPath(object, releaseNamespace));
      if (response.status !== 200) missing.push(`${object.kind} ${object.metadata.name}: ${response.status}`);
    }
    expect(objects.map((o) => o.kind)).toContain("MutatingWebhookConfiguration");
    expect(missing).toEqual([]);
  });

  it("lets the operator, with the chart's ServiceAccount and environment, register its CA in the chart's webhook configuration", async () => {
    const deployment = await readDeployment();
    const pod = deployment.spec.template.spec;
    const { DDCRED_HEALTH_PORT: _pickedByTheHarness, ...env } = resolveOperatorEnv(deployment, { namespace: releaseNamespace, podName: `${release}-local` });
    const { path: kubeconfig } = await serviceAccountKubeconfig(cluster, releaseNamespace, pod.serviceAccountName);
    // The bundle alone, where the image keeps it: no node_modules next to or above it.
    mkdirSync(join(scratch, "app/dist"), { recursive: true });
    const entryPoint = join(scratch, "app/dist/operator.mjs");
    copyFileSync(join(REPO_ROOT, "dist/operator.mjs"), entryPoint);
    operator = await startOperator({ kubeconfig, namespace: releaseNamespace, env, entryPoint });

    const configurationName = env.DDCRED_WEBHOOK_CONFIGURATION_NAME!;
    const caBundle = await eventually(`a caBundle in ${configurationName}`, async () => {
      const response = await apiRequest(cluster, "GET", `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${configurationName}`);
      return response.body?.webhooks?.[0]?.clientConfig?.caBundle as string | undefined;
    });
    expect(Buffer.from(caBundle, "base64").toString("utf8")).toContain("-----BEGIN CERTIFICATE-----");
  });

  it("injects the agent into a pod its grant selects, and the grant counts the pod", async () => {
    const admin = adminKubeConfig(cluster);
    const apps = await createNamespace(admin, { prefix: "chart-apps", injection: true, labels: { [TEST_SCOPE_LABEL]: release } });
    namespaces.push(apps);
    await createGrant(admin, apps, "demo", grantSpec());
    // Ready means the operator's grant cache, which the webhook shares, holds the grant.
    await waitForGrant(admin, apps, "demo", (grant) => readyCondition(grant)?.status === "True");

    const pod = await createPod(admin, apps, simplePod("demo-1", { app: "demo" }));
    expect(pod.spec?.initContainers?.[0]?.name).toBe(AGENT_CONTAINER_NAME);
    expect(pod.spec?.initContainers?.[0]?.image).toBe(operatorImage(await readDeployment()));
    expect(pod.metadata?.labels?.[GRANT_LABEL]).toBe("demo");
    expect(pod.metadata?.annotations?.[INJECTED_ANNOTATION]).toBe("demo");

    const grant = await waitForGrant(admin, apps, "demo", (g) => g.status?.injectedPods === 1);
    expect(grant.status).toMatchObject({ injectedPods: 1, stalePods: 0, missedPods: 0 });
    expect(await operator!.metricValue("ddcred_admission_requests_total", { result: "injected" })).toBe(1);
  });
});

function operatorImage(deployment: any): string {
  return deployment.spec.template.spec.containers[0].image;
}
