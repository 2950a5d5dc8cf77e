// A pod exactly as the webhook leaves it, for tests and benchmarks that
// create injected pods without a webhook in the way: the controller counts a
// pod as injected only when its agent is what the grant gives with the
// operator's own injection settings, so the pod is built by the real
// mutation with those settings (parsed from the operator's env).
import type { V1Pod } from "@kubernetes/client-node";
import { parseOperatorConfig } from "../../../src/operator/config.js";
import type { Grant } from "../../../src/shared/grant.js";
import { mutatePod } from "../../../src/webhook/mutate-pod.js";
import type { InjectionSettings } from "../../../src/webhook/settings.js";
import { applyPatch } from "./fixtures.js";

/** The injection settings an operator started with `env` (in `operatorNamespace`) uses. */
export function operatorInjectionSettings(env: Readonly<Record<string, string>>, operatorNamespace: string): InjectionSettings {
  const parsed = parseOperatorConfig({ ...env, DDCRED_NAMESPACE: operatorNamespace });
  if (!parsed.ok) throw new Error(`operator env rejected: ${parsed.errors.join("; ")}`);
  return parsed.config.injection;
}

/** `pod` injected from `grant`, which must select it. */
export function injectedBy(pod: V1Pod, grant: Grant, settings: InjectionSettings): V1Pod {
  const result = mutatePod({ pod, namespace: grant.metadata.namespace, grants: [grant], settings });
  if (result.outcome.reason !== "Injected") throw new Error(`not injected: ${result.outcome.message}`);
  return applyPatch(pod, result.patch);
}
