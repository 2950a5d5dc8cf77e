// `ddcred explain` end to end: the command (the package's bin, running the
// bundle the build makes) against a real API server, beside the real
// operator's webhook admitting the same pod, so its prediction is checked
// against what the webhook actually does.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppsV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { serviceAccountKubeconfig, type ClusterInfo } from "../harness/cluster.js";
import { createGrant, createNamespace, createPod, deleteNamespace, grantSpec, REPO_ROOT, simplePod } from "../harness/kube.js";
import { AGENT_IMAGE, startWebhookOperator, waitUntilInjecting, type WebhookOperator } from "../harness/webhook-operator.js";
import { runNode, type NodeRun } from "../support/run-node.js";

let cluster: ClusterInfo;
let setup: WebhookOperator;
let admin: KubeConfig;
let namespace: string;
const scratch = mkdtempSync(join(tmpdir(), "ddcred-explain-"));
const extraNamespaces: string[] = [];

beforeAll(async () => {
  cluster = inject("cluster");
  setup = await startWebhookOperator(cluster, {}, "explain");
  admin = setup.admin;
  namespace = await setup.namespace();
  await createGrant(admin, namespace, "training", grantSpec({ podSelector: { matchLabels: { app: "ray" } }, datadog: { orgUuid: "0f8fad5b-d9cb-469f-a165-70867728950e", intakeKey: true } }));
  await waitUntilInjecting(admin, namespace, simplePod("probe", { app: "ray" }));
});

afterAll(async () => {
  for (const name of extraNamespaces) await deleteNamespace(admin, name);
  await setup?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function explain(manifest: object, args: string[], env: Record<string, string> = {}, kubeconfig = cluster.adminKubeconfig): Promise<NodeRun> {
  const file = join(scratch, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(manifest));
  return runNode([join(REPO_ROOT, "scripts/ddcred-explain.mjs"), "--kubeconfig", kubeconfig, ...args, file], env);
}

describe("ddcred explain", () => {
  it("predicts exactly the agent and env the webhook gives the pod it admits", async () => {
    const pod: V1Pod = { apiVersion: "v1", kind: "Pod", ...simplePod("head", { app: "ray" }) };
    pod.metadata!.namespace = namespace;
    const admitted = await createPod(admin, namespace, pod);
    // The operator's own settings, as when explain runs in its container (kubectl exec).
    const run = await explain(pod, ["-o", "json"], { DDCRED_AGENT_IMAGE: AGENT_IMAGE, DDCRED_NAMESPACE: setup.operatorNamespace });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const { pods, notes } = JSON.parse(run.stdout);
    expect(notes[0]).toBe("operator settings: this operator container's environment");
    const { explanation } = pods[0];
    expect(explanation.decision).toMatchObject({ injected: true, reason: "Injected", grant: "training" });
    const agent = admitted.spec!.initContainers!.find((c) => c.name === "ddcred-agent")!;
    expect(explanation.agent.image).toBe(agent.image);
    expect(explanation.agent.env).toEqual(agent.env!.map(({ name, value }) => ({ name, ...(value === undefined ? {} : { value }) })));
    expect(explanation.wired).toEqual([
      { name: "main", mountPath: "/var/run/ddcred", env: admitted.spec!.containers[0]!.env!.map(({ name, value }) => ({ name, value })) },
    ]);
  });

  it("explains a Deployment's pods in text, with the agent image from the operator's Deployment", async () => {
    const operatorNamespace = await createNamespace(admin, { prefix: "explain-operator" });
    extraNamespaces.push(operatorNamespace);
    await admin.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace: operatorNamespace,
      body: {
        metadata: { name: "ddcred-operator", labels: { "app.kubernetes.io/name": "ddcred-operator" } },
        spec: {
          selector: { matchLabels: { app: "op" } },
          template: {
            metadata: { labels: { app: "op" } },
            spec: {
              containers: [
                {
                  name: "operator",
                  image: "registry.example/ddcred-operator:0.2.0",
                  env: [
                    { name: "DDCRED_AGENT_IMAGE", value: "registry.example/ddcred-operator:0.2.0" },
                    { name: "DDCRED_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                  ],
                },
              ],
            },
          },
        },
      },
    });
    const deployment = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "ray-head", namespace }, spec: { template: simplePod("x", { app: "ray" }) } };
    const run = await explain(deployment, ["--operator-namespace", operatorNamespace]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Deployment ${namespace}/ray-head`);
    expect(run.stdout).toContain(`namespace: namespace ${namespace} is labelled ddcred.io/injection=enabled`);
    expect(run.stdout).toContain("grant training: selects this pod; allowed (no policy in use)");
    expect(run.stdout).toContain("decision: INJECTED: Injected: injected from grant training");
    expect(run.stdout).toContain("agent: init container ddcred-agent (native sidecar), image registry.example/ddcred-operator:0.2.0");
    expect(run.stdout).toContain("DD_API_KEY_FILE=/var/run/ddcred/datadog-intake-key");
    expect(run.stdout).toContain(`note: operator settings: Deployment ${operatorNamespace}/ddcred-operator`);
  });

  it("says a namespace without the injection label is never seen, and exits 1", async () => {
    const unlabelled = await createNamespace(admin, { prefix: "explain-off" });
    extraNamespaces.push(unlabelled);
    await createGrant(admin, unlabelled, "training", grantSpec({ podSelector: { matchLabels: { app: "ray" } } }));
    const run = await explain({ kind: "Pod", ...simplePod("head", { app: "ray" }) }, ["--namespace", unlabelled, "--operator-namespace", setup.operatorNamespace]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`lacks the label ddcred.io/injection=enabled: the webhook never sees its pods. Run: kubectl label namespace ${unlabelled} ddcred.io/injection=enabled`);
    expect(run.stdout).toContain(`no ddcred-operator Deployment found in ${setup.operatorNamespace}`);
  });

  it("says which pod a grant does not select, and exits 1", async () => {
    const run = await explain({ kind: "Pod", ...simplePod("web", { app: "web" }) }, ["--namespace", namespace]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("grant training: does not select this pod");
    expect(run.stdout).toContain(`decision: NOT INJECTED: NoMatchingGrant: no DatadogCredentialGrant in ${namespace} selects the pod`);
  });

  it("needs no more than the operator's own permissions, as when run with kubectl exec in its container", async () => {
    const { path } = await serviceAccountKubeconfig(cluster, setup.operatorNamespace, "ddcred-operator");
    const env = { DDCRED_AGENT_IMAGE: AGENT_IMAGE, DDCRED_NAMESPACE: setup.operatorNamespace };
    const run = await explain({ kind: "Pod", ...simplePod("head", { app: "ray" }) }, ["--namespace", namespace], env, path);
    expect(run.stdout).not.toContain("could not");
    expect(run.stdout).toContain("decision: INJECTED");
    expect(run.code).toBe(0);
  });
});
