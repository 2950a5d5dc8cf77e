// What the webhook would do with a pod, and why: the same pure code the
// admission path runs (the policy filter over the namespace's grants, then
// mutatePod), applied to what the cluster holds now, with every step a person
// needs to see spelled out. No I/O: the world comes in as values.
import type { V1Pod } from "@kubernetes/client-node";
import { grantSelectsPod } from "../shared/grant-choice.js";
import { NO_RAY_WORKLOAD, type RayWorkload } from "../shared/ray-workload.js";
import type { Grant } from "../shared/grant.js";
import { AGENT_CONTAINER_NAME, CREDENTIALS_MOUNT_PATH, INJECTION_ENABLED, INJECTION_LABEL, SYSTEM_NAMESPACES } from "../shared/names.js";
import { policyVerdict, type PolicySet, type PolicyVerdict } from "../shared/policy.js";
import type { JsonPatchOperation } from "../webhook/json-patch.js";
import { mutatePod } from "../webhook/mutate-pod.js";
import type { OutcomeReason } from "../webhook/outcome.js";
import type { InjectionSettings } from "../webhook/settings.js";

export interface ExplainWorld {
  readonly namespace: string;
  /** The namespace's labels; undefined when it does not exist (or could not be read). */
  readonly namespaceLabels: Readonly<Record<string, string>> | undefined;
  /** Every grant of the namespace, allowed by policy or not. */
  readonly grants: readonly Grant[];
  readonly policies: PolicySet;
  readonly settings: InjectionSettings;
  /** The pod's KubeRay workload, when it comes from a RayCluster, RayJob or RayService manifest. */
  readonly rayWorkload?: RayWorkload;
}

export interface GrantFinding {
  readonly name: string;
  /** Whether its pod selector (and service accounts) select this pod. */
  readonly selects: boolean;
  readonly policy: PolicyVerdict;
}

export interface ContainerWiring {
  readonly name: string;
  readonly env: readonly { readonly name: string; readonly value?: string }[];
  readonly mountPath?: string;
}

export interface Explanation {
  /** Whether the webhook is called for pods of this namespace at all (its namespaceSelector). */
  readonly namespaceSeen: boolean;
  readonly namespaceNote: string;
  readonly grants: readonly GrantFinding[];
  /** The webhook's decision for this pod, were the namespace seen. */
  readonly decision: { readonly injected: boolean; readonly reason: OutcomeReason; readonly message: string; readonly grant?: string };
  /** Set when the API server would refuse the pod, with the webhook's message. */
  readonly refusal?: string;
  readonly warnings: readonly string[];
  /** The agent container, when one is added. */
  readonly agent?: { readonly image: string; readonly env: readonly { readonly name: string; readonly value?: string }[] };
  /** What each app container gets. */
  readonly wired: readonly ContainerWiring[];
  /** Credential files the agent keeps under /var/run/ddcred for the app. */
  readonly files: readonly string[];
  readonly patch: readonly JsonPatchOperation[];
}

export function explainPod(pod: V1Pod, world: ExplainWorld): Explanation {
  const { namespace, namespaceLabels, settings } = world;
  const namespaceSeen =
    namespaceLabels?.[INJECTION_LABEL] === INJECTION_ENABLED && !SYSTEM_NAMESPACES.has(namespace) && namespace !== settings.operatorNamespace;
  const verdicts = world.grants.map((grant) => ({ grant, policy: policyVerdict(grant, namespaceLabels, world.policies) }));
  // What the admission path injects from: the namespace's grants that policy allows (src/operator/start-webhook.ts).
  const allowed = verdicts.filter((v) => v.policy.allowed).map((v) => v.grant);
  const rayWorkload = world.rayWorkload ?? NO_RAY_WORKLOAD;
  const result = mutatePod({ pod, namespace, grants: allowed, settings, rayWorkload });
  const mutated = applyPatch(pod, result.patch);
  return {
    namespaceSeen,
    namespaceNote: namespaceNote(namespace, namespaceLabels, settings),
    grants: verdicts.map(({ grant, policy }) => ({ name: grant.metadata.name, selects: grantSelectsPod(grant, pod, rayWorkload), policy })),
    decision: result.outcome,
    ...(result.refusal ? { refusal: result.refusal } : {}),
    warnings: result.warnings,
    ...agentOf(mutated),
    wired: wiredContainers(pod, mutated),
    files: credentialFiles(mutated),
    patch: result.patch,
  };
}

