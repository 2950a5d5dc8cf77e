// What `ddcred explain` reads from the cluster, once: the namespace's labels,
// its grants, the cluster's policies, and the operator's own settings (the
// injection settings and policy.require). Read errors become notes: explain
// says what it could not see rather than guessing silently.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1EnvVar } from "@kubernetes/client-node";
import { GRANT_PLURAL, type Grant } from "../shared/grant.js";
import { apiError } from "../shared/kube/client.js";
import { API_GROUP, API_VERSION } from "../shared/names.js";
import { POLICY_PLURAL, type Policy } from "../shared/policy.js";
import { parseOperatorConfig } from "../operator/config.js";
import { injectionSettings, type InjectionSettings } from "../webhook/settings.js";

export interface OperatorView {
  readonly settings: InjectionSettings;
  readonly requirePolicy: boolean;
  /** Where the settings came from, for the report. */
  readonly from: string;
}

/**
 * The operator's settings: from this process's env when explain runs inside
 * the operator's container (kubectl exec), else from the env of the operator
 * Deployment in `operatorNamespace`, else the chart's defaults.
 */
export async function operatorView(kubeConfig: KubeConfig, operatorNamespace: string, env: NodeJS.ProcessEnv): Promise<OperatorView> {
  if (env.DDCRED_AGENT_IMAGE) {
    const parsed = parseOperatorConfig(env);
    if (parsed.ok) return { settings: parsed.config.injection, requirePolicy: parsed.config.requirePolicy, from: "this operator container's environment" };
  }
  try {
    const deployments = await kubeConfig.makeApiClient(AppsV1Api).listNamespacedDeployment({
      namespace: operatorNamespace,
      labelSelector: "app.kubernetes.io/name=ddcred-operator",
    });
    for (const deployment of deployments.items) {
      const container = deployment.spec?.template.spec?.containers[0];
      const parsed = parseOperatorConfig(deploymentEnv(container?.env ?? [], operatorNamespace));
      if (parsed.ok) {
        return { settings: parsed.config.injection, requirePolicy: parsed.config.requirePolicy, from: `Deployment ${operatorNamespace}/${deployment.metadata?.name}` };
      }
    }
    return defaults(operatorNamespace, `no ddcred-operator Deployment found in ${operatorNamespace} (--operator-namespace)`);
  } catch (error) {
    return defaults(operatorNamespace, `could not read Deployments in ${operatorNamespace}: ${apiError(error)?.message ?? String(error)}`);
  }
}

function defaults(operatorNamespace: string, why: string): OperatorView {
  return {
    settings: injectionSettings({ agentImage: "<the operator's agent image>", operatorNamespace }),
    requirePolicy: false,
    from: `the chart's defaults (${why}; policy.require assumed false)`,
  };
}

/** The Deployment's env as the operator would see it: plain values, and the downward API fields the chart uses. */
function deploymentEnv(env: readonly V1EnvVar[], namespace: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const variable of env) {
    if (variable.value !== undefined) values[variable.name] = variable.value;
    else if (variable.valueFrom?.fieldRef?.fieldPath === "metadata.namespace") values[variable.name] = namespace;
    else if (variable.valueFrom?.fieldRef?.fieldPath === "metadata.name") values[variable.name] = "ddcred-explain";
  }
  return values;
}

export interface NamespaceView {
  readonly labels: Readonly<Record<string, string>> | undefined;
  readonly grants: readonly Grant[];
  readonly notes: readonly string[];
}

export async function namespaceView(kubeConfig: KubeConfig, namespace: string): Promise<NamespaceView> {
  const notes: string[] = [];
  let labels: Record<string, string> | undefined;
  try {
    // A list by name, not a get: the operator's own ServiceAccount (explain run with kubectl exec) may list namespaces only.
    const found = await kubeConfig.makeApiClient(CoreV1Api).listNamespace({ fieldSelector: `metadata.name=${namespace}` });
    labels = found.items[0] ? (found.items[0].metadata?.labels ?? {}) : undefined;
  } catch (error) {
    notes.push(`could not read namespace ${namespace}: ${apiError(error)?.message ?? String(error)}`);
  }
  let grants: Grant[] = [];
  try {
    const list = (await kubeConfig.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL, namespace })) as { items: Grant[] };
    grants = list.items;
  } catch (error) {
    notes.push(`could not list DatadogCredentialGrants in ${namespace}: ${apiError(error)?.message ?? String(error)}`);
  }
  return { labels, grants, notes };
}

export async function clusterPolicies(kubeConfig: KubeConfig): Promise<{ policies: Policy[]; notes: string[] }> {
  try {
    const list = (await kubeConfig.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: POLICY_PLURAL })) as { items: Policy[] };
    return { policies: list.items, notes: [] };
  } catch (error) {
    return { policies: [], notes: [`could not list DatadogCredentialPolicies (explained as if none existed): ${apiError(error)?.message ?? String(error)}`] };
  }
}
