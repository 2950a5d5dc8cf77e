// The operator's environment as the chart's Deployment gives it, resolved the
// way the kubelet would for one pod: the tests run the operator with exactly
// this, never with a copy of it.
import type { V1Deployment, V1EnvVar } from "@kubernetes/client-node";

export interface PodIdentity {
  readonly namespace: string;
  readonly podName: string;
}

export function operatorContainerEnv(deployment: unknown): V1EnvVar[] {
  const containers = (deployment as V1Deployment).spec?.template.spec?.containers ?? [];
  const operator = containers.find((c) => c.name === "operator");
  if (!operator) throw new Error("the Deployment has no container named operator");
  return operator.env ?? [];
}

export function resolveOperatorEnv(deployment: unknown, pod: PodIdentity): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of operatorContainerEnv(deployment)) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (variable.valueFrom?.fieldRef?.fieldPath === "metadata.namespace") env[variable.name] = pod.namespace;
    else if (variable.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[variable.name] = pod.podName;
    else throw new Error(`cannot resolve ${variable.name} outside a pod: ${JSON.stringify(variable.valueFrom)}`);
  }
  return env;
}
