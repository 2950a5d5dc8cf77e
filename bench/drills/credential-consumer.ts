// An app container reading what the agent delivers, every few milliseconds,
// through every channel a workload uses: the loopback API (AWS credentials
// and the Datadog token) and the files in the credentials volume (the
// credential_process JSON and the Datadog token file). Each Datadog token it
// gets is tried against the Datadog service's protected API, which accepts
// only live tokens, so "expired" is the service's verdict, not ours.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { AGENT_PATHS } from "../../src/shared/names.js";
import type { AgentProcess } from "../../test/agent/agent-process.js";

export type Channel = "api:aws" | "api:datadog-token" | "file:aws" | "file:datadog-token";
export const CHANNELS: readonly Channel[] = ["api:aws", "api:datadog-token", "file:aws", "file:datadog-token"];

/**
 * fresh: valid when read; expired: handed out although past its expiry (or refused by Datadog);
 * refused: the agent answered an error (503: nothing valid held); missing: no file.
 */
export type Outcome = "fresh" | "expired" | "refused" | "missing";

export interface Read {
  readonly at: number;
  readonly channel: Channel;
  readonly outcome: Outcome;
  /** The credential's identity (access key id, or a token prefix), to see refreshes. */
  readonly identity?: string;
  /** When what was handed out expires (epoch ms), where the channel says. */
  readonly expiresAt?: number;
  readonly status?: number;
}

export interface ReadinessSample {
  readonly at: number;
  readonly ready: boolean;
}

export interface CredentialConsumer {
  readonly reads: Read[];
  readonly readiness: ReadinessSample[];
  stop(): Promise<void>;
}

export function startCredentialConsumer(agent: AgentProcess, datadogUrl: string, intervalMs = 100): CredentialConsumer {
  const reads: Read[] = [];
  const readiness: ReadinessSample[] = [];
  let stopped = false;
  const answered = async (url: string, init?: RequestInit) => {
    const response = await fetch(url, init);
    await response.body?.cancel();
    return response.status;
  };
  const liveToken = async (token: string) =>
    (await answered(`${datadogUrl}/api/v2/users`, { headers: { authorization: `Bearer ${token}` } })) === 200;

  const readApiAws = async (): Promise<Read> => {
    const at = Date.now();
    const { status, body } = await agent.get(AGENT_PATHS.awsCredentials);
    if (status !== 200) return { at, channel: "api:aws", outcome: "refused", status };
    const parsed = JSON.parse(body) as { AccessKeyId: string; Expiration: string };
    const expiresAt = Date.parse(parsed.Expiration);
    return { at, channel: "api:aws", outcome: expiresAt > at ? "fresh" : "expired", identity: parsed.AccessKeyId, expiresAt, status };
  };
  const readApiToken = async (): Promise<Read> => {
    const at = Date.now();
    const { status, body } = await agent.get(AGENT_PATHS.datadogToken);
    if (status !== 200) return { at, channel: "api:datadog-token", outcome: "refused", status };
    const parsed = JSON.parse(body) as { token: string; expiresAt: string };
    const expiresAt = Date.parse(parsed.expiresAt);
    const fresh = expiresAt > at && (await liveToken(parsed.token));
    return { at, channel: "api:datadog-token", outcome: fresh ? "fresh" : "expired", identity: fingerprint(parsed.token), expiresAt, status };
  };
  const readFileAws = async (): Promise<Read> => {
    const at = Date.now();
    const text = await readFile(agent.file("awsProcessCredentials"), "utf8").catch(() => undefined);
    if (text === undefined) return { at, channel: "file:aws", outcome: "missing" };
    const parsed = JSON.parse(text) as { AccessKeyId: string; Expiration: string };
    const expiresAt = Date.parse(parsed.Expiration);
    return { at, channel: "file:aws", outcome: expiresAt > at ? "fresh" : "expired", identity: parsed.AccessKeyId, expiresAt };
  };
  const readFileToken = async (): Promise<Read> => {
    const at = Date.now();
    const token = await readFile(agent.file("datadogToken"), "utf8").catch(() => undefined);
    if (token === undefined || token.trim() === "") return { at, channel: "file:datadog-token", outcome: "missing" };
    return { at, channel: "file:datadog-token", outcome: (await liveToken(token.trim())) ? "fresh" : "expired", identity: fingerprint(token.trim()) };
  };
  const probeReady = async () => {
    const at = Date.now();
    const ready = await answered(`${agent.metricsUrl}${AGENT_PATHS.readyz}`).then(
      (status) => status === 200,
      () => false,
    );
    if (readiness.at(-1)?.ready !== ready) readiness.push({ at, ready });
  };

  const loop = (async () => {
    while (!stopped) {
      const batch = await Promise.allSettled([readApiAws(), readApiToken(), readFileAws(), readFileToken()]);
      for (const result of batch) if (result.status === "fulfilled") reads.push(result.value);
      await probeReady();
      await sleep(intervalMs);
    }
  })();
  return {
    reads,
    readiness,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Tells tokens apart without keeping them. */
function fingerprint(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, 12);
}

/** Per channel: how many reads ended each way. */
export function outcomesByChannel(reads: readonly Read[]): Record<Channel, Record<Outcome, number>> {
  const table = Object.fromEntries(CHANNELS.map((channel) => [channel, { fresh: 0, expired: 0, refused: 0, missing: 0 }])) as Record<
    Channel,
    Record<Outcome, number>
  >;
  for (const read of reads) table[read.channel][read.outcome] += 1;
  return table;
}

export function describeOutcomes(counts: Record<Outcome, number>): string {
  return (["fresh", "expired", "refused", "missing"] as const)
    .filter((outcome) => counts[outcome] > 0 || outcome === "expired")
    .map((outcome) => `${counts[outcome]} ${outcome}`)
    .join(", ");
}
