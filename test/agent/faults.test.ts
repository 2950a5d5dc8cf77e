// The agent under failing peers: STS down or throttling at refresh time
// (a fault proxy in front of moto), Datadog throttling and failing (the test
// service's fault injection), and callers without the secret.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_PATHS } from "../../src/shared/names.js";
import { startCredentialPeers, type CredentialPeers } from "../harness/credential-peers.js";
import type { DatadogService } from "../harness/datadog.js";
import { startFaultProxy, stsErrorXml, type FaultProxy } from "../harness/fault-proxy.js";
import type { MotoServer } from "../harness/moto.js";
import { waitFor } from "../harness/process.js";
import { buildBundles, metricValue, startAgentProcess, startReadyAgent, type AgentProcess } from "./agent-process.js";

interface Served {
  readonly at: number;
  readonly status: number;
  readonly accessKeyId?: string;
  readonly expiresAt?: number;
  readonly message?: string;
}

/** One consumer read of the container-credentials endpoint, stamped with when it was answered. */
async function readAwsCredentials(agent: AgentProcess): Promise<Served> {
  const { status, body } = await agent.get(AGENT_PATHS.awsCredentials);
  const at = Date.now();
  const parsed = JSON.parse(body) as { AccessKeyId?: string; Expiration?: string; message?: string };
  return status === 200
    ? { at, status, accessKeyId: parsed.AccessKeyId!, expiresAt: Date.parse(parsed.Expiration!) }
    : { at, status, message: parsed.message ?? "" };
}

/** Reads the endpoint until `until` holds for a read, returning every read. */
async function readUntil(agent: AgentProcess, until: (read: Served) => boolean, timeoutMs = 30_000): Promise<Served[]> {
  const reads: Served[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const read = await readAwsCredentials(agent);
    reads.push(read);
    if (until(read)) return reads;
    await sleep(50);
  }
  throw new Error(`gave up after ${reads.length} reads; last: ${JSON.stringify(reads.at(-1))}`);
}

// One STS emulator and one Datadog service for the file; each group starts its own agents.
let peers: CredentialPeers;
let moto: MotoServer;
let datadog: DatadogService;

beforeAll(async () => {
  buildBundles();
  peers = await startCredentialPeers();
  ({ moto, datadog } = peers);
});

afterAll(async () => {
  await peers?.stop();
});

describe("the agent when STS fails at refresh time", () => {
  let proxy: FaultProxy;
  let agent: AgentProcess;

  beforeAll(async () => {
    proxy = await startFaultProxy(moto.url);
    // 6-second sessions: a refresh every ~2.5 s, expiry soon after STS goes away.
    agent = await startReadyAgent(peers, { stsUrl: proxy.url, sessionDurationSeconds: 6 });
  });

  afterAll(async () => {
    await agent?.stop();
    await proxy?.stop();
  });

  it("keeps serving the valid credentials it holds while STS is down, and answers 503 only once they expire", async () => {
    const held = await readAwsCredentials(agent);
    proxy.setFault({ fault: { kind: "drop" } });
    const reads = await readUntil(agent, (read) => read.status === 503);
    const served = reads.filter((r) => r.status === 200);
    for (const read of served) expect(read.expiresAt!).toBeGreaterThan(read.at);
    const refused = reads.at(-1)!;
    expect(refused.at).toBeGreaterThanOrEqual(Math.max(held.expiresAt!, ...served.map((r) => r.expiresAt!)) - 1_000);
    expect(refused.message).toMatch(/the aws credentials expired and refreshing them fails: AssumeRole .* failed/);
    expect((await fetch(`${agent.metricsUrl}${AGENT_PATHS.readyz}`)).status).toBe(503);
    expect(metricValue(await agent.metrics(), 'ddcred_credential_refresh_total{kind="aws",result="network"}')).toBeGreaterThanOrEqual(1);
  });

  it("holds fresh credentials again once STS is back", async () => {
    proxy.setFault(undefined);
    const reads = await readUntil(agent, (read) => read.status === 200);
    expect(reads.at(-1)!.expiresAt!).toBeGreaterThan(Date.now());
    await waitFor("the agent to be ready again", async () => ((await fetch(`${agent.metricsUrl}/readyz`)).status === 200 ? true : undefined));
  });

  it("keeps serving valid credentials while STS throttles, and counts the throttled attempts", async () => {
    await readUntil(agent, (read) => read.status === 200);
    proxy.setFault({ fault: { kind: "respond", status: 400, body: stsErrorXml("Throttling", "Rate exceeded") } });
    const throttled = () => agent.metrics().then((m) => metricValue(m, 'ddcred_credential_refresh_total{kind="aws",result="throttled"}') ?? 0);
    const reads: Served[] = [];
    await waitFor("two throttled refreshes", async () => {
      reads.push(await readAwsCredentials(agent));
      return (await throttled()) >= 2 ? true : undefined;
    }, { intervalMs: 50 });
    proxy.setFault(undefined);
    for (const read of reads.filter((r) => r.status === 200)) expect(read.expiresAt!).toBeGreaterThan(read.at);
    const before = reads.filter((r) => r.status === 200).at(-1)!;
    const recovered = await readUntil(agent, (read) => read.status === 200 && read.accessKeyId !== before.accessKeyId);
    expect(recovered.at(-1)!.expiresAt!).toBeGreaterThan(Date.now());
  });
});

