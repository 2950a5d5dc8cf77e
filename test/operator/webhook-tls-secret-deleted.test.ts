// The runbook's way to renew self-managed certificates at once: delete the
// TLS Secret while two replicas serve the webhook. The API server goes on
// trusting the caBundle of the webhook configuration until a replica patches
// it, and every replica serves what it loaded until it sees the new Secret, so
// a Secret recreated with a new CA alone (and a serving certificate from it)
// opens a window where the API server holds a bundle that does not trust what
// a replica serves. Here every replica, at every moment, must serve a
// certificate the webhook configuration's caBundle of that moment trusts, and
// no pod creation may fail.
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { apiError } from "../../src/shared/kube/client.js";
import { publicationDelayMs } from "../../src/webhook/tls/rotation-plan.js";
import { eventually, simplePod } from "../harness/kube.js";
import { sumMetric } from "../harness/operator.js";
import { certificatesIn, servedCertificate, tlsSecretFiles, webhookCaBundles } from "../harness/webhook.js";
import { startWebhookReplicas, TLS_SECRET_NAME, type WebhookReplicas } from "../harness/webhook-replicas.js";

/** Long enough that no rotation of its own happens between deletions; its publication delay is 4 s. */
const SERVING_SECONDS = 16;
const CA_SECONDS = 600;
const DELETIONS = 3;
let webhook: WebhookReplicas;
let admin: KubeConfig;
let operatorNamespace: string;
let workload: string;
let configurationName: string;
let ports: readonly number[];

beforeAll(async () => {
  // The API server calls the first replica; the other is checked directly.
  webhook = await startWebhookReplicas(inject("cluster"), {
    name: "secret-deleted",
    prefix: "del",
    replicas: 2,
    workload: true,
    env: { DDCRED_TLS_CERT_VALIDITY_SECONDS: String(SERVING_SECONDS), DDCRED_TLS_CA_VALIDITY_SECONDS: String(CA_SECONDS) },
    waitFor: "serving",
  });
  ({ admin, operatorNamespace, configurationName, ports } = webhook);
  workload = webhook.workload!;
});

afterAll(async () => {
  await webhook?.stop();
});

describe("the TLS Secret deleted while two replicas serve", () => {
  it("is recreated behind a new CA, still trusting the old one and serving its certificate until the new CA is published; no handshake or pod creation fails", async () => {
    const core = admin.makeApiClient(CoreV1Api);
    const untrusted: string[] = [];
    const failed: string[] = [];
    const uninjected: string[] = [];
    let handshakes = 0;
    let creations = 0;
    let running = true;

    // Every replica's certificate, verified against the caBundle the API server holds at that moment.
    const watching = (async () => {
      while (running) {
        const { bundles } = await webhookCaBundles(admin, configurationName);
        for (const port of ports) {
          try {
            await servedCertificate(port, bundles[0]);
            handshakes += 1;
          } catch (error) {
            untrusted.push(`replica on ${port}: ${error instanceof Error ? error.message : String(error)}`);
          }
        }
      }
    })();
    const traffic = Array.from({ length: 2 }, async (_, loop) => {
      for (let i = 0; running; i += 1) {
        try {
          const pod = await core.createNamespacedPod({ namespace: workload, dryRun: "All", body: simplePod(`pod-${loop}-${i}`, { app: "demo" }) });
          creations += 1;
          if (!pod.spec?.initContainers?.some((container) => container.name === "ddcred-agent")) uninjected.push(pod.metadata!.name!);
        } catch (error) {
          failed.push(apiError(error)?.message ?? String(error));
        }
        await sleep(20);
      }
    });

    const delay = publicationDelayMs({ names: { dnsNames: [], ipAddresses: [] }, servingLifetimeMs: SERVING_SECONDS * 1000, authorityLifetimeMs: CA_SECONDS * 1000 });
    const recreated: { retainedOldCa: boolean; keptServing: boolean; newCaFirst: boolean }[] = [];
    try {
      for (let deletion = 0; deletion < DELETIONS; deletion += 1) {
        const before = await tlsSecretFiles(admin, operatorNamespace, TLS_SECRET_NAME);
        const oldCa = certificatesIn(before["ca.crt"]!)[0]!.fingerprint256;
        const oldServing = certificatesIn(before["tls.crt"]!)[0]!.fingerprint256;
        await core.deleteNamespacedSecret({ name: TLS_SECRET_NAME, namespace: operatorNamespace });
        const after = await eventually("the Secret to be recreated", () => tlsSecretFiles(admin, operatorNamespace, TLS_SECRET_NAME).catch(() => undefined), 10_000);
        const authorities = certificatesIn(after["ca.crt"]!).map((certificate) => certificate.fingerprint256);
        recreated.push({
          newCaFirst: authorities[0] !== oldCa,
          retainedOldCa: authorities.includes(oldCa),
          keptServing: certificatesIn(after["tls.crt"]!)[0]!.fingerprint256 === oldServing,
        });
        // Then the serving certificate moves to the new CA, once published, and every replica serves it.
        await eventually(
          "the serving certificate to move to the new CA and both replicas to serve it",
          async () => {
            const files = await tlsSecretFiles(admin, operatorNamespace, TLS_SECRET_NAME);
            const [signer] = certificatesIn(files["ca.crt"]!);
            const serving = certificatesIn(files["tls.crt"]!)[0]!;
            if (!signer || signer.fingerprint256 === oldCa || !serving.checkIssued(signer)) return false;
            const served = await Promise.all(ports.map((port) => servedCertificate(port)));
            return served.every((certificate) => certificate.fingerprint256 === serving.fingerprint256);
          },
          delay + 10_000,
        );
        await sleep(500);
      }
    } finally {
      running = false;
      await Promise.all([watching, ...traffic]);
    }

    expect(untrusted, "handshakes the caBundle of that moment did not trust").toEqual([]);
    expect(failed, "failed pod creations").toEqual([]);
    expect(uninjected).toEqual([]);
    expect(handshakes).toBeGreaterThan(50);
    expect(creations).toBeGreaterThan(50);
    expect(recreated).toEqual(Array.from({ length: DELETIONS }, () => ({ newCaFirst: true, retainedOldCa: true, keptServing: true })));

    const metrics = await Promise.all(webhook.replicas.map(({ operator }) => operator.metrics()));
    const written = (reason: string) => metrics.reduce((sum, text) => sum + sumMetric(text, "ddcred_webhook_certificate_rotations_total", { reason, result: "written" }), 0);
    expect(written("SecretMissing"), "the first Secret, then one per deletion").toBe(1 + DELETIONS);
    expect(written("AuthorityPublished")).toBe(DELETIONS);
  });

  it("ends with the webhook configuration trusting the Secret's bundle and both replicas serving its certificate", async () => {
    await eventually("caBundle and served certificates to match the Secret", () => webhook.servesSecret());
  });
});
