// The webhook drills on the real node, as tests: a second release of the
// chart (its own two operator replicas and Service, its webhook scoped to this
// file's namespace, no controller), broken three ways during bursts of 500
// pod creations through the API server (test/harness/node/webhook-drills.ts);
// then a third release, installed with certificates living seconds, rotating
// them under a burst of 750. What users must never see: a pod admitted without
// its agent; and no failed creation at all when a replica leaves gracefully,
// Helm rolls the operator, or the certificates rotate.
import { type KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminKubeConfig } from "../harness/cluster.js";
import { createGrant, TEST_ORG_UUID } from "../harness/kube.js";
import { installChart, type ChartRelease } from "../harness/node/chart-release.js";
import { createNodeNamespace, deleteNodeNamespace, nodeCluster } from "../harness/node/pods.js";
import { runCertRotationDrill, runNodeDrill, waitForInjection, type FaultDrill } from "../harness/node/webhook-drills.js";
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
    await waitForInjection(admin, namespace, "the drill release's webhook to inject");
  }, 300_000);

  afterAll(async () => {
    if (namespace) await deleteNodeNamespace(admin, namespace);
    await release?.uninstall();
  }, 180_000);

  const drill = async (name: FaultDrill) => {
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

  // A release of its own (installed with these lifetimes, uninstalled after), so the drill release above keeps the chart's.
  it("rotates the serving certificate and the CA under a burst with no failed creation, every replica always trusted by the caBundle, none admitted without the agent", async () => {
    const report = await runCertRotationDrill(node!, stack!, admin);
    console.log(`node-cert-rotation: ${report.saw}; ${report.lost}; ${report.figures.map(([label, value]) => `${label}: ${value}`).join("; ")}`);
    const { creations, rotations } = report;
    expect(creations).toHaveLength(750);
    expect(uninjected(creations)).toBe(0);
    expect(report.untrusted, "a replica served a certificate the caBundle of that moment did not trust").toEqual([]);
    expect(failed(creations)).toBe(0);
    // The drill measured what it claims: rotations did happen during the burst.
    expect(rotations.ServingCertificateExpiring, "serving certificates renewed").toBeGreaterThanOrEqual(2);
    expect(rotations.AuthorityExpiring, "CAs rotated").toBeGreaterThanOrEqual(1);
    expect(rotations.AuthorityPublished, "serving certificates moved to a new CA").toBeGreaterThanOrEqual(1);
    expect(report.servingInSecret).toBeGreaterThanOrEqual(3);
    expect(report.largestBundle, "old and new CA trusted together").toBeGreaterThanOrEqual(2);
  }, 600_000);
});
