// Small helpers shared by the loopback API and the probe/metrics server.
import type { IncomingMessage, ServerResponse } from "node:http";

export interface Reply {
  readonly status: number;
  readonly body?: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Readiness {
  readonly ready: boolean;
  /** Which credentials are missing and why; no secrets. */
  readonly message: string;
}

export function json(status: number, value: unknown, headers?: Record<string, string>): Reply {
  return { status, body: JSON.stringify(value), contentType: "application/json", ...(headers ? { headers } : {}) };
}

export function text(status: number, body: string): Reply {
  return { status, body, contentType: "text/plain; charset=utf-8" };
}

export const HEALTHY: Reply = text(200, "ok\n");

export function readinessReply(readiness: Readiness): Reply {
  return readiness.ready ? text(200, "ready\n") : text(503, `not ready: ${readiness.message}\n`);
}

export function requestPath(req: IncomingMessage): string {
  const url = req.url ?? "/";
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

export function send(res: ServerResponse, reply: Reply): void {
  res.statusCode = reply.status;
  // Credentials must not be kept by any cache between the app and the agent.
  res.setHeader("Cache-Control", "no-store");
  if (reply.contentType) res.setHeader("Content-Type", reply.contentType);
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  res.end(reply.body);
}
