// Test helpers for the admission webhook against the real API server: a
// MutatingWebhookConfiguration the API server calls by URL (the test API
// server has no kube-proxy, so a Service cannot route), the certificate a
// webhook port serves, and pod creation that shows the client's warnings.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { connect } from "node:tls";
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { isNotFound } from "../../src/shared/kube/client.js";
import { INJECTION_ENABLED, INJECTION_LABEL } from "../../src/shared/names.js";
import { MUTATE_PODS_PATH } from "../../src/webhook/paths.js";
import type { ClusterInfo } from "./cluster.js";

export const WEBHOOK_NAME = "pods.ddcred.io";

export interface WebhookConfigurationOptions {
  readonly name: string;
  readonly port: number;
  /** A label only this test's namespaces carry, so other test files sharing the cluster never call this webhook. */
  readonly testLabel: Readonly<Record<string, string>>;
  /** The operator's own namespace, never selected. */
  readonly operatorNamespace: string;
  /** PEM; empty by default, for the operator to fill in. */
  readonly caBundlePem?: string;
  /** More webhooks in the same object, to show each one gets the caBundle. */
  readonly extraWebhookNames?: readonly string[];
}

/** What the chart installs, pointed at a URL: pods CREATE, scoped by namespace label, Fail, IfNeeded. */
export async function createWebhookConfiguration(kc: KubeConfig, options: WebhookConfigurationOptions): Promise<void> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const caBundle = options.caBundlePem ? Buffer.from(options.caBundlePem).toString("base64") : undefined;
  const webhook = (name: string) => ({
    name,
    admissionReviewVersions: ["v1"],
    sideEffects: "None",
    failurePolicy: "Fail",
    reinvocationPolicy: "IfNeeded",
    timeoutSeconds: 5,
    matchPolicy: "Equivalent",
    clientConfig: { url: `https://127.0.0.1:${options.port}${MUTATE_PODS_PATH}`, ...(caBundle ? { caBundle } : {}) },
    rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"], scope: "Namespaced" }],
    namespaceSelector: {
      matchLabels: { [INJECTION_LABEL]: INJECTION_ENABLED, ...options.testLabel },
      matchExpressions: [
        {
          key: "kubernetes.io/metadata.name",
          operator: "NotIn",
          values: ["kube-system", "kube-node-lease", "kube-public", options.operatorNamespace],
        },
      ],
    },
  });
  await api.createMutatingWebhookConfiguration({
    body: { metadata: { name: options.name }, webhooks: [WEBHOOK_NAME, ...(options.extraWebhookNames ?? [])].map(webhook) },
  });
}

export async function deleteWebhookConfiguration(kc: KubeConfig, name: string): Promise<void> {
  await kc
    .makeApiClient(AdmissionregistrationV1Api)
    .deleteMutatingWebhookConfiguration({ name })
    .catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
}

/** Each webhook's caBundle, decoded to PEM ("" when unset). */
export async function webhookCaBundles(kc: KubeConfig, name: string): Promise<{ resourceVersion: string; bundles: string[] }> {
  const configuration = await kc.makeApiClient(AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name });
  return {
    resourceVersion: configuration.metadata?.resourceVersion ?? "",
    bundles: (configuration.webhooks ?? []).map((webhook) => Buffer.from(webhook.clientConfig.caBundle ?? "", "base64").toString("utf8")),
  };
}

/** Sets every webhook's caBundle to empty, as a `helm upgrade` re-applying the chart's object does. */
export async function clearWebhookCaBundles(kc: KubeConfig, name: string): Promise<void> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  const configuration = await api.readMutatingWebhookConfiguration({ name });
  for (const webhook of configuration.webhooks ?? []) delete webhook.clientConfig.caBundle;
  await api.replaceMutatingWebhookConfiguration({ name, body: configuration });
}

/** The TLS Secret's PEM contents by key. */
export async function tlsSecretFiles(kc: KubeConfig, namespace: string, name: string): Promise<Record<string, string>> {
  const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name, namespace });
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")]));
}

export function certificatesIn(pemBundle: string): X509Certificate[] {
  return (pemBundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((pem) => new X509Certificate(pem));
}

/**
 * The certificate a webhook port serves to a new connection. With `trust`,
 * the handshake also verifies it against that CA bundle, for the name the
 * API server would call (`at.serverName`; else the address), as the API
 * server does (rejects otherwise). `at.host` defaults to 127.0.0.1.
 */
export function servedCertificate(port: number, trust?: string, at: { readonly host?: string; readonly serverName?: string } = {}): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const verify = trust ? { ca: trust, rejectUnauthorized: true } : { rejectUnauthorized: false };
    const socket = connect({ host: at.host ?? "127.0.0.1", port, ...(at.serverName ? { servername: at.serverName } : {}), ...verify }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.destroy();
      if (peer) resolve(peer);
      else reject(new Error("no peer certificate"));
    });
    socket.setTimeout(3_000, () => socket.destroy(new Error("TLS handshake timed out")));
    socket.on("error", reject);
  });
}

export interface RawCreation {
  readonly status: number;
  readonly pod: V1Pod | undefined;
  readonly message: string | undefined;
  /** Warning response headers: what kubectl prints as "Warning: ...". */
  readonly warnings: string[];
}

/** Creates a pod with a plain HTTPS request, to see the Warning headers client-node does not surface. */
export function createPodRaw(cluster: ClusterInfo, namespace: string, pod: V1Pod): Promise<RawCreation> {
  const body = JSON.stringify({ apiVersion: "v1", kind: "Pod", ...pod });
  const url = new URL(`${cluster.server}/api/v1/namespaces/${namespace}/pods`);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        ca: readFileSync(cluster.caFile),
        headers: { authorization: `Bearer ${cluster.adminToken}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as V1Pod & { message?: string };
          const header = response.headersDistinct.warning ?? [];
          const status = response.statusCode ?? 0;
          resolve({ status, pod: status < 300 ? parsed : undefined, message: status < 300 ? undefined : parsed.message, warnings: header });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
