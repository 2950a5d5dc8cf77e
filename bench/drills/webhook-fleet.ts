// Webhook replicas behind the endpoint balancer, registered the way the chart
// registers them (pods CREATE, Fail, scoped by namespace label, timeout 5 s)
// but by the balancer's URL, with a grant that selects every drill pod.
import type { V1Pod } from "@kubernetes/client-node";
import { createGrant, createNamespace, eventually, grantSpec, simplePod } from "../../test/harness/kube.js";
import { createWebhookConfiguration, tlsSecretFiles, webhookCaBundles } from "../../test/harness/webhook.js";
import { TLS_SECRET, WEBHOOK_CONFIGURATION, type DrillControlPlane, type Replica } from "./control-plane.js";
import { startEndpointBalancer, type EndpointBalancer } from "./endpoint-balancer.js";

export const DRILL_LABEL = { "ddcred-drill": "webhook" };

export interface WebhookFleet {
  readonly balancer: EndpointBalancer;
  readonly replicas: Replica[];
  readonly workload: string;
  /** Starts one more replica, adds it to the balancer, waits until the balancer routes to it. */
  addReplica(): Promise<Replica>;
  stop(): Promise<void>;
}

export async function startWebhookFleet(
  plane: DrillControlPlane,
  options: { replicas: number; env: Record<string, string> },
): Promise<WebhookFleet> {
  const balancer = await startEndpointBalancer([]);
  const replicas: Replica[] = [];
  try {
    await createWebhookConfiguration(plane.admin, {
      name: WEBHOOK_CONFIGURATION,
      port: balancer.port,
      testLabel: DRILL_LABEL,
      operatorNamespace: plane.operatorNamespace,
    });
    const workload = await createNamespace(plane.admin, { prefix: "drill", injection: true, labels: DRILL_LABEL });
    await createGrant(plane.admin, workload, "datadog", grantSpec({ podSelector: { matchLabels: { app: "drill" } } }));
    const addReplica = async () => {
      const replica = await plane.startReplica({ DDCRED_CONTROLLER_ENABLED: "false", ...options.env });
      balancer.setBackend({ name: replica.name, port: replica.webhookPort, readyUrl: `${replica.operator.healthUrl}/readyz` });
      replicas.push(replica);
      await balancer.waitReady([replica.name]);
      return replica;
    };
    for (let i = 0; i < options.replicas; i += 1) await addReplica();
    await eventually("the caBundle to be registered", async () => {
      const [{ bundles }, files] = await Promise.all([
        webhookCaBundles(plane.admin, WEBHOOK_CONFIGURATION),
        tlsSecretFiles(plane.admin, plane.operatorNamespace, TLS_SECRET),
      ]);
      return bundles.every((bundle) => bundle === files["ca.crt"]);
    });
    return { balancer, replicas, workload, addReplica, stop: () => balancer.stop() };
  } catch (error) {
    await balancer.stop();
    throw error;
  }
}

export function drillPod(prefix: string): (index: number, attempt: number) => V1Pod {
  return (index, attempt) => simplePod(`${prefix}-${index}${attempt > 0 ? `-r${attempt}` : ""}`, { app: "drill", burst: prefix });
}
