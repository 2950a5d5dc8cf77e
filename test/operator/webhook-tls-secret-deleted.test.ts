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
import { adminKubeConfig, serviceAccountKubeconfig } from "../harness/cluster.js";
import { createGrant, createNamespace, createOperatorRbac, deleteNamespace, eventually, grantSpec, simplePod, uniqueName } from "../harness/kube.js";
import { startOperator, sumMetric, type OperatorProcess } from "../harness/operator.js";
import { freePort } from "../harness/process.js";
import { certificatesIn, createWebhookConfiguration, deleteWebhookConfiguration, servedCertificate, tlsSecretFiles, webhookCaBundles } from "../harness/webhook.js";

const TLS_SECRET = "ddcred-webhook-tls";
/** Long enough that no rotation of its own happens between deletions; its publication delay is 4 s. */
const SERVING_SECONDS = 16;
const CA_SECONDS = 600;
const DELETIONS = 3;
let admin: KubeConfig;
let operatorNamespace: string;
let workload: string;
let configurationName: string;
let ports: number[];
const replicas: OperatorProcess[] = [];

beforeAll(async () => {
  const cluster = inject("cluster");
  admin = adminKubeConfig(cluster);
  configurationName = uniqueName("ddcred-secret-deleted");
  const testLabel = { "ddcred-test/webhook": uniqueName("secret-deleted") };
  operatorNamespace = await createNamespace(admin, { prefix: "ddcred-del" });
  workload = await createNamespace(admin, { prefix: "del", injection: true, labels: testLabel });
  const names = { WEBHOOK_CONFIGURATION_NAME: configurationName, LEASE_NAME: "ddcred-operator", TLS_SECRET_NAME: TLS_SECRET };
  await createOperatorRbac(admin, { namespace: operatorNamespace, serviceAccount: "ddcred-operator", names });
  const { path } = await serviceAccountKubeconfig(cluster, operatorNamespace, "ddcred-operator");
  ports = [await freePort(), await freePort()];
  // The API server calls the first replica (the test API server has no Service routing); the other is checked directly.
  await createWebhookConfiguration(admin, { name: configurationName, port: ports[0]!, testLabel, operatorNamespace });
  await createGrant(admin, workload, "datadog", grantSpec());
  for (const port of ports) {
    replicas.push(
      await startOperator({
        kubeconfig: path,
        namespace: operatorNamespace,
        env: {
          DDCRED_CONTROLLER_ENABLED: "false",
          DDCRED_AGENT_IMAGE: "registry.example/ddcred-operator:test",
          DDCRED_WEBHOOK_PORT: String(port),
          DDCRED_WEBHOOK_EXTRA_SANS: "127.0.0.1",
          DDCRED_WEBHOOK_CONFIGURATION_NAME: configurationName,
          DDCRED_TLS_SECRET_NAME: TLS_SECRET,
          DDCRED_TLS_CERT_VALIDITY_SECONDS: String(SERVING_SECONDS),
          DDCRED_TLS_CA_VALIDITY_SECONDS: String(CA_SECONDS),
        },
      }),
    );
  }
  await eventually("the caBundle to be registered and both replicas to serve the Secret's certificate", async () => {
    const [{ bundles }, files] = await Promise.all([webhookCaBundles(admin, configurationName), tlsSecretFiles(admin, operatorNamespace, TLS_SECRET)]);
    if (bundles[0] !== files["ca.crt"]) return false;
    const served = await Promise.all(ports.map((port) => servedCertificate(port, files["ca.crt"])));
    return served.every((certificate) => certificate.fingerprint256 === certificatesIn(files["tls.crt"]!)[0]!.fingerprint256);
  });
});

afterAll(async () => {
  await Promise.all(replicas.map((operator) => operator.stop()));
  await deleteWebhookConfiguration(admin, configurationName);
  await deleteNamespace(admin, workload);
  await deleteNamespace(admin, operatorNamespace);
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
        const before = await tlsSecretFiles(admin, operatorNamespace, TLS_SECRET);
        const oldCa = certificatesIn(before["ca.crt"]!)[0]!.fingerprint256;
        const oldServing = certificatesIn(before["tls.crt"]!)[0]!.fingerprint256;
        await core.deleteNamespacedSecret({ name: TLS_SECRET, namespace: operatorNamespace });
        const after = await eventually("the Secret to be recreated", () => tlsSecretFiles(admin, operatorNamespace, TLS_SECRET).catch(() => undefined), 10_000);
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
            const files = await tlsSecretFiles(admin, operatorNamespace, TLS_SECRET);
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

    const metrics = await Promise.all(replicas.map((operator) => operator.metrics()));
    const written = (reason: string) => metrics.reduce((sum, text) => sum + sumMetric(text, "ddcred_webhook_certificate_rotations_total", { reason, result: "written" }), 0);
    expect(written("SecretMissing"), "the first Secret, then one per deletion").toBe(1 + DELETIONS);
    expect(written("AuthorityPublished")).toBe(DELETIONS);
  });

  it("ends with the webhook configuration trusting the Secret's bundle and both replicas serving its certificate", async () => {
    await eventually("caBundle and served certificates to match the Secret", async () => {
      const [{ bundles }, files] = await Promise.all([webhookCaBundles(admin, configurationName), tlsSecretFiles(admin, operatorNamespace, TLS_SECRET)]);
      const expected = certificatesIn(files["tls.crt"]!)[0]!.fingerprint256;
      const served = await Promise.all(ports.map((port) => servedCertificate(port, files["ca.crt"])));
      return bundles[0] === files["ca.crt"] && served.every((certificate) => certificate.fingerprint256 === expected);
    });
  });
});
