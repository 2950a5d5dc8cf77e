// The agent's Prometheus metrics, in a registry of its own. No default
// process metrics: their collectors (event-loop monitor, GC observers) cost
// memory in every pod; resident memory alone is cheap and is what matters
// for a sidecar. Labels are bounded: kinds, result reasons, known paths.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { registerBuildInfo } from "../shared/build-info.js";
import type { CredentialKind, ExpirySource } from "./credentials.js";

const EXPIRY_SOURCES: readonly ExpirySource[] = ["reported", "assumed", "none"];

export interface AgentMetrics {
  readonly registry: Registry;
  /** `expiry` labels where the expiry came from; a credential with none (Infinity) reads +Inf. */
  credentialHeld(kind: CredentialKind, expiresAt: number, expiry: ExpirySource): void;
  refreshAttempted(kind: CredentialKind, result: string, durationMs: number): void;
  requestServed(path: string, code: number): void;
}

export function createAgentMetrics(): AgentMetrics {
  const registry = new Registry();
  registerBuildInfo(registry);
  const expiry = new Gauge({
    name: "ddcred_credential_expiry_timestamp_seconds",
    help:
      "When the credential the agent holds expires (unix seconds). expiry: reported by the server, assumed (the answer had no readable expiry: the clients' default), or none (+Inf: the credential carries no expiry).",
    labelNames: ["kind", "expiry"] as const,
    registers: [registry],
  });
  const refreshes = new Counter({
    name: "ddcred_credential_refresh_total",
    help: "Credential refresh attempts, by kind and result (success or the failure reason).",
    labelNames: ["kind", "result"] as const,
    registers: [registry],
  });
  const refreshDuration = new Histogram({
    name: "ddcred_credential_refresh_duration_seconds",
    help: "How long a credential refresh attempt took.",
    labelNames: ["kind"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const requests = new Counter({
    name: "ddcred_agent_requests_total",
    help: "Requests to the agent's loopback API, by path and status code.",
    labelNames: ["path", "code"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({ name: "process_start_time_seconds", help: "Start time of the process since unix epoch in seconds.", registers: [registry] }).set(
    Math.round(Date.now() / 1000 - process.uptime()),
  );
  return {
    registry,
    credentialHeld: (kind, expiresAt, source) => {
      // One series per kind: the one for where this credential's expiry came from.
      for (const other of EXPIRY_SOURCES) if (other !== source) expiry.remove({ kind, expiry: other });
      expiry.set({ kind, expiry: source }, expiresAt / 1000);
    },
    refreshAttempted: (kind, result, durationMs) => {
      refreshes.inc({ kind, result });
      refreshDuration.observe({ kind }, durationMs / 1000);
    },
    requestServed: (path, code) => requests.inc({ path, code: String(code) }),
  };
}
