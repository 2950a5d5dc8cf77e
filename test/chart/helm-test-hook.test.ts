// The chart's `helm test` hook: what it renders, and what its check does in
// each case it must tell apart. On a cluster that runs pods the lead of a
// release runs it for real (`helm test <release> --logs`); here the rendered
// pod is admitted by the real API server, and the rendered check runs against
// an agent's loopback API stand-in.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ClusterInfo } from "../harness/cluster.js";
import { adminKubeConfig } from "../harness/cluster.js";
import { createNamespace, deleteNamespace } from "../harness/kube.js";
import { apiRequest } from "./api.js";
import { helm, helmTemplate, KUBE_VERSION_ARGS, CHART_DIR, VALUES_FROM_STDIN, valuesInput, type KubeObject } from "./helm.js";
import { SCENARIOS } from "./scenarios.js";
import { runNode, type NodeRun } from "../support/run-node.js";

const RELEASE_NAMESPACE = "ddcred-system";
const everyOption = SCENARIOS.find((s) => s.name === "every option set")!.values;
const scratch = mkdtempSync(join(tmpdir(), "ddcred-helm-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function hookPods(objects: readonly KubeObject[]): any[] {
  return objects.filter((o) => o.kind === "Pod" && o.metadata.annotations?.["helm.sh/hook"] === "test");
}

async function testPod(): Promise<any> {
  const pods = hookPods((await helmTemplate("r", RELEASE_NAMESPACE, everyOption)).objects);
  expect(pods).toHaveLength(1);
  return pods[0];
}

/** Runs the rendered check container's command with this env, as the pod would. */
async function runCheck(env: Record<string, string>): Promise<NodeRun> {
  const [command, ...args] = (await testPod()).spec.containers[0].command as string[];
  expect(command).toBe("node");
  return runNode(args, env);
}

/** An agent loopback API stand-in answering /readyz with this status. */
async function agentStandIn(status: number, body: string): Promise<{ endpoint: string; server: Server }> {
  const server = createServer((req, res) => {
    res.writeHead(req.url === "/readyz" ? status : 404, { "Content-Type": "text/plain" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("the helm test hook", () => {
  it("is not rendered unless tests.enabled", async () => {
    expect(hookPods((await helmTemplate("r", RELEASE_NAMESPACE, {})).objects)).toEqual([]);
  });

  it("is one pod in tests.namespace with the labels the grant selects, run once per helm test", async () => {
    const pod = await testPod();
    expect(pod.metadata.namespace).toBe("default");
    expect(pod.metadata.labels.app).toBe("ddcred-smoke");
    expect(pod.metadata.annotations).toMatchObject({
      "helm.sh/hook": "test",
      "helm.sh/hook-delete-policy": "before-hook-creation",
      "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/ddcred-smoke",
    });
    expect(pod.spec).toMatchObject({ restartPolicy: "Never", activeDeadlineSeconds: 300, serviceAccountName: "default" });
    expect(pod.spec.imagePullSecrets).toEqual([{ name: "registry-credentials" }]);
    expect(pod.spec.containers[0].image).toBe(
      "registry.example/platform/ddcred-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    );
    expect(pod.spec.containers[0].env.map((v: { name: string }) => v.name)).toEqual(["AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"]);
    expect(pod.spec.volumes.map((v: { name: string }) => v.name)).toEqual(["aws-iam-token"]);
  });

  it("refuses the release's own namespace, which is never injected", async () => {
    const result = await helm(
      ["template", "r", CHART_DIR, "--namespace", RELEASE_NAMESPACE, ...KUBE_VERSION_ARGS, ...VALUES_FROM_STDIN],
      valuesInput({ tests: { enabled: true, namespace: RELEASE_NAMESPACE, podLabels: { app: "x" } } }),
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/tests\.namespace: the release's namespace is never injected/);
  });

  it("refuses to render without a namespace to test in, and without the labels to test with", async () => {
    const render = (tests: object) =>
      helm(["template", "r", CHART_DIR, "--namespace", RELEASE_NAMESPACE, ...KUBE_VERSION_ARGS, ...VALUES_FROM_STDIN], valuesInput({ tests }));
    const noNamespace = await render({ enabled: true, podLabels: { app: "x" } });
    expect(noNamespace.code).not.toBe(0);
    // The values schema refuses them before the template's own checks run.
    expect(noNamespace.stderr).toMatch(/at '\/tests\/namespace': minLength/);
    expect(noNamespace.stderr).not.toMatch(/tests\/podLabels/);
    const noLabels = await render({ enabled: true, namespace: "default" });
    expect(noLabels.code).not.toBe(0);
    expect(noLabels.stderr).toMatch(/at '\/tests\/podLabels': minProperties/);
    expect(noLabels.stderr).not.toMatch(/tests\/namespace/);
  });

  describe("on the API server", () => {
    let cluster: ClusterInfo;
    let namespace: string;
    beforeAll(async () => {
      cluster = inject("cluster");
      namespace = await createNamespace(adminKubeConfig(cluster), {
        prefix: "chart-helm-test",
        labels: { "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest" },
      });
      // The ServiceAccount admission plugin wants the pod's account to exist (no controller makes "default" here).
      await apiRequest(cluster, "POST", `/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name: "smoke" } });
    });
    afterAll(async () => {
      if (namespace) await deleteNamespace(adminKubeConfig(cluster), namespace);
    });

    it("is a pod the API server admits in a namespace enforcing the restricted Pod Security Standard", async () => {
      const values = { ...everyOption, tests: { ...(everyOption as any).tests, namespace, serviceAccountName: "smoke" } };
      const [pod] = hookPods((await helmTemplate("r", RELEASE_NAMESPACE, values)).objects);
      const response = await apiRequest(cluster, "POST", `/api/v1/namespaces/${namespace}/pods?dryRun=All&fieldValidation=Strict`, pod);
      expect(response.status, JSON.stringify(response.body?.message)).toBe(201);
    });
  });
});

describe("the hook's check", () => {
  it("fails, saying the pod was not injected, when it has no agent endpoint", async () => {
    const run = await runCheck({});
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^FAIL: this pod was not injected/);
  });

  it("fails, with the agent's reason, when the agent is not ready", async () => {
    const { endpoint, server } = await agentStandIn(503, "not ready: datadog_token: Forbidden");
    try {
      const run = await runCheck({ DDCRED_ENDPOINT: endpoint });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^FAIL: the credential agent is not ready \(HTTP 503\): not ready: datadog_token: Forbidden/);
    } finally {
      server.close();
    }
  });

  it("fails when the agent is ready but a credential file it names is missing", async () => {
    const { endpoint, server } = await agentStandIn(200, "ready");
    try {
      const run = await runCheck({ DDCRED_ENDPOINT: endpoint, DD_BEARER_TOKEN_FILE: join(scratch, "absent") });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/cannot be read: ENOENT/);
    } finally {
      server.close();
    }
  });

  it("passes when the pod was injected and its agent is ready with its credential files, printing no credential", async () => {
    const { endpoint, server } = await agentStandIn(200, "ready");
    const token = join(scratch, "datadog-token");
    writeFileSync(token, "secret-bearer-token");
    try {
      const run = await runCheck({ DDCRED_ENDPOINT: endpoint, DD_BEARER_TOKEN_FILE: token, DD_SITE: "datadoghq.eu" });
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^PASS: injected by ddcred; the credential agent is ready \(ready\) for Datadog site datadoghq\.eu/);
      expect(run.stdout).not.toContain("secret-bearer-token");
    } finally {
      server.close();
    }
  });
});