describe("the agent when its base identity is itself a role session", () => {
  let proxy: FaultProxy;
  let agent: AgentProcess;

  beforeAll(async () => {
    proxy = await startFaultProxy(moto.url);
    // moto does not enforce role chaining's one-hour cap; the proxy answers as AWS does.
    proxy.setFault({
      match: (request) => /DurationSeconds=(\d+)/.test(request.body) && Number(/DurationSeconds=(\d+)/.exec(request.body)![1]) > 3600,
      fault: {
        kind: "respond",
        status: 400,
        body: stsErrorXml("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."),
      },
    });
    agent = await startReadyAgent(peers, { stsUrl: proxy.url, sessionDurationSeconds: 7200 });
  });

  afterAll(async () => {
    await agent?.stop();
    await proxy?.stop();
  });

  it("settles for a one-hour session when AWS refuses a longer one, and says so once in its log", async () => {
    const read = await readAwsCredentials(agent);
    const lifetimeSeconds = (read.expiresAt! - read.at) / 1000;
    expect(lifetimeSeconds).toBeGreaterThan(3500);
    expect(lifetimeSeconds).toBeLessThanOrEqual(3600);
    expect(proxy.stats().faulted).toBe(1);
    expect(agent.process.log().match(/caps role-chained sessions at one hour/g)).toHaveLength(1);
  });
});

describe("the agent when Datadog throttles or fails", () => {
  let agent: AgentProcess;

  beforeAll(async () => {
    await datadog.setTtl({ tokenTtlSeconds: 3 });
    agent = await startReadyAgent(peers);
  });

  afterAll(async () => {
    await agent?.stop();
    await datadog?.setFault(undefined);
    await datadog?.setTtl({ tokenTtlSeconds: 900 });
  });

  const throttledRefreshes = async () =>
    metricValue(await agent.metrics(), 'ddcred_credential_refresh_total{kind="datadog_token",result="throttled"}') ?? 0;

  it("waits as long as Retry-After asks after a 429", async () => {
    const before = (await datadog.stats()).faultsApplied;
    await datadog.setFault({ endpoints: ["delegated-token"], status: 429, retryAfter: "3" });
    await waitFor("a throttled refresh", async () => ((await datadog.stats()).faultsApplied > before ? true : undefined), { intervalMs: 50 });
    // Without Retry-After, 3-second tokens are retried every 0.25-0.5 s: a dozen attempts in these 4 s.
    await sleep(4_000);
    const attempts = (await datadog.stats()).faultsApplied - before;
    await datadog.setFault(undefined);
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(attempts).toBeLessThanOrEqual(2);
    expect(await throttledRefreshes()).toBe(attempts);
  });

  it("recovers a token after the 429s stop", async () => {
    await waitFor("the agent to be ready again", async () => ((await fetch(`${agent.metricsUrl}/readyz`)).status === 200 ? true : undefined));
    const token = await agent.get(AGENT_PATHS.datadogToken);
    expect(token.status).toBe(200);
  });

  it("backs off exponentially while Datadog answers 5xx to an agent that holds no token yet", async () => {
    await datadog.setFault({ endpoints: ["delegated-token"], status: 503 });
    const before = (await datadog.stats()).faultsApplied;
    const starting = await startAgentProcess({ moto, datadogUrl: datadog.url, podName: "app-starting" });
    const serverErrors = async () =>
      metricValue(await starting.metrics().catch(() => ""), 'ddcred_credential_refresh_total{kind="datadog_token",result="server_error"}') ?? 0;
    try {
      // The window opens at the first refused exchange, however long the process took to start.
      await waitFor("the starting agent's first refused exchange", async () => ((await serverErrors()) >= 1 ? true : undefined), { intervalMs: 20 });
      await sleep(4_000);
      const attempts = (await datadog.stats()).faultsApplied - before;
      // The running agent adds at most a few (its own capped retries of 3-second tokens);
      // a fixed half-second retry loop alone would make 9 in these 4 s, growing backoff 4 or 5.
      const startingFailures = await serverErrors();
      expect(startingFailures).toBeGreaterThanOrEqual(2);
      expect(startingFailures).toBeLessThanOrEqual(5);
      expect(attempts).toBeGreaterThanOrEqual(startingFailures);
      await datadog.setFault(undefined);
      await starting.waitReady();
    } finally {
      await datadog.setFault(undefined);
      await starting.stop();
    }
  });
});

describe("the loopback API without the secret", () => {
  let agent: AgentProcess;

  beforeAll(async () => {
    agent = await startReadyAgent(peers);
  });

  afterAll(async () => {
    await agent?.stop();
  });

  it.each([
    ["no Authorization header", null],
    ["a wrong secret", "not-the-secret"],
    ["a wrong bearer token", "Bearer not-the-secret"],
  ])("answers 401 with no detail to a request with %s", async (_what, authorization) => {
    for (const path of [AGENT_PATHS.awsCredentials, AGENT_PATHS.datadogToken]) {
      const response = await agent.get(path, authorization);
      expect(response).toEqual({ status: 401, body: "" });
    }
  });

  it("serves the credentials to the same request with the secret", async () => {
    expect((await agent.get(AGENT_PATHS.datadogToken)).status).toBe(200);
    expect((await agent.get(AGENT_PATHS.datadogToken, `Bearer ${agent.secret()}`)).status).toBe(200);
  });

  it("counts refused requests in its request metric", async () => {
    expect(metricValue(await agent.metrics(), 'ddcred_agent_requests_total{path="/v1/datadog-token",code="401"}')).toBeGreaterThanOrEqual(3);
  });
});
