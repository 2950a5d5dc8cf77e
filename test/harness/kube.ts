// Test helpers over a real API server: namespaces that clean up after
// themselves, grants, pods, RBAC from the chart's own rule files.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  loadYaml,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type V1CustomResourceDefinition,
  type V1Pod,
  type V1PolicyRule,
} from "@kubernetes/client-node";
import { parse } from "yaml";
import { apiError, isNotFound } from "../../src/shared/kube/client.js";
import type { Grant, GrantSpec } from "../../src/shared/grant.js";
import { API_GROUP, API_VERSION, INJECTION_ENABLED, INJECTION_LABEL } from "../../src/shared/names.js";
import { GRANT_PLURAL } from "../../src/shared/grant.js";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CRD_PATH = `${REPO_ROOT}crds/ddcred.io_datadogcredentialgrants.yaml`;
export const CRD_PATHS = [CRD_PATH, `${REPO_ROOT}crds/ddcred.io_datadogcredentialpolicies.yaml`];

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

/** Polls until check() returns something other than undefined/false. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** Installs (or updates) every CRD in crds/ and waits until each is served. */
export async function installCrd(kc: KubeConfig): Promise<void> {
  for (const path of CRD_PATHS) await installOneCrd(kc, path);
}

async function installOneCrd(kc: KubeConfig, path: string): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  // loadYaml maps raw keys (x-kubernetes-validations, default, enum) onto the
  // typed model; a plain parse would lose them in client-node's serializer.
  const crd = loadYaml<V1CustomResourceDefinition>(readFileSync(path, "utf8"));
  const name = crd.metadata!.name!;
  try {
    const existing = await api.readCustomResourceDefinition({ name });
    await api.replaceCustomResourceDefinition({ name, body: { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata!.resourceVersion! } } });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await api.createCustomResourceDefinition({ body: crd });
  }
  await eventually("the CRD to be established", async () => {
    const current = await api.readCustomResourceDefinition({ name });
    return current.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
  });
  // Established can precede the first successful list by a moment.
  const custom = kc.makeApiClient(CustomObjectsApi);
  const plural = crd.spec.names.plural;
  await eventually(`${plural} to be served`, async () => {
    await custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural, limit: 1 });
    return true;
  });
}

/** A namespace with its `default` ServiceAccount (no controller-manager makes it here). */
export async function createNamespace(
  kc: KubeConfig,
  options: { prefix?: string; injection?: boolean; labels?: Record<string, string>; serviceAccounts?: string[] } = {},
): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = uniqueName(options.prefix ?? "t");
  const labels = { ...options.labels, ...(options.injection ? { [INJECTION_LABEL]: INJECTION_ENABLED } : {}) };
  await core.createNamespace({ body: { metadata: { name, labels } } });
  for (const account of ["default", ...(options.serviceAccounts ?? [])]) {
    await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: account } } });
  }
  return name;
}

export async function setNamespaceLabel(kc: KubeConfig, namespace: string, key: string, value: string | null): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const { PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
  await core.patchNamespace({ name: namespace, body: { metadata: { labels: { [key]: value } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
}

/**
 * Deletes a namespace the whole way: without a controller-manager nothing
 * empties it, so delete what tests create, then finalize it ourselves.
 */
export async function deleteNamespace(kc: KubeConfig, namespace: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  await custom
    .deleteCollectionNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL, namespace })
    .catch(() => undefined);
  await core.deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
  try {
    await core.deleteNamespace({ name: namespace });
    const current = await core.readNamespace({ name: namespace });
    await core.replaceNamespaceFinalize({ name: namespace, body: { ...current, spec: { finalizers: [] } } });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

export function grantObject(namespace: string, name: string, spec: GrantSpec, labels?: Record<string, string>): Grant {
  return {
    apiVersion: `${API_GROUP}/${API_VERSION}`,
    kind: "DatadogCredentialGrant",
    metadata: { name, namespace, ...(labels ? { labels } : {}) },
    spec,
  };
}

export const TEST_ROLE_ARN = "arn:aws:iam::123456789012:role/ddcred-test";
export const TEST_ORG_UUID = "0f8fad5b-d9cb-469f-a165-70867728950e";

export function grantSpec(overrides: Partial<GrantSpec> = {}): GrantSpec {
  return {
    podSelector: { matchLabels: { app: "demo" } },
    aws: { roleArn: TEST_ROLE_ARN },
    datadog: { orgUuid: TEST_ORG_UUID },
    ...overrides,
  };
}

export async function createGrant(kc: KubeConfig, namespace: string, name: string, spec: GrantSpec): Promise<Grant> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  return (await custom.createNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    plural: GRANT_PLURAL,
    namespace,
    body: grantObject(namespace, name, spec),
  })) as Grant;
}

export async function getGrant(kc: KubeConfig, namespace: string, name: string): Promise<Grant> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  return (await custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL, namespace, name })) as Grant;
}

