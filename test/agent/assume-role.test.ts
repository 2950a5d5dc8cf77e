import type { AssumeRoleCommandInput, AssumeRoleCommandOutput } from "@aws-sdk/client-sts";
import { describe, expect, it } from "vitest";
import { createAssumeRoleFetcher, type AssumeRoleSettings } from "../../src/agent/aws/assume-role.js";

const settings: AssumeRoleSettings = {
  roleArn: "arn:aws:iam::123456789012:role/app",
  region: "us-east-1",
  durationSeconds: 7200,
  externalId: "ext-1",
  sessionName: "team-a.pod-1",
  endpoint: "https://sts.us-east-1.amazonaws.com",
};

const chainingError = Object.assign(new Error("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."), {
  name: "ValidationError",
  $metadata: { httpStatusCode: 400 },
});

function granted(input: AssumeRoleCommandInput): AssumeRoleCommandOutput {
  return {
    $metadata: {},
    Credentials: {
      AccessKeyId: "ASIA1",
      SecretAccessKey: "secret",
      SessionToken: "token",
      Expiration: new Date(Date.UTC(2025, 0, 1) + (input.DurationSeconds ?? 0) * 1000),
    },
    AssumedRoleUser: { Arn: `arn:aws:sts::123456789012:assumed-role/app/${input.RoleSessionName}`, AssumedRoleId: "AROA1:x" },
  };
}

describe("createAssumeRoleFetcher", () => {
  it("asks for the grant's role, session name, external ID and duration", async () => {
    const inputs: AssumeRoleCommandInput[] = [];
    const fetch = createAssumeRoleFetcher(settings, { warn() {} }, async (input) => (inputs.push(input), granted(input)));
    const result = await fetch();
    expect(inputs).toEqual([{ RoleArn: settings.roleArn, RoleSessionName: "team-a.pod-1", DurationSeconds: 7200, ExternalId: "ext-1" }]);
    expect(result).toMatchObject({ ok: true, value: { assumedRoleArn: "arn:aws:sts::123456789012:assumed-role/app/team-a.pod-1" } });
  });

  it("retries at one hour when AWS refuses a longer session for a chained role, and keeps that from then on", async () => {
    const durations: Array<number | undefined> = [];
    const warnings: string[] = [];
    const fetch = createAssumeRoleFetcher(settings, { warn: (_fields, message) => warnings.push(message) }, async (input) => {
      durations.push(input.DurationSeconds);
      if ((input.DurationSeconds ?? 0) > 3600) throw chainingError;
      return granted(input);
    });
    expect((await fetch()).ok).toBe(true);
    expect((await fetch()).ok).toBe(true);
    expect(durations).toEqual([7200, 3600, 3600]);
    expect(warnings).toHaveLength(1);
  });

  it("reports a failure with its reason instead of throwing", async () => {
    const fetch = createAssumeRoleFetcher(settings, { warn() {} }, async () => {
      throw Object.assign(new Error("Rate exceeded"), { name: "Throttling", $metadata: { httpStatusCode: 400 } });
    });
    expect(await fetch()).toMatchObject({ ok: false, reason: "Throttled" });
  });

  it("refuses an answer without complete credentials", async () => {
    const fetch = createAssumeRoleFetcher(settings, { warn() {} }, async () => ({ $metadata: {}, Credentials: undefined }));
    expect(await fetch()).toMatchObject({ ok: false, reason: "BadResponse" });
  });
});
