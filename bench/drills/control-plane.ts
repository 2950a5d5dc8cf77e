// A control plane of the drill's own (never the test suite's shared one):
// kube-apiserver + etcd, the CRDs, the operator's ServiceAccount bound to the
// chart's exact RBAC, and operator replicas started from dist/operator.mjs,
// controller only: the webhook drills run on the real node (node.ts), where
// the API server reaches the webhook through its Service.
import type { KubeConfig } from "@kubernetes/client-node";
import { adminKubeConfig, serviceAccountKubeconfig, startCluster, type Cluster } from "../../test/harness/cluster.js";
import { createNamespace, createOperatorRbac, installCrd } from "../../test/harness/kube.js";
import { startOperator, type OperatorProcess } from "../../test/harness/operator.js";

export const AGENT_IMAGE = "registry.example/ddcred-operator:drill";
const WEBHOOK_CONFIGURATION = "ddcred-operator";
const TLS_SECRET = "ddcred-operator-webhook-tls";
export const LEASE = "ddcred-operator";

export interface DrillControlPlane {
  readonly cluster: Cluster;
  readonly admin: KubeConfig;
  readonly operatorNamespace: string;
  /** The operator ServiceAccount's kubeconfig (a TokenRequest token, as in a pod). */
  readonly operatorKubeconfig: string;
  /** Starts one replica; every replica started here is stopped by stop(). */
  startReplica(env: Record<string, string>, options?: { waitReady?: boolean }): Promise<Replica>;
  /** Stops every replica still running, then the cluster. */
  stop(): Promise<void>;
}

export interface Replica {
  readonly name: string;
  readonly operator: OperatorProcess;
}

export async function startDrillControlPlane(): Promise<DrillControlPlane> {
  const cluster = await startCluster();
  const replicas: Replica[] = [];
  try {
    const admin = adminKubeConfig(cluster);
    await installCrd(admin);
    const operatorNamespace = await createNamespace(admin, { prefix: "ddcred-system" });
    const names = { WEBHOOK_CONFIGURATION_NAME: WEBHOOK_CONFIGURATION, LEASE_NAME: LEASE, TLS_SECRET_NAME: TLS_SECRET };
    await createOperatorRbac(admin, { namespace: operatorNamespace, serviceAccount: "ddcred-operator", names });
    const { path: operatorKubeconfig } = await serviceAccountKubeconfig(cluster, operatorNamespace, "ddcred-operator", 24 * 3600);
    return {
      cluster,
      admin,
      operatorNamespace,
      operatorKubeconfig,
      async startReplica(env, options = {}) {
        const operator = await startOperator({
          kubeconfig: operatorKubeconfig,
          namespace: operatorNamespace,
          ...(options.waitReady === undefined ? {} : { waitReady: options.waitReady }),
          env: {
            DDCRED_LOG_LEVEL: "info",
            DDCRED_AGENT_IMAGE: AGENT_IMAGE,
            DDCRED_WEBHOOK_ENABLED: "false",
            DDCRED_LEASE_NAME: LEASE,
            ...env,
          },
        });
        const replica = { name: `replica-${replicas.length + 1}`, operator };
        replicas.push(replica);
        return replica;
      },
      async stop() {
        await Promise.all(replicas.map(({ operator }) => operator.process.stop(5_000)));
        await cluster.stop();
      },
    };
  } catch (error) {
    await Promise.all(replicas.map(({ operator }) => operator.process.stop(5_000)));
    await cluster.stop();
    throw error;
  }
}
