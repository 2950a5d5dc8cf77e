// The operator process serving the webhook to a shared API server: the
// chart's RBAC, a MutatingWebhookConfiguration of its own (by URL, failurePolicy
// Fail) selecting only namespaces that carry a label unique to the caller, so
// other test files sharing the cluster never reach it, and a self-managed TLS
// Secret. Used by the security and KubeRay tests.
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { adminKubeConfig, serviceAccountKubeconfig, type ClusterInfo } from "./cluster.js";
import { createNamespace, createOperatorRbac, deleteNamespace, eventually, uniqueName } from "./kube.js";
import { startOperator, type OperatorProcess } from "./operator.js";
import { freePort } from "./process.js";
import { createWebhookConfiguration, deleteWebhookConfiguration, tlsSecretFiles, webhookCaBundles } from "./webhook.js";
import { AGENT_CONTAINER_NAME } from "../../src/shared/names.js";

export const AGENT_IMAGE = "registry.example/ddcred-operator:test";
export const TLS_SECRET_NAME = "ddcred-webhook-tls";

export interface WebhookOperator {
  readonly admin: KubeConfig;
  readonly operatorNamespace: string;
  readonly configurationName: string;
  /** The label that puts a namespace in this webhook's scope (with ddcred.io/injection=enabled). */
  readonly scopeLabel: Readonly<Record<string, string>>;
  readonly operator: () => OperatorProcess;
  /** An enabled namespace this operator's webhook sees (removed by stop()). */
  namespace(options?: { injection?: boolean; labels?: Record<string, string>; serviceAccounts?: string[] }): Promise<string>;
  /** Stops the running operator process and starts another with more env (same RBAC, webhook and Secret). */
  restart(env?: Record<string, string>): Promise<void>;
  /** Stops the operator, removes the webhook configuration and every namespace made here. */
  stop(): Promise<void>;
}

export async function startWebhookOperator(cluster: ClusterInfo, env: Record<string, string> = {}, scope = "sec"): Promise<WebhookOperator> {
  const admin = adminKubeConfig(cluster);
  const testLabel = { "ddcred-test/webhook": uniqueName(scope) };
  const configurationName = uniqueName(`ddcred-${scope}`);
  const operatorNamespace = await createNamespace(admin, { prefix: `ddcred-${scope}` });
  const names = { WEBHOOK_CONFIGURATION_NAME: configurationName, LEASE_NAME: "ddcred-operator", TLS_SECRET_NAME };
  await createOperatorRbac(admin, { namespace: operatorNamespace, serviceAccount: "ddcred-operator", names });
  const { path } = await serviceAccountKubeconfig(cluster, operatorNamespace, "ddcred-operator");
  const port = await freePort();
  await createWebhookConfiguration(admin, { name: configurationName, port, testLabel, operatorNamespace });
  const baseEnv = {
    DDCRED_AGENT_IMAGE: AGENT_IMAGE,
    DDCRED_WEBHOOK_PORT: String(port),
    DDCRED_WEBHOOK_EXTRA_SANS: "127.0.0.1",
    DDCRED_WEBHOOK_CONFIGURATION_NAME: configurationName,
    DDCRED_TLS_SECRET_NAME: TLS_SECRET_NAME,
    DDCRED_LEASE_DURATION_SECONDS: "4",
    DDCRED_RENEW_DEADLINE_SECONDS: "3",
    DDCRED_RETRY_PERIOD_SECONDS: "1",
    DDCRED_RESYNC_INTERVAL_SECONDS: "5",
  };
  const launch = async (more: Record<string, string>) => {
    const process = await startOperator({ kubeconfig: path, namespace: operatorNamespace, env: { ...baseEnv, ...more } });
    await eventually("the caBundle to be registered", async () => {
      const [{ bundles }, files] = await Promise.all([webhookCaBundles(admin, configurationName), tlsSecretFiles(admin, operatorNamespace, TLS_SECRET_NAME)]);
      return bundles.every((bundle) => bundle === files["ca.crt"]);
    });
    return process;
  };
  let operator = await launch(env);
  const namespaces: string[] = [];
  return {
    admin,
    operatorNamespace,
    configurationName,
    scopeLabel: testLabel,
    operator: () => operator,
    async namespace(options = {}) {
      const { injection = true, labels, serviceAccounts } = options;
      const name = await createNamespace(admin, { prefix: scope, injection, labels: { ...testLabel, ...labels }, ...(serviceAccounts ? { serviceAccounts } : {}) });
      namespaces.push(name);
      return name;
    },
    async restart(more = {}) {
      await operator.stop();
      operator = await launch({ ...env, ...more });
    },
    async stop() {
      await operator.stop();
      await deleteWebhookConfiguration(admin, configurationName);
      for (const name of namespaces) await deleteNamespace(admin, name);
      await deleteNamespace(admin, operatorNamespace);
    },
  };
}

export function hasAgent(pod: V1Pod): boolean {
  return (pod.spec?.initContainers ?? []).some((container) => container.name === AGENT_CONTAINER_NAME);
}

/**
 * Creates throw-away pods shaped like `template` until the webhook injects
 * one, then deletes them: from then on the webhook's caches hold every grant
 * and policy written before this call, so a pod it leaves alone afterwards is
 * left alone on purpose, not because a cache lagged.
 */
export async function waitUntilInjecting(admin: KubeConfig, namespace: string, template: V1Pod): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const probes: string[] = [];
  try {
    await eventually(`the webhook to inject a pod like ${template.metadata?.name} in ${namespace}`, async () => {
      const probe = await core.createNamespacedPod({
        namespace,
        body: { ...template, metadata: { ...template.metadata, name: undefined, generateName: "probe-" } },
      });
      probes.push(probe.metadata!.name!);
      return hasAgent(probe);
    });
  } finally {
    for (const name of probes) await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
  }
}
