// Programs no one here wrote get the granted identity from what the agent
// delivers, with no code for ddcred: the AWS CLI and boto3 through the shared
// AWS config (in a PATH with no node and no curl), boto3 and the AWS SDK for
// JavaScript v3 through the container-credentials endpoint, and the official
// datadog-api-client with the intake key from DD_API_KEY_FILE (the bearer
// token's consumers, one per official client, are datadog-clients.test.ts).
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_PATHS } from "../../src/shared/names.js";
import { startCredentialPeers, type CredentialPeers } from "../harness/credential-peers.js";
import { REPO_ROOT, venvBin } from "../harness/paths.js";
import { buildBundles, startReadyAgent, type AgentProcess } from "./agent-process.js";

const CONSUMERS = join(REPO_ROOT, "test/agent/consumers");

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

function arnOf(result: Run): string {
  if (result.code !== 0) throw new Error(`consumer exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  const parsed = JSON.parse(result.stdout) as { arn?: string; Arn?: string };
  return parsed.arn ?? parsed.Arn ?? "";
}

/** A bin directory with a POSIX shell, cat, and the venv's python and aws: no node, no curl. */
function minimalBin(root: string): string {
  const bin = join(root, "bin");
  mkdirSync(bin, { recursive: true });
  symlinkSync("/bin/sh", join(bin, "sh"));
  symlinkSync("/bin/cat", join(bin, "cat"));
  // Wrappers rather than symlinks: a venv's python finds its packages from its own path.
  for (const tool of ["python", "aws"]) {
    writeFileSync(join(bin, tool), `#!/bin/sh\nexec ${venvBin(tool)} "$@"\n`, { mode: 0o755 });
  }
  return bin;
}

let peers: CredentialPeers;

beforeAll(async () => {
  buildBundles();
  peers = await startCredentialPeers({ tokenTtlSeconds: 3 });
});

afterAll(async () => {
  await peers?.stop();
});

describe("real consumers of the agent's credentials", () => {
  let agent: AgentProcess;
  let scratch: string;
  let expectedArn: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "ddcred-consumers-"));
    agent = await startReadyAgent(peers, { intakeKey: true });
    expectedArn = `arn:aws:sts::${peers.moto.accountId}:assumed-role/ddcred-test/team-a.app-7d4b9c-x2x9q`;
  });

  afterAll(async () => {
    await agent?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** What an app container has: the injected env, a home, nothing else from this test process. */
  const appEnv = (extra: Record<string, string>): Record<string, string> => ({
    HOME: scratch,
    AWS_SHARED_CREDENTIALS_FILE: join(scratch, "no-such-credentials"),
    // The emulator stands in for AWS; the SDKs honour this like any endpoint setting.
    AWS_ENDPOINT_URL_STS: peers.moto.url,
    ...extra,
  });

  const sharedConfigEnv = (bin: string) => appEnv({ PATH: bin, AWS_CONFIG_FILE: agent.file("awsConfig") });

  const containerEnv = () =>
    appEnv({
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      AWS_CONFIG_FILE: join(scratch, "no-such-config"),
      AWS_REGION: "us-east-1",
      // botocore 1.44 reads the region from AWS_DEFAULT_REGION only (AWS_REGION is the other SDKs').
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${agent.apiUrl}${AGENT_PATHS.awsCredentials}`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: agent.file("agentToken"),
    });

  it("gives the AWS CLI the granted role through AWS_CONFIG_FILE, in a PATH with no node and no curl", async () => {
    const bin = minimalBin(join(scratch, "cli"));
    const missing = await run("/bin/sh", ["-c", "command -v node || command -v curl"], { PATH: bin });
    expect(missing.code).not.toBe(0);
    const identity = await run("/bin/sh", ["-c", "aws sts get-caller-identity --output json"], sharedConfigEnv(bin));
    expect(arnOf(identity)).toBe(expectedArn);
  });

  it("gives boto3 the granted role through credential_process, with only sh, cat and python on PATH", async () => {
    const bin = minimalBin(join(scratch, "boto3"));
    const identity = await run("/bin/sh", ["-c", `python ${join(CONSUMERS, "aws_identity.py")}`], sharedConfigEnv(bin));
    expect(arnOf(identity)).toBe(expectedArn);
  });

  it("gives boto3 the granted role from the container-credentials endpoint", async () => {
    const identity = await run(venvBin("python"), [join(CONSUMERS, "aws_identity.py")], containerEnv());
    expect(arnOf(identity)).toBe(expectedArn);
  });

  it("gives the AWS SDK for JavaScript v3 the granted role from the container-credentials endpoint", async () => {
    const identity = await run(process.execPath, [join(CONSUMERS, "aws-identity.mjs")], containerEnv());
    expect(arnOf(identity)).toBe(expectedArn);
  });

  it("delivers an intake key in DD_API_KEY_FILE that the API accepts", async () => {
    const result = await run(
      venvBin("python"),
      [join(REPO_ROOT, "test/python/datadog_client.py"), "validate", "--host", peers.datadog.url, "--api-key", agent.readFile("datadogIntakeKey")],
      { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: scratch },
    );
    expect(JSON.parse(result.stdout)).toEqual({ valid: true });
  });
});

describe("a grant that keeps AWS credentials to the agent", () => {
  let agent: AgentProcess;

  beforeAll(async () => {
    agent = await startReadyAgent(peers, { exposeToWorkload: false });
  });

  afterAll(async () => {
    await agent?.stop();
  });

  it("writes no AWS files and answers 404 for AWS credentials, while the Datadog token is served", async () => {
    expect(existsSync(agent.file("awsConfig"))).toBe(false);
    expect(existsSync(agent.file("awsProcessCredentials"))).toBe(false);
    expect((await agent.get(AGENT_PATHS.awsCredentials)).status).toBe(404);
    const token = await agent.get(AGENT_PATHS.datadogToken);
    expect(token.status).toBe(200);
    expect(JSON.parse(token.body)).toMatchObject({ token: agent.readFile("datadogToken"), site: "datadoghq.com", orgUuid: peers.orgUuid });
  });
});
