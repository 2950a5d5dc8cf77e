// Looks for actual secret values in text and in every object an API server
// holds, including inside base64 (Secret data, ConfigMap binaryData), so a
// credential copied anywhere is found whatever its encoding.
import type { ClusterInfo } from "../../harness/cluster.js";
import { apiRequest } from "../../chart/api.js";

/** A named secret value: "datadog token #3", "per-pod secret", ... */
export interface SecretValue {
  readonly name: string;
  readonly value: string;
}

/** The names of the secrets found in `text`, raw or base64-encoded. */
export function secretsIn(text: string, secrets: readonly SecretValue[]): string[] {
  return secrets
    .filter(({ value }) => {
      const encodings = [value, Buffer.from(value).toString("base64"), Buffer.from(value).toString("base64url")];
      return encodings.some((encoded) => text.includes(encoded));
    })
    .map(({ name }) => name);
}

export interface ApiObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly data?: Record<string, string>;
  readonly binaryData?: Record<string, string>;
  readonly type?: string;
}

interface ListableResource {
  readonly groupVersion: string;
  readonly name: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

async function listableResources(cluster: ClusterInfo): Promise<ListableResource[]> {
  const groupVersions = ["v1"];
  const groups = await apiRequest(cluster, "GET", "/apis");
  for (const group of groups.body.groups as { preferredVersion: { groupVersion: string } }[]) groupVersions.push(group.preferredVersion.groupVersion);
  const resources: ListableResource[] = [];
  for (const groupVersion of groupVersions) {
    const path = groupVersion === "v1" ? "/api/v1" : `/apis/${groupVersion}`;
    const response = await apiRequest(cluster, "GET", path);
    if (response.status !== 200) continue;
    for (const resource of response.body.resources as { name: string; kind: string; namespaced: boolean; verbs: string[] }[]) {
      if (resource.name.includes("/") || !resource.verbs.includes("list")) continue;
      resources.push({ groupVersion, name: resource.name, kind: resource.kind, namespaced: resource.namespaced });
    }
  }
  return resources;
}

/**
 * Every object of every listable resource in the given namespaces, and every
 * cluster-scoped object, through discovery: nothing is left out by a list of
 * kinds someone forgot to update.
 */
export async function allObjects(cluster: ClusterInfo, namespaces: readonly string[]): Promise<ApiObject[]> {
  const objects: ApiObject[] = [];
  for (const resource of await listableResources(cluster)) {
    const base = resource.groupVersion === "v1" ? "/api/v1" : `/apis/${resource.groupVersion}`;
    const paths = resource.namespaced ? namespaces.map((ns) => `${base}/namespaces/${ns}/${resource.name}`) : [`${base}/${resource.name}`];
    for (const path of paths) {
      const response = await apiRequest(cluster, "GET", path);
      if (response.status !== 200) throw new Error(`GET ${path} failed: ${response.status} ${JSON.stringify(response.body)}`);
      for (const item of response.body.items as ApiObject[]) objects.push({ ...item, apiVersion: resource.groupVersion, kind: resource.kind });
    }
  }
  return objects;
}

/** An object as text to scan: its JSON plus the decoded contents of base64 fields. */
export function objectText(object: ApiObject): string {
  const decoded = [
    ...(object.kind === "Secret" ? Object.values(object.data ?? {}) : []),
    ...Object.values(object.binaryData ?? {}),
  ].map((value) => Buffer.from(value, "base64").toString("utf8"));
  return [JSON.stringify(object), ...decoded].join("\n");
}
