// The operator process serving the webhook to a shared API server, with the
// controller beside it: one replica of webhook-replicas.ts, its leader election
// and resyncs made short. Used by the admission, security and KubeRay tests.
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { ClusterInfo } from "./cluster.js";
import { eventually } from "./kube.js";
import type { OperatorProcess } from "./operator.js";
import { startWebhookReplicas } from "./webhook-replicas.js";
import { AGENT_CONTAINER_NAME } from "../../src/shared/names.js";

export { AGENT_IMAGE, TLS_SECRET_NAME } from "./webhook-replicas.js";

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
  const webhook = await startWebhookReplicas(cluster, {
    name: scope,
    controller: true,
    env: {
      DDCRED_LEASE_DURATION_SECONDS: "4",
      DDCRED_RENEW_DEADLINE_SECONDS: "3",
      DDCRED_RETRY_PERIOD_SECONDS: "1",
      DDCRED_RESYNC_INTERVAL_SECONDS: "5",
      ...env,
    },
  });
  const { admin, operatorNamespace, configurationName, scopeLabel, replicas } = webhook;
  return {
    admin,
    operatorNamespace,
    configurationName,
    scopeLabel,
    operator: () => replicas[0]!.operator,
    namespace: webhook.namespace,
    async restart(more = {}) {
      await webhook.restart(replicas[0]!, more);
    },
    stop: webhook.stop,
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
