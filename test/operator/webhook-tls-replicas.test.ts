// Three operator replicas starting together against an empty namespace:
// exactly one creates the TLS Secret, all serve its certificate, the
// webhook configuration trusts its CA, and a caBundle wiped by a
// `helm upgrade` is put back. Last, one replica is told to stop and drains.
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, REPO_ROOT } from "../harness/kube.js";
import { sumMetric } from "../harness/operator.js";
import { certificatesIn, clearWebhookCaBundles, servedCertificate, tlsSecretFiles, webhookCaBundles } from "../harness/webhook.js";
import { startWebhookReplicas, TLS_SECRET_NAME, type WebhookReplica, type WebhookReplicas } from "../harness/webhook-replicas.js";

const SHUTDOWN_DELAY_SECONDS = 2;
let webhook: WebhookReplicas;
let admin: KubeConfig;
let operatorNamespace: string;
let configurationName: string;
let replicas: readonly WebhookReplica[];

beforeAll(async () => {
  // Together, to race for the Secret; the tests look for the caBundle themselves.
  webhook = await startWebhookReplicas(inject("cluster"), {
    name: "replicas",
    prefix: "rep",
    replicas: 3,
    parallel: true,
    extraWebhookNames: ["pods-second.ddcred.io"],
    env: { DDCRED_SHUTDOWN_DELAY_SECONDS: String(SHUTDOWN_DELAY_SECONDS) },
    waitFor: "nothing",
  });
  ({ admin, operatorNamespace, configurationName, replicas } = webhook);
});

afterAll(async () => {
  await webhook?.stop();
});

describe("several replicas sharing the self-managed certificate", () => {
  it("end with one CA and one serving certificate, written by exactly one of them", async () => {
    const files = await tlsSecretFiles(admin, operatorNamespace, TLS_SECRET_NAME);
    expect(certificatesIn(files["ca.crt"]!)).toHaveLength(1);
    const metrics = await Promise.all(replicas.map(({ operator }) => operator.metrics()));
    const created = metrics.map((text) => sumMetric(text, "ddcred_webhook_certificate_rotations_total", { reason: "SecretMissing", result: "written" }));
    expect(created.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it("each serve the Secret's certificate, trusted through its CA for 127.0.0.1", async () => {
    const files = await tlsSecretFiles(admin, operatorNamespace, TLS_SECRET_NAME);
    const expected = certificatesIn(files["tls.crt"]!)[0]!.fingerprint256;
    for (const { port } of replicas) {
      const served = await servedCertificate(port, files["ca.crt"]);
      expect(served.fingerprint256).toBe(expected);
    }
  });

  it("set the CA bundle on every webhook of the configuration", async () => {
    const files = await tlsSecretFiles(admin, operatorNamespace, TLS_SECRET_NAME);
    await eventually("caBundle on both webhooks", async () => {
      const { bundles } = await webhookCaBundles(admin, configurationName);
      return bundles.length === 2 && bundles.every((bundle) => bundle === files["ca.crt"]);
    });
  });

  it("put the caBundle back when a helm upgrade re-applies the configuration without it", async () => {
    const files = await tlsSecretFiles(admin, operatorNamespace, TLS_SECRET_NAME);
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

  it("keeps admitting through its shutdown delay after SIGTERM, each answer closing its connection so the API server moves on", async () => {
    const { operator, port } = replicas.at(-1)!;
    const files = await tlsSecretFiles(admin, operatorNamespace, TLS_SECRET_NAME);
    const review = readFileSync(join(REPO_ROOT, "webhook/samples/kuberay-worker-create.json"), "utf8");
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: files["ca.crt"] });
    const admit = () =>
      new Promise<{ status: number; connection: string | undefined; reusedSocket: boolean }>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port, path: "/mutate-pods?timeout=10s", method: "POST", agent }, (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, reusedSocket: req.reusedSocket }));
        });
        req.on("error", reject);
        req.end(review);
      });
    try {
      expect(await admit()).toMatchObject({ status: 200, connection: "keep-alive" });
      const stopped = operator.stop();
      await eventually("the replica to report not ready", async () => (await fetch(`${operator.healthUrl}/readyz`)).status === 503);
      expect(await admit()).toMatchObject({ status: 200, connection: "close", reusedSocket: true });
      await stopped;
      expect(operator.process.log()).toMatch(/"msg":"stopped"/);
    } finally {
      agent.destroy();
    }
  });
});
