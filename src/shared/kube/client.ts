// Thin helpers over @kubernetes/client-node 2.x: loading credentials and
// reading the API server's error Status (ApiException.body is raw text).
import { ApiException, KubeConfig } from "@kubernetes/client-node";

/** In a pod: the mounted ServiceAccount. Elsewhere: KUBECONFIG or ~/.kube/config. */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

export interface ApiError {
  readonly code: number;
  readonly reason: string;
  readonly message: string;
}

/** The API server's Status for a failed call, or undefined for anything that is not an API error. */
export function apiError(error: unknown): ApiError | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const code = Number(error.code);
  let status: { reason?: string; message?: string } = {};
  try {
    status = typeof error.body === "string" ? JSON.parse(error.body) : (error.body as typeof status) ?? {};
  } catch {
    status = { message: String(error.body).slice(0, 500) };
  }
  return { code, reason: status.reason ?? "Unknown", message: status.message ?? error.message };
}

export function isNotFound(error: unknown): boolean {
  return apiError(error)?.code === 404;
}

export function isConflict(error: unknown): boolean {
  return apiError(error)?.code === 409;
}

/** A one-line description of any failure, for logs: API Status message when there is one. */
export function describeError(error: unknown): string {
  const api = apiError(error);
  if (api) return `${api.code} ${api.reason}: ${api.message}`;
  return error instanceof Error ? error.message : String(error);
}
