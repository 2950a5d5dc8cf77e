// The server the kubelet probes and Prometheus scrapes, on the pod IP: no
// credential route here, and no /metrics on the loopback API.
import type { RequestListener } from "node:http";
import type { Registry } from "prom-client";
import { AGENT_PATHS } from "../../shared/names.js";
import { HEALTHY, readinessReply, requestPath, send, text, type Readiness } from "./http-reply.js";

export function createProbeServerHandler(registry: Registry, readiness: () => Readiness): RequestListener {
  return (req, res) => {
    const path = requestPath(req);
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, { ...text(405, "only GET\n"), headers: { Allow: "GET, HEAD" } });
    if (path === AGENT_PATHS.healthz) return send(res, HEALTHY);
    if (path === AGENT_PATHS.readyz) return send(res, readinessReply(readiness()));
    if (path !== AGENT_PATHS.metrics) return send(res, text(404, "not found\n"));
    registry.metrics().then(
      (body) => send(res, { status: 200, body, contentType: registry.contentType }),
      (error: unknown) => send(res, text(500, `metrics failed: ${error instanceof Error ? error.message : String(error)}\n`)),
    );
  };
}
