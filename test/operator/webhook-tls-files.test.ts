// cert-manager mode: the operator serves the certificate mounted as files
// (laid out as the kubelet mounts a Secret), reloads it when the kubelet swaps
// the files, and never touches caBundle: cert-manager's cainjector owns it
// (here the test sets it, as cainjector would).
import { publishSecretVolume } from "../harness/kubelet-volume.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { issueAuthority, issueServingCertificate, type IssuedCertificate } from "../../src/webhook/tls/certificate-issuer.js";
import { createPod, eventually, simplePod } from "../harness/kube.js";
import { startOperator, type OperatorProcess } from "../harness/operator.js";
import { freePort } from "../harness/process.js";
import { certificatesIn, servedCertificate, webhookCaBundles } from "../harness/webhook.js";
import { startWebhookReplicas, type WebhookReplicas } from "../harness/webhook-replicas.js";

let webhook: WebhookReplicas;
let admin: KubeConfig;
let kubeconfigPath: string;
let operator: OperatorProcess;
const others: OperatorProcess[] = [];
let operatorNamespace: string;
let workload: string;
let configurationName: string;
let port: number;
let directory: string;
let ca: IssuedCertificate;
let mounted: IssuedCertificate;
let generation = 0;

async function issueServing(): Promise<IssuedCertificate> {
  const now = Date.now();
  return issueServingCertificate(ca, { dnsNames: ["ddcred-operator-webhook.ddcred-system.svc"], ipAddresses: ["127.0.0.1"] }, {
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
  });
}

function asCertManagerSecret(serving: IssuedCertificate): Record<string, string> {
  return { "tls.crt": serving.certificatePem, "tls.key": serving.privateKeyPem, "ca.crt": ca.certificatePem };
}

beforeAll(async () => {
  const now = Date.now();
  ca = await issueAuthority("cert-manager-issuer", { notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) });
  directory = mkdtempSync(join(tmpdir(), "ddcred-cert-manager-"));
  mounted = await issueServing();
  publishSecretVolume(directory, asCertManagerSecret(mounted), (generation += 1));
  // In files mode the operator issues nothing: the base env's Secret name and extra SANs go unused.
  webhook = await startWebhookReplicas(inject("cluster"), {
    name: "files",
    workload: true,
    caBundlePem: ca.certificatePem,
    env: { DDCRED_TLS_MODE: "files", DDCRED_TLS_CERT_DIR: directory },
    waitFor: "nothing",
  });
  ({ admin, operatorNamespace, configurationName, kubeconfig: kubeconfigPath } = webhook);
  workload = webhook.workload!;
  ({ operator, port } = webhook.replicas[0]!);
});

afterAll(async () => {
  await Promise.all(others.map((other) => other.stop()));
  await webhook?.stop();
  rmSync(directory, { recursive: true, force: true });
});

function injected(pod: V1Pod): boolean {
  return (pod.spec?.initContainers ?? []).some((container) => container.name === "ddcred-agent");
}

describe("the webhook with cert-manager's certificate files", () => {
  it("serves the mounted certificate, which the API server trusts through the injected caBundle", async () => {
    expect((await servedCertificate(port, ca.certificatePem)).fingerprint256).toBe(certificatesIn(mounted.certificatePem)[0]!.fingerprint256);
    expect(injected(await createPod(admin, workload, simplePod("first", { app: "demo" })))).toBe(true);
  });

  it("serves the new certificate once the kubelet swaps the files, and keeps admitting pods", async () => {
    const renewed = await issueServing();
    publishSecretVolume(directory, asCertManagerSecret(renewed), (generation += 1));
    const expected = certificatesIn(renewed.certificatePem)[0]!.fingerprint256;
    await eventually("the renewed certificate to be served", async () => (await servedCertificate(port, ca.certificatePem)).fingerprint256 === expected);
    expect(injected(await createPod(admin, workload, simplePod("second", { app: "demo" })))).toBe(true);
    expect(await operator.metricValue("ddcred_webhook_certificate_loads_total")).toBe(2);
  });

  it("never patches the webhook configuration's caBundle", async () => {
    const { bundles } = await webhookCaBundles(admin, configurationName);
    expect(bundles).toEqual([ca.certificatePem]);
    expect(await operator.metrics()).not.toContain("ddcred_webhook_ca_bundle_patches_total");
    const secrets = await admin.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: operatorNamespace });
    expect(secrets.items).toEqual([]);
  });

  it("reports not ready, naming the certificate, while no certificate files are mounted", async () => {
    const missing = join(directory, "not-mounted-yet");
    const other = await startOperator({
      kubeconfig: kubeconfigPath,
      namespace: operatorNamespace,
      waitReady: false,
      env: {
        DDCRED_CONTROLLER_ENABLED: "false",
        DDCRED_AGENT_IMAGE: "registry.example/ddcred-operator:test",
        DDCRED_WEBHOOK_PORT: String(await freePort()),
        DDCRED_TLS_MODE: "files",
        DDCRED_TLS_CERT_DIR: missing,
      },
    });
    others.push(other);
    const problems = await eventually("readiness to report only the certificate", async () => {
      const response = await fetch(`${other.healthUrl}/readyz`);
      const text = await response.text();
      return response.status === 503 && !text.includes("caches not yet synced") ? text : undefined;
    });
    expect(problems.trim()).toBe("webhook serving certificate not loaded yet");
  });
});
