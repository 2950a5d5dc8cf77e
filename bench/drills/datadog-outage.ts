// Drill 4: Datadog's token endpoint answers 500, then 429 with Retry-After,
// for most of a token's lifetime, then (phase 2) for longer than a token
// lives. Time is compressed by scaling the token's lifetime: the outage is
// stated as a fraction of it, so with 15-minute tokens phase 1 is 9 minutes
// of 500s and 4 of 429s. Measures the agent's attempts (the backoff between
// them), what a consumer saw, and the time back to a fresh token.
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { refreshResults, startAgentUnderTest, waitFor } from "./agent-under-test.js";
import { describeOutcomes, outcomesByChannel, CHANNELS, type Read } from "./credential-consumer.js";
import { seconds, type DrillReport } from "./report.js";

const TOKEN_TTL_SECONDS = 20;
const TTL_MS = TOKEN_TTL_SECONDS * 1000;
/**
 * Phase 1, from just after a refresh: 500s until half the lifetime, 429s until
 * three quarters, then healthy: the retry after the last 429 (Retry-After, a
 * tenth of the lifetime) still comes before the token's last moments.
 */
const SERVER_ERROR_UNTIL = 0.5;
const THROTTLED_UNTIL = 0.75;
const RETRY_AFTER_SECONDS = 2;
/** Phase 2: 429s for 1.5 lifetimes, so the held token expires meanwhile. */
const LONG_OUTAGE_LIFETIMES = 1.5;

