// The agent never guesses an expiry silently: a token answer whose expiry it
// cannot read is held for the clients' default 15 minutes with a logged
// warning and expiry="assumed" on the expiry metric; an intake key, which
// carries no expiry, is served with none.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_PATHS } from "../../src/shared/names.js";
import { startCredentialPeers, type CredentialPeers } from "../harness/credential-peers.js";
import { waitFor } from "../harness/process.js";
import { buildBundles, metricValue, startReadyAgent, type AgentProcess } from "./agent-process.js";

describe("the agent with answers that carry no readable expiry", () => {
  let peers: CredentialPeers;
  let agent: AgentProcess;

  beforeAll(async () => {
    buildBundles();
    peers = await startCredentialPeers();
    await peers.datadog.setFault({
      endpoints: ["delegated-token"],
      body: JSON.stringify({ data: { type: "token", id: "7b1f4c1e-0d0a-4e53-9a64-0c1f0b7b3a11", attributes: { access_token: "ddt_unreadable-expiry", expires: "in a while" } } }),
    });
    agent = await startReadyAgent(peers, { intakeKey: true });
  });

  afterAll(async () => {
    await agent?.stop();
    await peers?.stop();
  });

  it("holds the token for the clients' 15 minutes and labels its expiry metric assumed", async () => {
    const metrics = await agent.metrics();
    const expiry = metricValue(metrics, 'ddcred_credential_expiry_timestamp_seconds{kind="datadog_token",expiry="assumed"}');
    expect(expiry).toBeGreaterThan(Date.now() / 1000 + 14 * 60);
    expect(expiry).toBeLessThanOrEqual(Date.now() / 1000 + 15 * 60);
    expect(metrics).not.toContain('kind="datadog_token",expiry="reported"');
  });

  it("logs a warning that says what the expiry was, without the token", async () => {
    const warning = await waitFor(
      "the agent's warning about the token's expiry",
      async () => agent.process.log().split("\n").find((line) => line.includes('"level":"warn"') && line.includes("no usable expiry")),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    expect(warning).toContain('expires is neither unix seconds nor an RFC 3339 date-time (a string of 10 characters starting \\"in a while\\"); assuming 15 minutes');
    expect(warning).not.toContain("ddt_unreadable-expiry");
  });

  it("serves the intake key with no expiry, and its expiry metric reads +Inf", async () => {
    const served = JSON.parse((await agent.get(AGENT_PATHS.datadogIntakeKey)).body) as { apiKey: string; expiresAt: string | null };
    expect(served).toMatchObject({ apiKey: agent.readFile("datadogIntakeKey"), expiresAt: null });
    expect(await agent.metrics()).toContain('ddcred_credential_expiry_timestamp_seconds{kind="datadog_intake_key",expiry="none"} +Inf');
  });
});
