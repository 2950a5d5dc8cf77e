// Rotation under traffic: serving certificates living 8 s and CAs 20 s,
// two replicas sharing them, pods created without pause through the API
// server (which calls one replica over TLS) while the serving certificate
// rotates several times and the CA once: not one creation may fail.
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { apiError } from "../../src/shared/kube/client.js";
import { adminKubeConfig, serviceAccountKubeconfig } from "../harness/cluster.js";
import { createGrant, createNamespace, createOperatorRbac, createPod, deleteNamespace, eventually, grantSpec, simplePod, uniqueName } from "../harness/kube.js";
import { startOperator, sumMetric, type OperatorProcess } from "../harness/operator.js";
import { freePort } from "../harness/process.js";
import { certificatesIn, createWebhookConfiguration, deleteWebhookConfiguration, servedCertificate, tlsSecretFiles, webhookCaBundles } from "../harness/webhook.js";

const TLS_SECRET = "ddcred-webhook-tls";
const TRAFFIC_MS = 24_000;
let admin: KubeConfig;
let operatorNamespace: string;
let workload: string;
let configurationName: string;
let servingPort: number;
let ports: number[];
const replicas: OperatorProcess[] = [];

beforeAll(async () => {
  const cluster = inject("cluster");
  admin = adminKubeConfig(cluster);
  configurationName = uniqueName("ddcred-rotation");
  const testLabel = { "ddcred-test/webhook": uniqueName("rotation") };
  operatorNamespace = await createNamespace(admin, { prefix: "ddcred-rot" });
  workload = await createNamespace(admin, { prefix: "rot", injection: true, labels: testLabel });
  const names = { WEBHOOK_CONFIGURATION_NAME: configurationName, LEASE_NAME: "ddcred-operator", TLS_SECRET_NAME: TLS_SECRET };
  await createOperatorRbac(admin, { namespace: operatorNamespace, serviceAccount: "ddcred-operator", names });
  const { path } = await serviceAccountKubeconfig(cluster, operatorNamespace, "ddcred-operator");
  ports = [await freePort(), await freePort()];
  servingPort = ports[0]!;
  await createWebhookConfiguration(admin, { name: configurationName, port: servingPort, testLabel, operatorNamespace });
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
          DDCRED_TLS_CERT_VALIDITY_SECONDS: "8",
          DDCRED_TLS_CA_VALIDITY_SECONDS: "20",
        },
      }),
    );
  }
  await eventually("the caBundle to be registered", async () => {
    const [{ bundles }, files] = await Promise.all([webhookCaBundles(admin, configurationName), tlsSecretFiles(admin, operatorNamespace, TLS_SECRET)]);
    return bundles[0] === files["ca.crt"];
  });
});

afterAll(async () => {
  await Promise.all(replicas.map((operator) => operator.stop()));
  await deleteWebhookConfiguration(admin, configurationName);
  await deleteNamespace(admin, workload);
  await deleteNamespace(admin, operatorNamespace);
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

    const metrics = await Promise.all(replicas.map((operator) => operator.metrics()));
    const written = (reason: string) => metrics.reduce((sum, text) => sum + sumMetric(text, "ddcred_webhook_certificate_rotations_total", { reason, result: "written" }), 0);
    expect(written("AuthorityExpiring")).toBeGreaterThanOrEqual(1);
    expect(written("AuthorityPublished")).toBeGreaterThanOrEqual(1);
    expect(written("ServingCertificateExpiring")).toBeGreaterThanOrEqual(2);
    expect(written("SecretMissing")).toBe(1);
  });

  it("leaves the webhook configuration trusting the Secret's CA bundle, and every replica serving the Secret's certificate", async () => {
    // Rotation goes on meanwhile (every few seconds), so look for a moment where all agree.
    await eventually("caBundle and served certificates to match the Secret", async () => {
      const [{ bundles }, files] = await Promise.all([webhookCaBundles(admin, configurationName), tlsSecretFiles(admin, operatorNamespace, TLS_SECRET)]);
      const expected = certificatesIn(files["tls.crt"]!)[0]!.fingerprint256;
      const served = await Promise.all(ports.map((port) => servedCertificate(port, files["ca.crt"])));
      return bundles[0] === files["ca.crt"] && served.every((certificate) => certificate.fingerprint256 === expected);
    });
  });
});
