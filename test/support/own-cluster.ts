// For test files that make cluster-wide objects (DatadogCredentialPolicies)
// which would change what other test files' operators do: an API server of
// the file's own, with the CRDs, and the operator (controller and webhook)
// against it. stop() tears down both; a failed start leaves nothing running.
import { adminKubeConfig, startCluster } from "../harness/cluster.js";
import { installCrd } from "../harness/kube.js";
import { startWebhookOperator, type WebhookOperator } from "../harness/webhook-operator.js";

export interface OperatorOnOwnCluster {
  readonly setup: WebhookOperator;
  stop(): Promise<void>;
}

export async function startOperatorOnOwnCluster(scope?: string, env: Record<string, string> = {}): Promise<OperatorOnOwnCluster> {
  const cluster = await startCluster();
  try {
    await installCrd(adminKubeConfig(cluster));
    const setup = await startWebhookOperator(cluster, env, scope);
    return {
      setup,
      stop: async () => {
        try {
          await setup.stop();
        } finally {
          await cluster.stop();
        }
      },
    };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
