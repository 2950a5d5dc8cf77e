// Operator replicas serving the webhook to the shared API server, as the chart
// runs them: the chart's RBAC for a ServiceAccount, a MutatingWebhookConfiguration
// of their own selecting only namespaces that carry a label unique to the caller
// (other test files sharing the cluster never reach it), and the self-managed
// TLS Secret they share. The API server calls the first replica's port (the
// test API server has no Service routing); the others are reached directly.
import type { KubeConfig } from "@kubernetes/client-node";
import { adminKubeConfig, serviceAccountKubeconfig, type ClusterInfo } from "./cluster.js";
import { createGrant, createNamespace, createOperatorRbac, deleteNamespace, eventually, grantSpec, uniqueName } from "./kube.js";
import { startOperator, type OperatorProcess } from "./operator.js";
import { freePort } from "./process.js";
import { certificatesIn, createWebhookConfiguration, deleteWebhookConfiguration, servedCertificate, tlsSecretFiles, webhookCaBundles } from "./webhook.js";

export const AGENT_IMAGE = "registry.example/ddcred-operator:test";
export const TLS_SECRET_NAME = "ddcred-webhook-tls";

type Env = Record<string, string>;

export interface WebhookReplicasOptions {
  /** Names the webhook configuration (ddcred-<name>-…) and the scope label's value. */
  readonly name: string;
  /** Namespaces: the operator's is ddcred-<prefix>-…, the webhook's own <prefix>-… (default name). */
  readonly prefix?: string;
  /** Default 1. */
  readonly replicas?: number;
  /** Over the base env, for every replica, or per replica by index. */
  readonly env?: Env | ((index: number) => Env);
  /** Runs the controller beside the webhook; off by default, the webhook alone is the subject. */
  readonly controller?: boolean;
  /** More webhooks in the configuration, to show each one gets the caBundle. */
  readonly extraWebhookNames?: readonly string[];
  /** The configuration's caBundle from the start (PEM), when something else than the operator sets it. */
  readonly caBundlePem?: string;
  /** An injection-enabled namespace in scope with a "datadog" grant, made before any replica starts so the first pod is injected. */
  readonly workload?: boolean;
  /** Starts the replicas together rather than one after the other, to race them for the Secret. */
  readonly parallel?: boolean;
  /**
   * Waited for once the replicas are ready: the caBundle registered (default), that and every replica
   * serving the Secret's certificate, or nothing (the test looks itself, or the caBundle is not the operator's).
   */
  readonly waitFor?: "caBundle" | "serving" | "nothing";
}

export interface WebhookReplica {
  readonly operator: OperatorProcess;
  readonly port: number;
}

export interface WebhookReplicas {
  readonly admin: KubeConfig;
  readonly operatorNamespace: string;
  readonly configurationName: string;
  /** The label that puts a namespace in this webhook's scope (with ddcred.io/injection=enabled). */
  readonly scopeLabel: Readonly<Record<string, string>>;
  /** The ServiceAccount's kubeconfig the replicas run with. */
  readonly kubeconfig: string;
  /** Set with the workload option. */
  readonly workload: string | undefined;
  /** One per replica, by index; the webhook configuration calls the first. */
  readonly ports: readonly number[];
  /** In the order they became ready. */
  readonly replicas: readonly WebhookReplica[];
  /** A namespace in this webhook's scope, injection enabled unless told (removed by stop()). */
  namespace(options?: { injection?: boolean; labels?: Record<string, string>; serviceAccounts?: string[] }): Promise<string>;
  /** Every webhook's caBundle is the Secret's CA bundle and every replica serves the Secret's certificate, trusted through it. */
  servesSecret(): Promise<boolean>;
  /** Stops a replica and starts another on its port with more env, then waits as at the start. */
  restart(replica: WebhookReplica, env?: Env): Promise<WebhookReplica>;
  /** Stops the replicas, removes the webhook configuration and every namespace made here. */
  stop(): Promise<void>;
}

