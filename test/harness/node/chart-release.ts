// The chart installed on the node cluster the way a platform team installs
// it: `helm install` of charts/ddcred-operator with the image built from the
// Dockerfile, CRDs from the chart, two operator replicas as the chart's
// Deployment, the webhook reached through its Service. Only what a cluster
// without internet needs is set: where the agents find STS and Datadog (the
// test's stand-ins on the node address) and pull policy Never (the image was
// imported into containerd, there is no registry).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { CHART_DIR, helm, VALUES_FROM_STDIN, valuesInput } from "../../chart/helm.js";
import { adminKubeConfig } from "../cluster.js";
import { eventually, uniqueName } from "../kube.js";
import type { NodeClusterInfo } from "./node-cluster.js";

export interface ChartRelease {
  readonly name: string;
  readonly namespace: string;
  /** The operator image, as the Deployment and the injected agents use it. */
  readonly image: string;
  /** helm's output of the install (NOTES.txt included). */
  readonly installOutput: string;
  uninstall(): Promise<void>;
}

export interface ChartReleaseOptions {
  /** The STS endpoint the agents call (AWS_ENDPOINT_URL_STS), reachable from pods. */
  readonly stsUrl: string;
  /** The Datadog API base URL the agents call, reachable from pods. */
  readonly datadogApiUrl: string;
  readonly values?: object;
  /** Labels that put a namespace in this release's webhook scope, besides ddcred.io/injection=enabled. */
  readonly scopeLabels?: Readonly<Record<string, string>>;
  /** Release name and namespace; default ddcred in ddcred-system. */
  readonly name?: string;
  readonly namespace?: string;
}

export async function installChart(node: NodeClusterInfo, options: ChartReleaseOptions): Promise<ChartRelease> {
  const name = options.name ?? "ddcred";
  const namespace = options.namespace ?? "ddcred-system";
  const home = mkdtempSync(join(tmpdir(), "ddcred-node-helm-"));
  const image = node.images.operator.ref;
  const at = image.lastIndexOf(":");
  const values = {
    image: { repository: image.slice(0, at), tag: image.slice(at + 1), pullPolicy: "Never" },
    agent: {
      image: { pullPolicy: "Never" },
      datadogApiUrl: options.datadogApiUrl,
      extraEnv: [{ name: "AWS_ENDPOINT_URL_STS", value: options.stsUrl }],
    },
    ...options.values,
  };
  const kubeconfig = ["--kubeconfig", node.adminKubeconfig];
  const result = await helm(
    ["install", name, CHART_DIR, "--namespace", namespace, "--create-namespace", "--wait", "--timeout", "4m", ...kubeconfig, ...VALUES_FROM_STDIN],
    valuesInput(values),
    home,
  );
  const admin = adminKubeConfig(node);
  if (result.code !== 0) {
    rmSync(home, { recursive: true, force: true });
    throw new Error(`helm install failed (${result.code}): ${result.stderr}${await releasePodsReport(admin, namespace)}`);
  }
  await waitForWebhook(admin, options.scopeLabels ?? {});
  return {
    name,
    namespace,
    image,
    installOutput: result.stdout,
    async uninstall() {
      await helm(["uninstall", name, "--namespace", namespace, "--wait", "--timeout", "2m", ...kubeconfig], undefined, home);
      await admin.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace }).catch(() => undefined);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** The release's pods, their states and log tails: why an install did not become ready. */
async function releasePodsReport(admin: KubeConfig, namespace: string): Promise<string> {
  const core = admin.makeApiClient(CoreV1Api);
  const pods = await core.listNamespacedPod({ namespace }).catch(() => undefined);
  const lines: string[] = [];
  for (const pod of pods?.items ?? []) {
    const name = pod.metadata!.name!;
    lines.push(`--- pod ${name}: ${pod.status?.phase} ${JSON.stringify(pod.status?.containerStatuses?.map((s) => ({ ready: s.ready, restarts: s.restartCount, state: s.state })))}`);
    const log = await core.readNamespacedPodLog({ name, namespace, tailLines: 15 }).catch((error: unknown) => `(no log: ${String(error).slice(0, 200)})`);
    lines.push(log);
  }
  return lines.length > 0 ? `\n${lines.join("\n")}` : "";
}

/**
 * Waits until a pod created in an enabled namespace would be injected: a
 * server-side dry run goes through the API server's admission, webhook
 * included, without creating (or running) anything.
 */
async function waitForWebhook(admin: KubeConfig, scopeLabels: Readonly<Record<string, string>>): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const namespace = uniqueName("ddcred-webhook-probe");
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { ...scopeLabels, "ddcred.io/injection": "enabled" } } } });
  try {
    await eventually("the API server to reach the webhook through its Service", async () => {
      const pod: V1Pod = { metadata: { generateName: "probe-" }, spec: { containers: [{ name: "c", image: "probe" }] } };
      await core.createNamespacedPod({ namespace, body: pod, dryRun: "All" });
      return true;
    }, 120_000);
  } finally {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
}
