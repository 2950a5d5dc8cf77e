// ddcred's operator process serving the webhook and running the controller,
// as test/operator/webhook-admission.test.ts sets it up: a ServiceAccount
// bound to the chart's RBAC, a MutatingWebhookConfiguration called by URL
// with failurePolicy Fail, scoped by a namespace label only this file's
// namespaces carry so other test files sharing the cluster never reach it.
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { ClusterInfo } from "../harness/cluster.js";
import { serviceAccountKubeconfig } from "../harness/cluster.js";
import { createNamespace, createOperatorRbac, deleteNamespace, eventually, uniqueName } from "../harness/kube.js";
import { startOperator, type OperatorProcess } from "../harness/operator.js";
import { freePort } from "../harness/process.js";
import { createPodRaw, createWebhookConfiguration, deleteWebhookConfiguration, tlsSecretFiles, webhookCaBundles } from "../harness/webhook.js";
import { AGENT_CONTAINER_NAME } from "../../src/shared/names.js";

export const AGENT_IMAGE = "registry.example/ddcred-operator:test";
const TLS_SECRET = "ddcred-webhook-tls";

export interface DdcredWebhook {
  /** The label that puts a namespace in this webhook's scope (with ddcred.io/injection=enabled). */
  readonly scopeLabel: Record<string, string>;
  stop(): Promise<void>;
}

export async function startDdcredWebhook(cluster: ClusterInfo, admin: KubeConfig): Promise<DdcredWebhook> {
  const scopeLabel = { "ddcred-test/webhook": uniqueName("kuberay") };
  const configurationName = uniqueName("ddcred-kuberay");
  const operatorNamespace = await createNamespace(admin, { prefix: "ddcred-kr" });
  const names = { WEBHOOK_CONFIGURATION_NAME: configurationName, LEASE_NAME: "ddcred-operator", TLS_SECRET_NAME: TLS_SECRET };
  await createOperatorRbac(admin, { namespace: operatorNamespace, serviceAccount: "ddcred-operator", names });
  const { path } = await serviceAccountKubeconfig(cluster, operatorNamespace, "ddcred-operator");
  const port = await freePort();
  await createWebhookConfiguration(admin, { name: configurationName, port, testLabel: scopeLabel, operatorNamespace });
  let operator: OperatorProcess | undefined;
  const stop = async () => {
    await operator?.stop();
    await deleteWebhookConfiguration(admin, configurationName);
    await deleteNamespace(admin, operatorNamespace);
  };
  try {
    operator = await startOperator({
      kubeconfig: path,
      namespace: operatorNamespace,
      env: {
        DDCRED_AGENT_IMAGE: AGENT_IMAGE,
        DDCRED_WEBHOOK_PORT: String(port),
        DDCRED_WEBHOOK_EXTRA_SANS: "127.0.0.1",
        DDCRED_WEBHOOK_CONFIGURATION_NAME: configurationName,
        DDCRED_TLS_SECRET_NAME: TLS_SECRET,
        DDCRED_LEASE_DURATION_SECONDS: "4",
        DDCRED_RENEW_DEADLINE_SECONDS: "3",
        DDCRED_RETRY_PERIOD_SECONDS: "1",
        DDCRED_RESYNC_INTERVAL_SECONDS: "5",
      },
    });
    await eventually("the caBundle to be registered", async () => {
      const [{ bundles }, files] = await Promise.all([webhookCaBundles(admin, configurationName), tlsSecretFiles(admin, operatorNamespace, TLS_SECRET)]);
      return bundles.every((bundle) => bundle === files["ca.crt"]);
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { scopeLabel, stop };
}

export function hasAgent(pod: V1Pod): boolean {
  return (pod.spec?.initContainers ?? []).some((container) => container.name === AGENT_CONTAINER_NAME);
}

/**
 * Waits until the webhook injects a throwaway pod carrying `labels` in the
 * namespace, so the grant just created is in its cache before KubeRay
 * creates pods (a pod admitted earlier would stay uninjected).
 */
export async function waitUntilInjecting(cluster: ClusterInfo, admin: KubeConfig, namespace: string, labels: Record<string, string>): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  await eventually(`the webhook to inject in ${namespace}`, async () => {
    const probe = await createPodRaw(cluster, namespace, {
      metadata: { generateName: "probe-", labels },
      spec: { containers: [{ name: "main", image: "registry.example/app:1" }] },
    });
    if (probe.pod) await core.deleteNamespacedPod({ name: probe.pod.metadata!.name!, namespace, gracePeriodSeconds: 0 });
    return probe.pod && hasAgent(probe.pod) ? true : undefined;
  });
}
