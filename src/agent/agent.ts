// Wires the agent: refreshers for each credential kind the grant asks for,
// the files and the loopback API that deliver them, the probe/metrics
// server. Everything here is I/O plumbing; the decisions live in refresh/,
// aws/ and delivery/.
import type { AgentConfig } from "../shared/agent-config.js";
import { resolveStsEndpoints } from "./aws/endpoint.js";
import { refreshResultLabel, type Failure } from "./credentials.js";
import { generateAgentSecret } from "./delivery/auth.js";
import { CredentialFiles } from "./delivery/credential-files.js";
import type { Readiness } from "./delivery/http-reply.js";
import type { Logger } from "./logger.js";
import { createAgentMetrics, type AgentMetrics } from "./metrics.js";
import type { AnyRefresher, AttemptReport } from "./refresh/refresher.js";
import { allRefreshers, createRefreshers, servedRefreshers } from "./refreshers.js";
import { startServers } from "./servers.js";

export interface RunningAgent {
  stop(): Promise<void>;
}

export type StartResult = { readonly ok: true; readonly agent: RunningAgent } | Failure;

export async function startAgent(
  config: AgentConfig,
  env: Readonly<Record<string, string | undefined>>,
  log: Logger,
): Promise<StartResult> {
  const endpoints = resolveStsEndpoints(config.aws.roleArn, config.aws.region, env);
  if (!endpoints.ok) return endpoints;
  const files = new CredentialFiles(config.credentialsDir);
  await files.createDirectory();

  const metrics = createAgentMetrics();
  let readiness: () => Readiness = () => ({ ready: false, message: "starting" });
  let announcedReady = false;
  const onAttempt = (report: AttemptReport<unknown>) => {
    reportAttempt(report, metrics, log);
    if (!announcedReady && report.outcome.ok && readiness().ready) {
      announcedReady = true;
      log.info({ startupMs: uptimeMs(), cpuMs: cpuMs() }, "ready: every granted credential is held");
    }
  };
  const refreshers = createRefreshers(config, endpoints, files, onAttempt, log);
  const served = servedRefreshers(refreshers, config.aws.exposeToWorkload);
  readiness = () => readinessOf(served);
  // Fetching starts first: the first credentials are what the startup probe waits for.
  for (const refresher of allRefreshers(refreshers)) void refresher.refresh();

  const secret = generateAgentSecret();
  await Promise.all([files.writeStaticFiles(config.aws.exposeToWorkload, config.aws.region), files.writeAgentToken(secret)]);
  const servers = await startServers(config, secret, refreshers, readiness, metrics, log);
  log.info(
    {
      apiPort: config.apiPort,
      metricsAddress: config.metricsAddress,
      metricsPort: config.metricsPort,
      stsEndpoint: endpoints.assumeRoleUrl,
      kinds: served.map((r) => r.kind),
      uptimeMs: uptimeMs(),
      cpuMs: cpuMs(),
    },
    "agent listening",
  );
  return {
    ok: true,
    agent: {
      async stop() {
        for (const refresher of allRefreshers(refreshers)) refresher.stop();
        await servers.close();
      },
    },
  };
}

/** Ready when every credential the workload receives is held and valid; otherwise why not. */
function readinessOf(served: readonly AnyRefresher[]): Readiness {
  const missing = served.map((r) => r.current()).filter((c): c is Failure => !c.ok);
  return missing.length === 0 ? { ready: true, message: "" } : { ready: false, message: missing.map((m) => m.message).join("; ") };
}

function reportAttempt(report: AttemptReport<unknown>, metrics: AgentMetrics, log: Logger): void {
  const { kind, outcome, durationMs, held, nextAttemptAt } = report;
  metrics.refreshAttempted(kind, refreshResultLabel(outcome), durationMs);
  const next = new Date(nextAttemptAt).toISOString();
  if (outcome.ok) {
    if (held) metrics.credentialHeld(kind, held.expiresAt, held.expiry);
    log.info({ kind, durationMs, expiresAt: held && expiryText(held.expiresAt), nextRefreshAt: next }, `refreshed ${kind}`);
    if (held?.expiry === "assumed") {
      log.warn({ kind, expiresAt: expiryText(held.expiresAt) }, `${kind}: Datadog's answer gave no usable expiry: ${held.expiryNote ?? "unreadable"}`);
    }
    return;
  }
  log.warn(
    {
      kind,
      reason: outcome.reason,
      consecutiveFailures: report.consecutiveFailures,
      heldExpiresAt: held && expiryText(held.expiresAt),
      nextAttemptAt: next,
    },
    `refreshing ${kind} failed: ${outcome.message}`,
  );
}

/** An expiry for the log: an ISO date, or "none" for a credential that has no expiry. */
function expiryText(expiresAt: number): string {
  return Number.isFinite(expiresAt) ? new Date(expiresAt).toISOString() : "none";
}

/** Since the process started, for the startup figures in the logs. */
function uptimeMs(): number {
  return Math.round(process.uptime() * 1000);
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return Math.round((user + system) / 1000);
}