function namespaceNote(namespace: string, labels: Readonly<Record<string, string>> | undefined, settings: InjectionSettings): string {
  if (SYSTEM_NAMESPACES.has(namespace) || namespace === settings.operatorNamespace) {
    return `namespace ${namespace} is never injected (system namespaces and the operator's own are excluded)`;
  }
  if (labels === undefined) return `namespace ${namespace} does not exist (or could not be read); once it does, it needs the label ${INJECTION_LABEL}=${INJECTION_ENABLED}`;
  if (labels[INJECTION_LABEL] !== INJECTION_ENABLED) {
    return `namespace ${namespace} lacks the label ${INJECTION_LABEL}=${INJECTION_ENABLED}: the webhook never sees its pods. Run: kubectl label namespace ${namespace} ${INJECTION_LABEL}=${INJECTION_ENABLED}`;
  }
  return `namespace ${namespace} is labelled ${INJECTION_LABEL}=${INJECTION_ENABLED}: the webhook sees its pods`;
}

type Container = NonNullable<V1Pod["spec"]>["containers"][number];

function agentOf(pod: V1Pod): Pick<Explanation, "agent"> {
  const agent = pod.spec?.initContainers?.find((c) => c.name === AGENT_CONTAINER_NAME);
  return agent ? { agent: { image: agent.image ?? "", env: (agent.env ?? []).map(({ name, value }) => ({ name, ...(value === undefined ? {} : { value }) })) } } : {};
}

function wiredContainers(before: V1Pod, after: V1Pod): ContainerWiring[] {
  const wiring: ContainerWiring[] = [];
  const all = (pod: V1Pod): Container[] => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const original = new Map(all(before).map((c) => [c.name, c]));
  for (const container of all(after)) {
    if (container.name === AGENT_CONTAINER_NAME) continue;
    const was = original.get(container.name);
    const added = (container.env ?? []).filter((v) => !(was?.env ?? []).some((w) => w.name === v.name && w.value === v.value));
    const mount = (container.volumeMounts ?? []).find((m) => m.mountPath === CREDENTIALS_MOUNT_PATH);
    if (added.length === 0 && !mount) continue;
    wiring.push({ name: container.name, env: added.map(({ name, value }) => ({ name, ...(value === undefined ? {} : { value }) })), ...(mount ? { mountPath: mount.mountPath } : {}) });
  }
  return wiring;
}

function credentialFiles(pod: V1Pod): string[] {
  const files = new Set<string>();
  for (const container of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    if (container.name === AGENT_CONTAINER_NAME) continue;
    for (const variable of container.env ?? []) {
      if (variable.value?.startsWith(`${CREDENTIALS_MOUNT_PATH}/`)) files.add(variable.value);
    }
  }
  return [...files].sort();
}

/** Applies the webhook's own patch (add, remove, replace on JSON pointers) to a copy of the pod. */
export function applyPatch<T>(document: T, patch: readonly JsonPatchOperation[]): T {
  const root = { value: structuredClone(document) as unknown };
  for (const operation of patch) {
    const segments = operation.path.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
    let parent: any = root;
    let key: string | number = "value";
    for (const segment of segments) {
      parent = parent[key];
      key = Array.isArray(parent) ? (segment === "-" ? parent.length : Number(segment)) : segment;
    }
    if (Array.isArray(parent) && typeof key === "number") {
      if (operation.op === "add") parent.splice(key, 0, structuredClone(operation.value));
      else if (operation.op === "remove") parent.splice(key, 1);
      else parent[key] = structuredClone(operation.value);
    } else if (operation.op === "remove") {
      delete parent[key];
    } else {
      parent[key] = structuredClone(operation.value);
    }
  }
  return root.value as T;
}
