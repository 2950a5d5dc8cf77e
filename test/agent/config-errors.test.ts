// The agent refuses to start on a bad configuration, exits 2 and names
// every variable to fix, so `kubectl logs` says what is wrong.
import { execFile } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { AGENT_ENV } from "../../src/shared/agent-config.js";
import { AGENT_BUNDLE, buildBundles } from "./agent-process.js";

const valid = {
  [AGENT_ENV.grantName]: "g",
  [AGENT_ENV.podName]: "p",
  [AGENT_ENV.podNamespace]: "n",
  [AGENT_ENV.roleArn]: "arn:aws:iam::123456789012:role/app",
  [AGENT_ENV.region]: "us-east-1",
  [AGENT_ENV.orgUuid]: "0f8f2b4e-6c1a-4d7e-9b3a-2c5d8e1f4a6b",
  [AGENT_ENV.credentialsDir]: "/nonexistent/ddcred",
};

/** Runs the agent; its stderr is JSON log lines, returned as their messages. */
function runAgent(env: Record<string, string>): Promise<{ code: number | null; messages: string[] }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [AGENT_BUNDLE], { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 20_000 }, (error, _stdout, stderr) => {
      const messages = stderr
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => (JSON.parse(line) as { msg: string }).msg);
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, messages });
    });
  });
}

describe("agent configuration errors", () => {
  beforeAll(() => buildBundles());

  it("exits 2 and names every missing or malformed variable", async () => {
    const { [AGENT_ENV.roleArn]: _roleArn, ...withoutRole } = valid;
    const { code, messages } = await runAgent({ ...withoutRole, [AGENT_ENV.apiPort]: "99999", [AGENT_ENV.exposeToWorkload]: "yes" });
    expect(code).toBe(2);
    expect(messages).toEqual([
      `invalid configuration: ${AGENT_ENV.roleArn} is required`,
      `invalid configuration: ${AGENT_ENV.exposeToWorkload} must be "true" or "false", got "yes"`,
      `invalid configuration: ${AGENT_ENV.apiPort} must be a whole number from 1 to 65535, got "99999"`,
    ]);
  });

  it("exits 2 naming the region when it lies outside the role's partition", async () => {
    const { code, messages } = await runAgent({ ...valid, [AGENT_ENV.roleArn]: "arn:aws-cn:iam::123456789012:role/app" });
    expect(code).toBe(2);
    expect(messages).toEqual([expect.stringContaining(`${AGENT_ENV.region} "us-east-1" is not in the role's partition aws-cn`)]);
  });
});
