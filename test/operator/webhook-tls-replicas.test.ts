// Three operator replicas starting together against an empty namespace:
// exactly one creates the TLS Secret, all serve its certificate, the
// webhook configuration trusts its CA, and a caBundle wiped by a
// `helm upgrade` is put back.
import type { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { adminKubeConfig, serviceAccountKubeconfig } from "../harness/cluster.js";
import { createNamespace, createOperatorRbac, deleteNamespace, eventually, uniqueName } from "../harness/kube.js";
import { startOperator, sumMetric, type OperatorProcess } from "../harness/operator.js";
import { freePort } from "../harness/process.js";
import {
  certificatesIn,
  clearWebhookCaBundles,
  createWebhookConfiguration,
  deleteWebhookConfiguration,
  servedCertificate,
  tlsSecretFiles,
  webhookCaBundles,
} from "../harness/webhook.js";

const TLS_SECRET = "ddcred-webhook-tls";
let admin: KubeConfig;
let operatorNamespace: string;
let configurationName: string;
const replicas: { operator: OperatorProcess; port: number }[] = [];

beforeAll(async () => {
  const cluster = inject("cluster");
  admin = adminKubeConfig(cluster);
  configurationName = uniqueName("ddcred-replicas");
  operatorNamespace = await createNamespace(admin, { prefix: "ddcred-rep" });
  const names = { WEBHOOK_CONFIGURATION_NAME: configurationName, LEASE_NAME: "ddcred-operator", TLS_SECRET_NAME: TLS_SECRET };
  await createOperatorRbac(admin, { namespace: operatorNamespace, serviceAccount: "ddcred-operator", names });
  const { path } = await serviceAccountKubeconfig(cluster, operatorNamespace, "ddcred-operator");
  const ports = [await freePort(), await freePort(), await freePort()];
  await createWebhookConfiguration(admin, {
    name: configurationName,
    port: ports[0]!,
    testLabel: { "ddcred-test/webhook": uniqueName("replicas") },
    operatorNamespace,
    extraWebhookNames: ["pods-second.ddcred.io"],
  });
  const started = await Promise.allSettled(
    ports.map(async (port) => {
      const operator = await startOperator({
        kubeconfig: path,
        namespace: operatorNamespace,
        env: {
          DDCRED_CONTROLLER_ENABLED: "false",
          DDCRED_AGENT_IMAGE: "registry.example/ddcred-operator:test",
          DDCRED_WEBHOOK_PORT: String(port),
          DDCRED_WEBHOOK_EXTRA_SANS: "127.0.0.1",
          DDCRED_WEBHOOK_CONFIGURATION_NAME: configurationName,
          DDCRED_TLS_SECRET_NAME: TLS_SECRET,
        },
      });
      replicas.push({ operator, port });
    }),
  );
  const failed = started.find((result) => result.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
});

afterAll(async () => {
  await Promise.all(replicas.map(({ operator }) => operator.stop()));
  await deleteWebhookConfiguration(admin, configurationName);
  await deleteNamespace(admin, operatorNamespace);
});

describe("several replicas sharing the self-managed certificate", () => {
  it("end with one CA and one serving certificate, written by exactly one of them", async () => {
    const files = await tlsSecretFiles(admin, operatorNamespace, TLS_SECRET);
    expect(certificatesIn(files["ca.crt"]!)).toHaveLength(1);
    const metrics = await Promise.all(replicas.map(({ operator }) => operator.metrics()));
    const created = metrics.map((text) => sumMetric(text, "ddcred_webhook_certificate_rotations_total", { reason: "SecretMissing", result: "written" }));
    expect(created.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it("each serve the Secret's certificate, trusted through its CA for 127.0.0.1", async () => {
    const files = await tlsSecretFiles(admin, operatorNamespace, TLS_SECRET);
    const expected = certificatesIn(files["tls.crt"]!)[0]!.fingerprint256;
    for (const { port } of replicas) {
      const served = await servedCertificate(port, files["ca.crt"]);
      expect(served.fingerprint256).toBe(expected);
    }
  });

  it("set the CA bundle on every webhook of the configuration", async () => {
    const files = await tlsSecretFiles(admin, operatorNamespace, TLS_SECRET);
    await eventually("caBundle on both webhooks", async () => {
      const { bundles } = await webhookCaBundles(admin, configurationName);
      return bundles.length === 2 && bundles.every((bundle) => bundle === files["ca.crt"]);
    });
  });

  it("put the caBundle back when a helm upgrade re-applies the configuration without it", async () => {
    const files = await tlsSecretFiles(admin, operatorNamespace, TLS_SECRET);
    await clearWebhookCaBundles(admin, configurationName);
    const { bundles: cleared } = await webhookCaBundles(admin, configurationName);
    expect(cleared.some((bundle) => bundle === "")).toBe(true);
    await eventually("caBundle to be repaired", async () => {
      const { bundles } = await webhookCaBundles(admin, configurationName);
      return bundles.every((bundle) => bundle === files["ca.crt"]);
    });
    // Settled, not fighting: the object stops changing.
    const settled = await webhookCaBundles(admin, configurationName);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await webhookCaBundles(admin, configurationName)).resourceVersion).toBe(settled.resourceVersion);
  });
});