export async function datadogOutage(): Promise<DrillReport> {
  const peers = await startAgentUnderTest({ tokenTtlSeconds: TOKEN_TTL_SECONDS });
  try {
    const { agent, consumer, datadog } = peers;
    const tokenReads = () => consumer.reads.filter((read) => read.channel === "api:datadog-token");
    const newTokenAfter = (at: number, seen: ReadonlySet<string | undefined>) =>
      waitFor(() => tokenReads().find((read) => read.at >= at && read.outcome === "fresh" && !seen.has(read.identity)), 3 * TTL_MS);
    const identitiesBefore = (at: number) => new Set(tokenReads().filter((read) => read.at < at).map((read) => read.identity));

    // Phase 1 starts right after a refresh, with a whole token lifetime held.
    const firstToken = await waitFor(() => tokenReads().find((read) => read.identity)?.identity, 10_000);
    await newTokenAfter(Date.now(), new Set([firstToken]));
    const phase1At = Date.now();
    await datadog.setFault({ endpoints: ["delegated-token"], status: 500 });
    await sleep(SERVER_ERROR_UNTIL * TTL_MS);
    await datadog.setFault({ endpoints: ["delegated-token"], status: 429, retryAfter: String(RETRY_AFTER_SECONDS) });
    await sleep((THROTTLED_UNTIL - SERVER_ERROR_UNTIL) * TTL_MS);
    await datadog.setFault(undefined);
    const phase1End = Date.now();
    const phase1Recovered = await newTokenAfter(phase1End, identitiesBefore(phase1End));
    const phase1Reads = consumer.reads.filter((read) => read.at >= phase1At && read.at < (phase1Recovered?.at ?? Date.now()));

    // Phase 2: throttled for longer than a token lives.
    await sleep(1_000);
    const phase2At = Date.now();
    await datadog.setFault({ endpoints: ["delegated-token"], status: 429, retryAfter: String(RETRY_AFTER_SECONDS) });
    await sleep(LONG_OUTAGE_LIFETIMES * TTL_MS);
    await datadog.setFault(undefined);
    const phase2End = Date.now();
    const phase2Recovered = await newTokenAfter(phase2End, identitiesBefore(phase2End));
    const readyAgain = consumer.readiness.find((sample) => sample.at >= phase2End && sample.ready);
    await sleep(1_000);
    await consumer.stop();

    const attempts = faultTimes(datadog.logFile);
    const phase1Attempts = attempts.filter((at) => at >= phase1At && at <= phase1End).map((at) => at - phase1At);
    const phase2Attempts = attempts.filter((at) => at >= phase2At && at <= phase2End).map((at) => at - phase2At);
    const phase2Reads = consumer.reads.filter((read) => read.at >= phase2At && read.at < (phase2Recovered?.at ?? Date.now()));
    const notReady = consumer.readiness.find((sample) => sample.at >= phase2At && !sample.ready);
    const lastValid = [...tokenReads()].reverse().find((read) => read.at < phase2End && read.outcome === "fresh" && read.at >= phase2At);
    const p1 = outcomesByChannel(phase1Reads);
    const p2 = outcomesByChannel(phase2Reads);
    const visible = (table: typeof p1) => CHANNELS.reduce((sum, channel) => sum + table[channel].expired + table[channel].refused + table[channel].missing, 0);
    const expired2 = CHANNELS.filter((channel) => p2[channel].expired > 0).map((channel) => `${p2[channel].expired} ${channel}`);
    const metrics = await agent.metrics();
    const heldExpiresAt = tokenReads().find((read) => read.at >= phase1At)?.expiresAt ?? Number.NaN;
    const firstAttempt = phase1At + (phase1Attempts[0] ?? Number.NaN);
    const windowShare = (phase1End - firstAttempt) / (heldExpiresAt - firstAttempt);
    const since = (origin: number) => (read: Read | { at: number } | undefined) => (read ? seconds(read.at - origin) : "never");

    return {
      drill: "datadog-outage",
      saw: `while a token was held: ${visible(p1)} consumer failures; outage past its expiry: API 503, ${expired2.length ? `expired tokens read from ${expired2.join(", ")}` : "no expired token read"}`,
      lost: "nothing",
      recovered: `new token ${since(phase1End)(phase1Recovered)} after phase 1 ended, ${since(phase2End)(phase2Recovered)} after phase 2 (Retry-After ${RETRY_AFTER_SECONDS} s)`,
      figures: [
        [
          "scaling",
          `${TOKEN_TTL_SECONDS} s tokens; the agent refreshes with half a short lifetime left (+ jitter), with 5 min (+ jitter) left on long ones. Phase 1 failed ${percent(windowShare)} of the refresh window (first attempt to expiry): ${minutes(windowShare * 6.25)} of a 15-minute token's ~6-minute window; phase 2 lasts ${LONG_OUTAGE_LIFETIMES} lifetimes: ${minutes(LONG_OUTAGE_LIFETIMES * 15)} with 15-minute tokens`,
        ],
        ["phase 1", `500 for ${seconds(SERVER_ERROR_UNTIL * TTL_MS)}, then 429 Retry-After ${RETRY_AFTER_SECONDS} for ${seconds((THROTTLED_UNTIL - SERVER_ERROR_UNTIL) * TTL_MS)}, from just after a refresh`],
        ["  attempts (s into phase 1)", phase1Attempts.map((ms) => (ms / 1000).toFixed(1)).join(", ") || "none"],
        ["  gaps between attempts", gaps(phase1Attempts)],
        ...CHANNELS.map((channel): [string, string] => [`  ${channel}`, describeOutcomes(p1[channel])]),
        ["  new token after the outage", since(phase1End)(phase1Recovered)],
        ["phase 2", `429 Retry-After ${RETRY_AFTER_SECONDS} for ${seconds(LONG_OUTAGE_LIFETIMES * TTL_MS)} (${LONG_OUTAGE_LIFETIMES}x the lifetime)`],
        ["  attempts (s into phase 2)", phase2Attempts.map((ms) => (ms / 1000).toFixed(1)).join(", ") || "none"],
        ["  gaps between attempts", gaps(phase2Attempts)],
        ...CHANNELS.map((channel): [string, string] => [`  ${channel}`, describeOutcomes(p2[channel])]),
        ["  last valid token served", since(phase2At)(lastValid)],
        ["  /readyz failed", since(phase2At)(notReady)],
        ["  new token after the outage / /readyz passing", `${since(phase2End)(phase2Recovered)} / ${since(phase2End)(readyAgain)}`],
        ["refresh results (datadog_token)", refreshResults(metrics, "datadog_token")],
      ],
      notes: [
        "attempts are the token requests the Datadog service answered with the injected fault, from its own log",
        "AWS credentials (1 h sessions) stay valid throughout; every channel reads the Datadog token except api:aws and file:aws",
      ],
    };
  } finally {
    await peers.stop();
  }
}

/** Epoch ms of each injected fault, from the service's JSON log. */
function faultTimes(logFile: string): number[] {
  return readFileSync(logFile, "utf8")
    .split("\n")
    .filter((line) => line.includes('"event":"fault_applied"'))
    .map((line) => Date.parse(/"time":"([^"]+)"/.exec(line)?.[1] ?? ""));
}

function gaps(times: readonly number[]): string {
  const between = times.slice(1).map((at, i) => ((at - times[i]!) / 1000).toFixed(1));
  return between.length > 0 ? `${between.join(", ")} s` : "-";
}

function percent(share: number): string {
  return Number.isFinite(share) ? `${(share * 100).toFixed(0)}%` : "-";
}

function minutes(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(1)} min` : "-";
}
