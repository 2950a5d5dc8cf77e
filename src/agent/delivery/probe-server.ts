// The server the kubelet probes and Prometheus scrapes, on the pod IP: no
// credential route here, and no /metrics on the loopback API. Anyone in the
// cluster can reach the pod IP, so /readyz answers a bare status there: why
// the agent is not ready (a role ARN, an org, an endpoint URL, an error from
// STS or Datadog) goes to the agent's log, once per change.
import type { RequestListener } from "node:http";
import type { Registry } from "prom-client";
import { AGENT_PATHS } from "../../shared/names.js";
import { HEALTHY, requestPath, send, text, type Readiness } from "./http-reply.js";

export const READY_REPLY = text(200, "ready\n");
export const NOT_READY_REPLY = text(503, "not ready\n");

/**
 * @param onNotReady called with the reason when a probe finds the agent not
 *   ready and the reason differs from the last one reported (the kubelet
 *   probes every second during start-up)
 */
export function createProbeServerHandler(
  registry: Registry,
  readiness: () => Readiness,
  onNotReady: (message: string) => void = () => {},
): RequestListener {
  let lastReported: string | undefined;
  const readyz = () => {
    const state = readiness();
    if (state.ready) {
      lastReported = undefined;
      return READY_REPLY;
    }
    if (state.message !== lastReported) onNotReady((lastReported = state.message));
    return NOT_READY_REPLY;
  };
  return (req, res) => {
    const path = requestPath(req);
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, { ...text(405, "only GET\n"), headers: { Allow: "GET, HEAD" } });
    if (path === AGENT_PATHS.healthz) return send(res, HEALTHY);
    if (path === AGENT_PATHS.readyz) return send(res, readyz());
    if (path !== AGENT_PATHS.metrics) return send(res, text(404, "not found\n"));
    registry.metrics().then(
      (body) => send(res, { status: 200, body, contentType: registry.contentType }),
      (error: unknown) => send(res, text(500, `metrics failed: ${error instanceof Error ? error.message : String(error)}\n`)),
    );
  };
}
