// Plain-HTTP server for probes and Prometheus: /healthz (the process is
// alive and its caches are not stuck), /readyz (ready to serve), /metrics.
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface HealthChecks {
  /** Problems that mean the process should be restarted; empty when healthy. */
  readonly liveness: () => string[];
  /** Problems that mean the process should not receive traffic yet; empty when ready. */
  readonly readiness: () => string[];
}

export function startHealthServer(address: string, port: number, registry: Registry, checks: HealthChecks): Promise<Server> {
  const server = createServer(async (request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const reply = (problems: string[]) => {
      response.writeHead(problems.length === 0 ? 200 : 503, { "content-type": "text/plain; charset=utf-8" });
      response.end(problems.length === 0 ? "ok\n" : `${problems.join("\n")}\n`);
    };
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
    } else if (path === "/healthz") {
      reply(checks.liveness());
    } else if (path === "/readyz") {
      reply(checks.readiness());
    } else if (path === "/metrics") {
      try {
        const body = await registry.metrics();
        response.writeHead(200, { "content-type": registry.contentType }).end(body);
      } catch (error) {
        response.writeHead(500).end(`metrics failed: ${(error as Error).message}\n`);
      }
    } else {
      response.writeHead(404).end("not found\n");
    }
  });
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => resolve(server));
  });
}
