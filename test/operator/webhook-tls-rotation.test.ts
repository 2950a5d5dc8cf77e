// Rotation under traffic: serving certificates living 8 s and CAs 20 s,
// two replicas sharing them, pods created without pause through the API
// server (which calls one replica over TLS) while the serving certificate
// rotates several times and the CA once: not one creation may fail.
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { apiError } from "../../src/shared/kube/client.js";
import { createPod, eventually, simplePod } from "../harness/kube.js";
import { sumMetric } from "../harness/operator.js";
import { certificatesIn, servedCertificate, webhookCaBundles } from "../harness/webhook.js";
import { startWebhookReplicas, type WebhookReplicas } from "../harness/webhook-replicas.js";

const TRAFFIC_MS = 24_000;
let webhook: WebhookReplicas;
let admin: KubeConfig;
let workload: string;
let configurationName: string;
let servingPort: number;

beforeAll(async () => {
  webhook = await startWebhookReplicas(inject("cluster"), {
    name: "rotation",
    prefix: "rot",
    replicas: 2,
    workload: true,
    env: { DDCRED_TLS_CERT_VALIDITY_SECONDS: "8", DDCRED_TLS_CA_VALIDITY_SECONDS: "20" },
  });
  ({ admin, configurationName } = webhook);
  workload = webhook.workload!;
  servingPort = webhook.ports[0]!;
});

afterAll(async () => {
  await webhook?.stop();
});

function injected(pod: V1Pod): boolean {
  return (pod.spec?.initContainers ?? []).some((container) => container.name === "ddcred-agent");
}

describe("certificate rotation under traffic", () => {
  it("rotates the serving certificate and the CA while every pod creation succeeds and is injected", async () => {
    const deadline = Date.now() + TRAFFIC_MS;
    const failures: string[] = [];
    const uninjected: string[] = [];
    let created = 0;
    const servedFingerprints = new Set<string>();
    const bundleAuthorities = new Set<string>();
    let largestBundle = 0;

    const traffic = (async () => {
      for (let i = 0; Date.now() < deadline; i += 1) {
        try {
          const pod = await createPod(admin, workload, simplePod(`pod-${i}`, { app: "demo" }));
          created += 1;
          if (!injected(pod)) uninjected.push(pod.metadata!.name!);
        } catch (error) {
          failures.push(apiError(error)?.message ?? String(error));
        }
        await sleep(100); // steady traffic without starving the test files that share the API server
      }
    })();
    const watching = (async () => {
      while (Date.now() < deadline) {
        const [served, { bundles }] = await Promise.all([servedCertificate(servingPort), webhookCaBundles(admin, configurationName)]);
        servedFingerprints.add(served.fingerprint256);
        const authorities = certificatesIn(bundles[0]!);
        largestBundle = Math.max(largestBundle, authorities.length);
        for (const authority of authorities) bundleAuthorities.add(authority.fingerprint256);
        await sleep(250);
      }
    })();
    await Promise.all([traffic, watching]);

    expect(failures).toEqual([]);
    expect(uninjected).toEqual([]);
    expect(created).toBeGreaterThan(50);
    expect(servedFingerprints.size, "served certificates seen").toBeGreaterThanOrEqual(3);
    expect(bundleAuthorities.size, "CAs seen in the caBundle").toBeGreaterThanOrEqual(2);
    expect(largestBundle, "old and new CA trusted together").toBe(2);

    const metrics = await Promise.all(webhook.replicas.map(({ operator }) => operator.metrics()));
    const written = (reason: string) => metrics.reduce((sum, text) => sum + sumMetric(text, "ddcred_webhook_certificate_rotations_total", { reason, result: "written" }), 0);
    expect(written("AuthorityExpiring")).toBeGreaterThanOrEqual(1);
    expect(written("AuthorityPublished")).toBeGreaterThanOrEqual(1);
    expect(written("ServingCertificateExpiring")).toBeGreaterThanOrEqual(2);
    expect(written("SecretMissing")).toBe(1);
  });

  it("leaves the webhook configuration trusting the Secret's CA bundle, and every replica serving the Secret's certificate", async () => {
    // Rotation goes on meanwhile (every few seconds), so look for a moment where all agree.
    await eventually("caBundle and served certificates to match the Secret", () => webhook.servesSecret());
  });
});
