// Operator processes contending for one Lease on the suite's API server: an
// operator namespace with the operator's RBAC, a workload namespace, and
// operators launched with the webhook off and the lease timings a test picks.
import { CoordinationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { adminKubeConfig, serviceAccountKubeconfig, type ClusterInfo } from "../../harness/cluster.js";
import { createNamespace, createOperatorRbac, deleteNamespace, uniqueName } from "../../harness/kube.js";
import { startOperator, type OperatorProcess } from "../../harness/operator.js";

export const LEASE = "ddcred-operator";

export interface LeaseTimings {
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
}

export interface LeaseBed {
  readonly admin: KubeConfig;
  readonly operatorNamespace: string;
  readonly workload: string;
  /** A kubeconfig of the operator's ServiceAccount, reaching the API server at `server` (default: directly). */
  kubeconfig(server?: string): Promise<string>;
  launch(kubeconfig: string): Promise<OperatorProcess>;
  /** Stops every operator launched so far. */
  stopOperators(): Promise<void>;
  /** The lease's holder identity, undefined while nobody holds it. */
  holder(): Promise<string | undefined>;
  stop(): Promise<void>;
}

/** Whether a holder identity is this operator's: it starts with its pod name, operator-<health port>. */
export function holds(operator: OperatorProcess, identity: string | undefined): boolean {
  return identity?.startsWith(`operator-${new URL(operator.healthUrl).port}_`) ?? false;
}

export async function startLeaseBed(cluster: ClusterInfo, prefix: string, timings: LeaseTimings): Promise<LeaseBed> {
  const admin = adminKubeConfig(cluster);
  const operatorNamespace = await createNamespace(admin, { prefix: `ddcred-${prefix}` });
  let workload: string;
  try {
    workload = await createNamespace(admin, { prefix, injection: true });
    const names = { WEBHOOK_CONFIGURATION_NAME: uniqueName("ddcred"), LEASE_NAME: LEASE, TLS_SECRET_NAME: "ddcred-tls" };
    await createOperatorRbac(admin, { namespace: operatorNamespace, serviceAccount: "ddcred-operator", names });
  } catch (error) {
    await deleteNamespace(admin, operatorNamespace);
    throw error;
  }
  const running: OperatorProcess[] = [];
  const stopOperators = async () => {
    await Promise.all(running.splice(0).map((operator) => operator.stop()));
  };
  return {
    admin,
    operatorNamespace,
    workload,
    kubeconfig: async (server = cluster.server) => (await serviceAccountKubeconfig({ ...cluster, server }, operatorNamespace, "ddcred-operator")).path,
    launch: async (kubeconfig) => {
      const operator = await startOperator({
        kubeconfig,
        namespace: operatorNamespace,
        env: {
          DDCRED_WEBHOOK_ENABLED: "false",
          DDCRED_LEASE_DURATION_SECONDS: String(timings.leaseDurationSeconds),
          DDCRED_RENEW_DEADLINE_SECONDS: String(timings.renewDeadlineSeconds),
          DDCRED_RETRY_PERIOD_SECONDS: String(timings.retryPeriodSeconds),
        },
      });
      running.push(operator);
      return operator;
    },
    stopOperators,
    holder: async () => {
      const lease = await admin.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace: operatorNamespace });
      return lease.spec?.holderIdentity || undefined;
    },
    stop: async () => {
      await stopOperators();
      await deleteNamespace(admin, workload);
      await deleteNamespace(admin, operatorNamespace);
    },
  };
}