export async function startWebhookReplicas(cluster: ClusterInfo, options: WebhookReplicasOptions): Promise<WebhookReplicas> {
  const { name, prefix = name, replicas: count = 1, waitFor = "caBundle" } = options;
  const admin = adminKubeConfig(cluster);
  const configurationName = uniqueName(`ddcred-${name}`);
  const scopeLabel = { "ddcred-test/webhook": uniqueName(name) };
  const replicas: WebhookReplica[] = [];
  const namespaces: string[] = [];
  let operatorNamespace: string | undefined;
  const stop = async () => {
    await Promise.all(replicas.map(({ operator }) => operator.stop()));
    await deleteWebhookConfiguration(admin, configurationName);
    for (const namespace of namespaces) await deleteNamespace(admin, namespace);
    if (operatorNamespace) await deleteNamespace(admin, operatorNamespace);
  };
  const namespace: WebhookReplicas["namespace"] = async ({ injection = true, labels, serviceAccounts } = {}) => {
    const created = await createNamespace(admin, { prefix, injection, labels: { ...scopeLabel, ...labels }, ...(serviceAccounts ? { serviceAccounts } : {}) });
    namespaces.push(created);
    return created;
  };
  try {
    operatorNamespace = await createNamespace(admin, { prefix: `ddcred-${prefix}` });
    const workload = options.workload ? await namespace() : undefined;
    const names = { WEBHOOK_CONFIGURATION_NAME: configurationName, LEASE_NAME: "ddcred-operator", TLS_SECRET_NAME };
    await createOperatorRbac(admin, { namespace: operatorNamespace, serviceAccount: "ddcred-operator", names });
    const { path: kubeconfig } = await serviceAccountKubeconfig(cluster, operatorNamespace, "ddcred-operator");
    const ports: number[] = [];
    for (let index = 0; index < count; index += 1) ports.push(await freePort());
    await createWebhookConfiguration(admin, {
      name: configurationName,
      port: ports[0]!,
      testLabel: scopeLabel,
      operatorNamespace,
      caBundlePem: options.caBundlePem,
      extraWebhookNames: options.extraWebhookNames,
    });
    if (workload) await createGrant(admin, workload, "datadog", grantSpec());

    const envOf = (index: number) => (typeof options.env === "function" ? options.env(index) : options.env);
    const launch = async (port: number, env: Env | undefined): Promise<WebhookReplica> => {
      const operator = await startOperator({
        kubeconfig,
        namespace: operatorNamespace!,
        env: {
          ...(options.controller ? {} : { DDCRED_CONTROLLER_ENABLED: "false" }),
          DDCRED_AGENT_IMAGE: AGENT_IMAGE,
          DDCRED_WEBHOOK_PORT: String(port),
          DDCRED_WEBHOOK_EXTRA_SANS: "127.0.0.1",
          DDCRED_WEBHOOK_CONFIGURATION_NAME: configurationName,
          DDCRED_TLS_SECRET_NAME: TLS_SECRET_NAME,
          ...env,
        },
      });
      return { operator, port };
    };
    const registered = async () => {
      const [{ bundles }, files] = await Promise.all([webhookCaBundles(admin, configurationName), tlsSecretFiles(admin, operatorNamespace!, TLS_SECRET_NAME)]);
      return bundles.every((bundle) => bundle === files["ca.crt"]) ? files : undefined;
    };
    const servesSecret = async () => {
      const files = await registered();
      if (!files) return false;
      const expected = certificatesIn(files["tls.crt"]!)[0]!.fingerprint256;
      const served = await Promise.all(ports.map((port) => servedCertificate(port, files["ca.crt"])));
      return served.every((certificate) => certificate.fingerprint256 === expected);
    };
    const settle = async () => {
      if (waitFor === "caBundle") await eventually("the caBundle to be registered", registered);
      if (waitFor === "serving") await eventually("the caBundle to be registered and every replica to serve the Secret's certificate", servesSecret);
    };

    if (options.parallel) {
      // allSettled: every replica that did start is in the list for stop() before a failure is thrown.
      const started = await Promise.allSettled(ports.map(async (port, index) => replicas.push(await launch(port, envOf(index)))));
      const failed = started.find((result) => result.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
    } else {
      for (const [index, port] of ports.entries()) replicas.push(await launch(port, envOf(index)));
    }
    await settle();

    return {
      admin,
      operatorNamespace,
      configurationName,
      scopeLabel,
      kubeconfig,
      workload,
      ports,
      replicas,
      namespace,
      servesSecret,
      async restart(replica, more = {}) {
        const index = replicas.indexOf(replica);
        await replica.operator.stop();
        const next = await launch(replica.port, { ...envOf(ports.indexOf(replica.port)), ...more });
        replicas[index] = next;
        await settle();
        return next;
      },
      stop,
    };
  } catch (error) {
    // A set-up that fails half-way leaves nothing behind: the caller has no stop() to call.
    await stop().catch(() => undefined);
    throw error;
  }
}
