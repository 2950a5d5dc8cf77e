// The agent as a pod runs it, with its real peers: moto's STS (optionally
// behind a fault proxy), the Datadog token service, and a consumer reading
// everything it delivers. One stop() ends them all, in reverse order.
import { setTimeout as sleep } from "node:timers/promises";
import { startReadyAgent, type AgentProcess } from "../../test/agent/agent-process.js";
import { startCredentialPeers } from "../../test/harness/credential-peers.js";
import type { DatadogService } from "../../test/harness/datadog.js";
import { startFaultProxy, type FaultProxy } from "../../test/harness/fault-proxy.js";
import { startCredentialConsumer, type CredentialConsumer } from "./credential-consumer.js";

export interface AgentUnderTest {
  readonly datadog: DatadogService;
  /** In front of STS for the agent's AssumeRole calls, when asked for. */
  readonly stsProxy?: FaultProxy;
  readonly agent: AgentProcess;
  readonly consumer: CredentialConsumer;
  stop(): Promise<void>;
}

export async function startAgentUnderTest(options: {
  readonly tokenTtlSeconds: number;
  readonly sessionDurationSeconds?: number;
  readonly stsProxy?: boolean;
}): Promise<AgentUnderTest> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch(() => undefined);
  };
  try {
    const peers = await startCredentialPeers({ tokenTtlSeconds: options.tokenTtlSeconds });
    stops.push(() => peers.stop());
    const stsProxy = options.stsProxy ? await startFaultProxy(peers.moto.url) : undefined;
    if (stsProxy) stops.push(() => stsProxy.stop());
    const agent = await startReadyAgent(peers, {
      ...(stsProxy ? { stsUrl: stsProxy.url } : {}),
      ...(options.sessionDurationSeconds ? { sessionDurationSeconds: options.sessionDurationSeconds } : {}),
    });
    stops.push(() => agent.stop());
    const consumer = startCredentialConsumer(agent, peers.datadog.url);
    stops.push(() => consumer.stop());
    return { datadog: peers.datadog, ...(stsProxy ? { stsProxy } : {}), agent, consumer, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls until `find` returns something; undefined after timeoutMs. */
export async function waitFor<T>(find: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = find();
    if (found !== undefined) return found;
    await sleep(50);
  }
  return undefined;
}

/** The agent's refresh attempts of one kind by result, e.g. "3 success, 22 network". */
export function refreshResults(metrics: string, kind: string): string {
  const pattern = new RegExp(`^ddcred_credential_refresh_total\\{kind="${kind}",result="([a-z_]+)"\\} (\\d+)`, "gm");
  const parts = [...metrics.matchAll(pattern)].map(([, result, count]) => `${count} ${result}`);
  return parts.length > 0 ? parts.join(", ") : "-";
}
