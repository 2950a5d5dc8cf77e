// Every official Datadog API client that takes a bearer token — Python,
// TypeScript, Go, Java — as a real consumer of the token the agent keeps in
// DD_BEARER_TOKEN_FILE, running the very lines the README shows for it: the
// file is read for each call, and read again when Datadog refuses the token.
// Tokens live 5 seconds here, so each client lives through several rotations;
// the Datadog service counts every call made with an expired token, and there
// must be none.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENT_LANGUAGES, consumerCommand, type ClientLanguage } from "../harness/datadog-clients.js";
import { startCredentialPeers, type CredentialPeers } from "../harness/credential-peers.js";
import { buildBundles, startReadyAgent, type AgentProcess } from "./agent-process.js";

interface Usage {
  readonly calls: number;
  readonly refused: number;
  readonly tokens: number;
}

let peers: CredentialPeers;
let agent: AgentProcess;
let home: string;

beforeAll(async () => {
  buildBundles();
  peers = await startCredentialPeers({ tokenTtlSeconds: 5 });
  agent = await startReadyAgent(peers);
  home = mkdtempSync(join(tmpdir(), "ddcred-clients-"));
});

afterAll(async () => {
  await agent?.stop();
  await peers?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** Runs the language's consumer for `seconds` with only what an app container has: the token file's path. */
function runConsumer(language: ClientLanguage, seconds: number): Promise<Usage> {
  const { command, args } = consumerCommand(language);
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, DD_BEARER_TOKEN_FILE: agent.file("datadogToken") };
  return new Promise((resolve, reject) => {
    execFile(command, [...args, peers.datadog.url, String(seconds)], { env, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${language} consumer failed (${error.message}):\n${stdout}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split("\n").at(-1)!) as Usage);
    });
  });
}

describe.each(CLIENT_LANGUAGES.map((language) => [language]))("the official %s client reading DD_BEARER_TOKEN_FILE", (language) => {
  it("calls the API through several token rotations, never with an expired token", async () => {
    const before = await peers.datadog.stats();
    const usage = await runConsumer(language, 12);
    const after = await peers.datadog.stats();
    // 5-second tokens, refreshed half-way or a little sooner: about five tokens in twelve seconds.
    expect(usage.tokens).toBeGreaterThanOrEqual(3);
    expect({ refused: usage.refused, withExpiredToken: after.bearerExpired - before.bearerExpired }).toEqual({ refused: 0, withExpiredToken: 0 });
    expect(after.bearerAccepted - before.bearerAccepted).toBeGreaterThanOrEqual(usage.calls);
  });

  it("reads the file again and repeats the call when Datadog refuses the token", async () => {
    await peers.datadog.setFault({ endpoints: ["users"], status: 401, times: 1, body: JSON.stringify({ errors: ["Unauthorized"] }) });
    try {
      const usage = await runConsumer(language, 1);
      expect(usage.refused).toBe(1);
      expect(usage.calls).toBeGreaterThanOrEqual(2);
    } finally {
      await peers.datadog.setFault(undefined);
    }
  });
});
