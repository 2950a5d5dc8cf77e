// Raw HTTPS calls to the test API server with the admin token: what the
// chart renders is sent as it is, untouched by a typed client's model, and
// server-side dry runs are one query parameter away.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import type { ClusterInfo } from "../harness/cluster.js";
import { eventually } from "../harness/kube.js";
import type { KubeObject } from "./helm.js";

export interface ApiResponse {
  readonly status: number;
  readonly body: any;
}

export function apiRequest(cluster: ClusterInfo, method: string, path: string, body?: unknown, contentType = "application/json"): Promise<ApiResponse> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const call = request(
      `${cluster.server}${path}`,
      {
        method,
        ca: readFileSync(cluster.caFile),
        headers: {
          authorization: `Bearer ${cluster.adminToken}`,
          accept: "application/json",
          ...(payload ? { "content-type": contentType, "content-length": payload.length } : {}),
        },
        timeout: 30_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: response.statusCode ?? 0, body: parsed });
        });
      },
    );
    call.on("timeout", () => call.destroy(new Error(`${method} ${path} timed out`)));
    call.on("error", reject);
    call.end(payload);
  });
}

interface Resource {
  readonly name: string;
  readonly namespaced: boolean;
}

/** Maps an object's apiVersion and kind to its REST resource through discovery. */
export class Discovery {
  private readonly groups = new Map<string, Map<string, Resource>>();

  constructor(private readonly cluster: ClusterInfo) {}

  async resource(apiVersion: string, kind: string): Promise<Resource> {
    // A CRD just created appears in discovery a moment after it is Established.
    return eventually(`the API server to serve ${kind} (${apiVersion})`, async () => {
      let kinds = this.groups.get(apiVersion);
      if (!kinds?.has(kind)) {
        kinds = await this.fetch(apiVersion);
        this.groups.set(apiVersion, kinds);
      }
      return kinds.get(kind);
    });
  }

  private async fetch(apiVersion: string): Promise<Map<string, Resource>> {
    const path = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const response = await apiRequest(this.cluster, "GET", path);
    const kinds = new Map<string, Resource>();
    if (response.status !== 200) return kinds;
    for (const resource of response.body.resources as { name: string; kind: string; namespaced: boolean }[]) {
      if (!resource.name.includes("/")) kinds.set(resource.kind, { name: resource.name, namespaced: resource.namespaced });
    }
    return kinds;
  }

  /** The object's URL (without query), e.g. /apis/apps/v1/namespaces/ns/deployments/name. */
  async objectPath(object: KubeObject, namespace?: string): Promise<string> {
    const { name, namespaced } = await this.resource(object.apiVersion, object.kind);
    const base = object.apiVersion.includes("/") ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
    const ns = object.metadata.namespace ?? namespace;
    if (namespaced && !ns) throw new Error(`${object.kind} ${object.metadata.name} is namespaced but has no namespace`);
    return `${base}${namespaced ? `/namespaces/${ns}` : ""}/${name}/${object.metadata.name}`;
  }
}

/**
 * Server-side apply with dryRun=All and strict field validation: the API
 * server runs its defaulting, validation and admission on the object (an
 * unknown or misspelt field is an error) and stores nothing.
 */
export async function dryRunApply(cluster: ClusterInfo, discovery: Discovery, object: KubeObject): Promise<ApiResponse> {
  const path = await discovery.objectPath(object);
  const query = "dryRun=All&fieldManager=ddcred-chart-test&force=true&fieldValidation=Strict";
  return apiRequest(cluster, "PATCH", `${path}?${query}`, object, "application/apply-patch+yaml");
}

/** Applies objects for real (server-side apply), e.g. stand-in CRDs. */
export async function apply(cluster: ClusterInfo, discovery: Discovery, object: KubeObject): Promise<void> {
  const path = await discovery.objectPath(object);
  const response = await apiRequest(cluster, "PATCH", `${path}?fieldManager=ddcred-chart-test&force=true`, object, "application/apply-patch+yaml");
  if (response.status >= 300) throw new Error(`applying ${object.kind} ${object.metadata.name} failed (${response.status}): ${JSON.stringify(response.body)}`);
}
