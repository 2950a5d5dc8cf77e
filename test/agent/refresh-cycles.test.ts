// Lifetimes of seconds (moto sessions of 4 s, Datadog tokens of 2 s, the
// org's intake key rotated every second and exchanged again as often) put
// many refresh cycles into one test: the expiry metrics move forward with
// each, and readers of the files never catch one half-written.
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_ENV } from "../../src/shared/agent-config.js";
import type { CredentialKind } from "../../src/shared/names.js";
import { startCredentialPeers, type CredentialPeers } from "../harness/credential-peers.js";
import { buildBundles, metricValue, startReadyAgent, type AgentProcess } from "./agent-process.js";

const KINDS: readonly CredentialKind[] = ["aws", "datadog_token", "datadog_intake_key"];
const EXPIRING_KINDS: readonly CredentialKind[] = ["aws", "datadog_token"];

describe("the agent with credentials that live for seconds", () => {
  let peers: CredentialPeers;
  let agent: AgentProcess;

  beforeAll(async () => {
    buildBundles();
    peers = await startCredentialPeers({ tokenTtlSeconds: 2, intakeKeyTtlSeconds: 1 });
    agent = await startReadyAgent(peers, { intakeKey: true, sessionDurationSeconds: 4, env: { [AGENT_ENV.intakeKeyRefreshSeconds]: "1" } });
  });

  afterAll(async () => {
    await agent?.stop();
    await peers?.stop();
  });

  it("refreshes every kind many times, each refresh of an expiring kind moving its expiry metric forward", async () => {
    const expiries = new Map<CredentialKind, number[]>(EXPIRING_KINDS.map((kind) => [kind, []]));
    let text = "";
    for (let scrape = 0; scrape < 30; scrape++) {
      text = await agent.metrics();
      for (const kind of EXPIRING_KINDS) {
        const value = metricValue(text, `ddcred_credential_expiry_timestamp_seconds{kind="${kind}",expiry="reported"}`)!;
        const seen = expiries.get(kind)!;
        if (seen.at(-1) !== value) seen.push(value);
      }
      await sleep(200);
    }
    for (const kind of EXPIRING_KINDS) {
      const seen = expiries.get(kind)!;
      expect(seen, kind).toEqual([...seen].sort((a, b) => a - b));
      expect(new Set(seen).size, kind).toBeGreaterThanOrEqual(kind === "aws" ? 2 : 4);
    }
    expect(text).toContain('ddcred_credential_expiry_timestamp_seconds{kind="datadog_intake_key",expiry="none"} +Inf');
    for (const kind of KINDS) {
      expect(metricValue(text, `ddcred_credential_refresh_total{kind="${kind}",result="success"}`), kind).toBeGreaterThanOrEqual(kind === "aws" ? 3 : 5);
    }
    expect(text.split("\n").filter((l) => l.startsWith("ddcred_credential_refresh_total") && !l.includes('result="success"'))).toEqual([]);
  });

  it("never lets a reader of the credential files see partial content, across many replacements", async () => {
    const seen = { datadogToken: new Set<string>(), datadogIntakeKey: new Set<string>(), awsProcessCredentials: new Set<string>() };
    const deadline = Date.now() + 5_000;
    let reads = 0;
    const reader = async (name: keyof typeof seen) => {
      while (Date.now() < deadline) {
        const content = await readFile(agent.file(name), "utf8");
        reads += 1;
        if (name === "awsProcessCredentials") {
          expect(JSON.parse(content)).toMatchObject({ Version: 1, AccessKeyId: expect.any(String), SessionToken: expect.any(String) });
        } else {
          expect(content).toMatch(/^\S{16,}$/);
        }
        seen[name].add(content);
      }
    };
    await Promise.all([reader("datadogToken"), reader("datadogToken"), reader("datadogIntakeKey"), reader("awsProcessCredentials")]);
    expect(reads).toBeGreaterThan(1_000);
    expect(seen.datadogToken.size).toBeGreaterThanOrEqual(3);
    expect(seen.datadogIntakeKey.size).toBeGreaterThanOrEqual(3);
    expect(seen.awsProcessCredentials.size).toBeGreaterThanOrEqual(2);
  });

  it("never puts a credential or the API secret into its log or its metrics", async () => {
    const secrets = [
      agent.secret(),
      agent.readFile("datadogToken"),
      agent.readFile("datadogIntakeKey"),
    ];
    const aws = JSON.parse(agent.readFile("awsProcessCredentials")) as Record<string, string>;
    secrets.push(aws.AccessKeyId!, aws.SecretAccessKey!, aws.SessionToken!);
    const log = agent.process.log();
    const metrics = await agent.metrics();
    expect(log).toContain("refreshed datadog_token");
    for (const secret of secrets) {
      expect(log).not.toContain(secret);
      expect(metrics).not.toContain(secret);
    }
  });

  it("serves through its API the token it keeps in the file", async () => {
    const before = agent.readFile("datadogToken");
    const served = JSON.parse((await agent.get("/v1/datadog-token")).body) as { token: string; expiresAt: string };
    const after = agent.readFile("datadogToken");
    // A refresh may land between the reads: the API then matches one side or the other.
    expect([before, after]).toContain(served.token);
    expect(Date.parse(served.expiresAt)).toBeGreaterThan(Date.now() - 1_000);
  });

  it("stops cleanly on SIGTERM, exiting 0", async () => {
    await agent.process.stop();
    expect(await agent.process.exited).toBe(0);
    expect(agent.process.log()).toContain('"msg":"stopped"');
  });
});
