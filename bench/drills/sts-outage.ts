// Drill 3: STS unreachable (connections dropped by a fault proxy) for longer
// than the refresh margin and the whole session: the agent must keep handing
// out what it holds while it is valid, never an expired credential, fail
// /readyz once nothing valid is left, and be fresh again soon after STS is
// back. Time is compressed: 20-second sessions stand for 1-hour ones.
import { setTimeout as sleep } from "node:timers/promises";
import { refreshResults, startAgentUnderTest, waitFor } from "./agent-under-test.js";
import { describeOutcomes, outcomesByChannel, CHANNELS, type Read } from "./credential-consumer.js";
import { seconds, type DrillReport } from "./report.js";

const SESSION_SECONDS = 20;
const TOKEN_TTL_SECONDS = 20;
const OUTAGE_MS = 40_000;

export async function stsOutage(): Promise<DrillReport> {
  const peers = await startAgentUnderTest({ tokenTtlSeconds: TOKEN_TTL_SECONDS, sessionDurationSeconds: SESSION_SECONDS, stsProxy: true });
  try {
    const { agent, consumer } = peers;
    const proxy = peers.stsProxy!;
    // Start the outage right after a refresh: the agent then holds a whole session's worth.
    const awsReads = () => consumer.reads.filter((read) => read.channel === "api:aws");
    const firstKey = await waitFor(() => awsReads().find((read) => read.identity)?.identity, 10_000);
    await waitFor(() => awsReads().find((read) => read.identity && read.identity !== firstKey), 2 * SESSION_SECONDS * 1000);
    const outageAt = Date.now();
    proxy.setFault({ fault: { kind: "drop" } });
    await sleep(OUTAGE_MS);
    const restoredAt = Date.now();
    const faulted = proxy.stats().faulted;
    proxy.setFault(undefined);
    const seenBefore = new Set(consumer.reads.filter((read) => read.at < restoredAt).map((read) => read.identity));
    const isNew = (read: Read) => read.at >= restoredAt && read.outcome === "fresh" && !seenBefore.has(read.identity);
    const freshAws = await waitFor(() => consumer.reads.find((read) => read.channel === "api:aws" && isNew(read)), 30_000);
    const readyAgain = await waitFor(() => consumer.readiness.find((sample) => sample.at >= restoredAt && sample.ready), 30_000);
    const freshToken = await waitFor(() => consumer.reads.find((read) => read.channel === "api:datadog-token" && isNew(read)), 30_000);
    await sleep(2_000);
    await consumer.stop();

    const during = consumer.reads.filter((read) => read.at >= outageAt && read.at < restoredAt);
    const lastHeldAws = [...consumer.reads].reverse().find((read) => read.channel === "api:aws" && read.at < restoredAt && read.outcome === "fresh");
    const firstRefused = during.find((read) => read.channel === "api:aws" && read.outcome === "refused");
    const notReady = consumer.readiness.find((sample) => sample.at >= outageAt && !sample.ready);
    const counts = outcomesByChannel(consumer.reads);
    const apiExpired = counts["api:aws"].expired + counts["api:datadog-token"].expired;
    const metrics = await agent.metrics();
    const since = (at: number | undefined) => (at === undefined ? "-" : seconds(at - outageAt));

    return {
      drill: "sts-outage",
      saw: `loopback API: ${apiExpired} expired, 503 from ${since(firstRefused?.at)} (session over); files: ${counts["file:aws"].expired} AWS reads past Expiration, ${counts["file:datadog-token"].expired} expired Datadog tokens`,
      lost: "nothing",
      recovered: `fresh AWS credentials ${seconds((freshAws?.at ?? Number.NaN) - restoredAt)} after STS came back, /readyz ${seconds((readyAgain?.at ?? Number.NaN) - restoredAt)}`,
      figures: [
        ["scaling", `${SESSION_SECONDS} s sessions for 1 h ones (x${3600 / SESSION_SECONDS}); refresh margin half the session (10 s) + jitter; Datadog tokens ${TOKEN_TTL_SECONDS} s`],
        ["outage", `STS connections dropped for ${seconds(OUTAGE_MS)}, starting right after a refresh (${(OUTAGE_MS / 1000 / SESSION_SECONDS).toFixed(0)}x the session)`],
        ["consumer reads (every 100 ms, 4 channels)", `${consumer.reads.length}`],
        ...CHANNELS.map((channel): [string, string] => [`  ${channel}`, describeOutcomes(counts[channel])]),
        ["last AWS credentials held expired at", since(lastHeldAws?.expiresAt)],
        ["first 503 for AWS credentials", since(firstRefused?.at)],
        ["/readyz failed at", since(notReady?.at)],
        ["AssumeRole attempts during the outage", `${faulted} (backoff capped at a tenth of the session)`],
        ["refresh results (aws)", refreshResults(metrics, "aws")],
        ["refresh results (datadog_token)", refreshResults(metrics, "datadog_token")],
        ["STS back to fresh AWS credentials", seconds((freshAws?.at ?? Number.NaN) - restoredAt)],
        ["STS back to /readyz passing", seconds((readyAgain?.at ?? Number.NaN) - restoredAt)],
        ["STS back to a new Datadog token", seconds((freshToken?.at ?? Number.NaN) - restoredAt)],
      ],
      notes: [
        "times are from the start of the outage unless said otherwise; \"expired\" means past its Expiration when read, or a token the Datadog service refused",
        "the files keep the last credential after it expires: the AWS JSON carries its Expiration (botocore and the JS SDK refuse it), the token file does not",
      ],
    };
  } finally {
    await peers.stop();
  }
}