export async function patchGrantSpec(kc: KubeConfig, namespace: string, name: string, spec: Partial<GrantSpec>): Promise<Grant> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const { PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
  return (await custom.patchNamespacedCustomObject(
    { group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL, namespace, name, body: { spec } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  )) as Grant;
}

export async function deleteGrant(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  await custom.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL, namespace, name });
}

/** Waits until the grant's status satisfies the predicate; returns the grant. */
export async function waitForGrant(
  kc: KubeConfig,
  namespace: string,
  name: string,
  predicate: (grant: Grant) => boolean,
  timeoutMs = 30_000,
): Promise<Grant> {
  let last: Grant | undefined;
  try {
    return await eventually(
      `grant ${namespace}/${name} status`,
      async () => {
        last = await getGrant(kc, namespace, name);
        return predicate(last) ? last : undefined;
      },
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\nlast seen status: ${JSON.stringify(last?.status)}`);
  }
}

export function readyCondition(grant: Grant) {
  return grant.status?.conditions?.find((c) => c.type === "Ready");
}

export function simplePod(name: string, labels: Record<string, string>, extra: Partial<V1Pod["spec"]> = {}): V1Pod {
  return {
    metadata: { name, labels },
    spec: { containers: [{ name: "main", image: "registry.example/app:1" }], ...extra },
  };
}

export async function createPod(kc: KubeConfig, namespace: string, pod: V1Pod): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  return core.createNamespacedPod({ namespace, body: pod });
}

/** The API server's message for a rejected create, or throws if it was accepted. */
export async function rejection(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
  } catch (error) {
    const api = apiError(error);
    if (api) return api.message;
    throw error;
  }
  throw new Error("the API server accepted what it should have rejected");
}

/** The chart's RBAC rule files with the release's names filled in. */
export function chartRules(file: "rbac-cluster-rules.yaml" | "rbac-namespace-rules.yaml", names: Record<string, string>): V1PolicyRule[] {
  let text = readFileSync(`${REPO_ROOT}charts/ddcred-operator/files/${file}`, "utf8");
  for (const [placeholder, value] of Object.entries(names)) text = text.replaceAll(`__${placeholder}__`, value);
  return parse(text) as V1PolicyRule[];
}

export interface OperatorIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly names: { WEBHOOK_CONFIGURATION_NAME: string; LEASE_NAME: string; TLS_SECRET_NAME: string };
}

/**
 * A ServiceAccount bound to exactly the chart's rules (ClusterRole + Role in
 * the operator namespace), as `helm install` would set it up.
 */
export async function createOperatorRbac(kc: KubeConfig, identity: OperatorIdentity): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const { namespace, serviceAccount, names } = identity;
  const roleName = `${serviceAccount}-${namespace}`;
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } }).catch((error) => {
    if (apiError(error)?.code !== 409) throw error;
  });
  const subject = { kind: "ServiceAccount", name: serviceAccount, namespace };
  await rbac.createClusterRole({ body: { metadata: { name: roleName }, rules: chartRules("rbac-cluster-rules.yaml", names) } });
  await rbac.createClusterRoleBinding({
    body: { metadata: { name: roleName }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: roleName }, subjects: [subject] },
  });
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name: roleName }, rules: chartRules("rbac-namespace-rules.yaml", names) } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: { metadata: { name: roleName }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roleName }, subjects: [subject] },
  });
}
