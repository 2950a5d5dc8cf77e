// The agent's two HTTP servers: the loopback API for the app containers and
// the probe/metrics server on the pod IP.
import { createServer, type Server } from "node:http";
import type { AgentConfig } from "../shared/agent-config.js";
import { createAuthorizer } from "./delivery/auth.js";
import type { Readiness } from "./delivery/http-reply.js";
import { createLoopbackApi } from "./delivery/loopback-api.js";
import { createProbeServerHandler } from "./delivery/probe-server.js";
import type { Logger } from "./logger.js";
import type { AgentMetrics } from "./metrics.js";
import type { AgentRefreshers } from "./refreshers.js";

export interface AgentServers {
  close(): Promise<void>;
}

export async function startServers(
  config: AgentConfig,
  secret: string,
  refreshers: AgentRefreshers,
  readiness: () => Readiness,
  metrics: AgentMetrics,
  log: Logger,
): Promise<AgentServers> {
  const api = createServer(
    createLoopbackApi({
      authorize: createAuthorizer(secret),
      sources: {
        ...(config.aws.exposeToWorkload ? { aws: refreshers.aws } : {}),
        ...(refreshers.datadogToken ? { datadogToken: refreshers.datadogToken } : {}),
        ...(refreshers.datadogIntakeKey ? { datadogIntakeKey: refreshers.datadogIntakeKey } : {}),
      },
      roleArn: config.aws.roleArn,
      site: config.datadog.site,
      orgUuid: config.datadog.orgUuid,
      readiness,
      requestServed: metrics.requestServed,
    }),
  );
  const probes = createServer(
    createProbeServerHandler(metrics.registry, readiness, (reason) => log.warn({ reason }, "readiness probe: not ready")),
  );
  await Promise.all([listen(api, config.apiPort, "127.0.0.1"), listen(probes, config.metricsPort, config.metricsAddress)]);
  return { close: async () => void (await Promise.all([close(api), close(probes)])) };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
