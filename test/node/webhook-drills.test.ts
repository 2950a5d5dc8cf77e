// The webhook drills on the real node, as tests: a second release of the
// chart (its own two operator replicas and Service, its webhook scoped to this
// file's namespace, no controller), broken three ways during bursts of 500
// pod creations through the API server (test/harness/node/webhook-drills.ts).
// What users must never see: a pod admitted without its agent; and no failed
// creation at all when a replica leaves gracefully or Helm rolls the operator.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminKubeConfig } from "../harness/cluster.js";
import { createGrant, eventually, TEST_ORG_UUID } from "../harness/kube.js";
import { installChart, type ChartRelease } from "../harness/node/chart-release.js";
import { createNodeNamespace, deleteNodeNamespace, nodeCluster } from "../harness/node/pods.js";
import { runNodeDrill, type NodeDrill } from "../harness/node/webhook-drills.js";
import type { NodeClusterInfo } from "../harness/node/node-cluster.js";

const { node, stack, skip } = nodeCluster();
/** A SIGKILLed replica fails the calls it holds, at most one per creation in flight. */
const CONCURRENCY = 10;

let admin: KubeConfig;
let release: ChartRelease | undefined;
let namespace: string;

describe.skipIf(skip !== undefined)(`webhook drills on a real node${skip ? ` (skipped: ${skip})` : ""}`, () => {
  beforeAll(async () => {
    const cluster = node as NodeClusterInfo;
    admin = adminKubeConfig(cluster);
    release = await installChart(cluster, {
      name: "ddcred-drill",
      namespace: "ddcred-drill",
      stsUrl: stack!.stsUrl,
      datadogApiUrl: stack!.datadogUrl,
      scopeLabels: { "ddcred-test/release": "drill" },
      values: {
        crds: { install: false },
        controller: { enabled: false },
        webhook: { namespaceSelectorExpressions: [{ key: "ddcred-test/release", operator: "In", values: ["drill"] }] },
      },
    });
    namespace = await createNodeNamespace(admin, { prefix: "drill", injection: true, labels: { "ddcred-test/release": "drill" } });
    await createGrant(admin, namespace, "drill", { podSelector: { matchLabels: { app: "drill" } }, aws: { roleArn: stack!.roleArns["datadog/drill"]! }, datadog: { orgUuid: TEST_ORG_UUID } });
    // Both replicas' grant caches hold the grant: a few dry runs in a row come back injected.
    await eventually("the drill release's webhook to inject", async () => {
      for (let i = 0; i < 6; i++) {
        const pod = await admin.makeApiClient(CoreV1Api).createNamespacedPod({ namespace, dryRun: "All", body: { metadata: { generateName: "probe-", labels: { app: "drill" } }, spec: { containers: [{ name: "app", image: "drill" }] } } });
        if (!pod.spec?.initContainers?.some((c) => c.name === "ddcred-agent")) return false;
      }
      return true;
    }, 60_000);
  }, 300_000);

  afterAll(async () => {
    if (namespace) await deleteNodeNamespace(admin, namespace);
    await release?.uninstall();
  }, 180_000);

  const drill = async (name: NodeDrill) => {
    const report = await runNodeDrill(name, node!, release!, admin, namespace);
    console.log(`${name}: ${report.saw}; ${report.lost}; ${report.recovered}`);
    return report;
  };
  const failed = (creations: readonly { ok: boolean }[]) => creations.filter((c) => !c.ok).length;
  const uninjected = (creations: readonly { ok: boolean; injected: boolean }[]) => creations.filter((c) => c.ok && !c.injected).length;

  it("loses no pod creation when a replica is deleted, and admits none without the agent", async () => {
    const { creations } = await drill("node-replica-graceful");
    expect(creations).toHaveLength(500);
    expect(uninjected(creations)).toBe(0);
    expect(failed(creations)).toBe(0);
  });

  it("fails at most the creations in flight when a replica is SIGKILLed, and admits none without the agent", async () => {
    const { creations } = await drill("node-replica-hard");
    expect(uninjected(creations)).toBe(0);
    expect(failed(creations)).toBeLessThanOrEqual(CONCURRENCY);
  });

  it("loses no pod creation while helm upgrade rolls the operator, and admits none without the agent", async () => {
    const { creations } = await drill("node-helm-upgrade");
    expect(uninjected(creations)).toBe(0);
    expect(failed(creations)).toBe(0);
  });
});
