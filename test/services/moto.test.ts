// The STS emulator checks signatures like AWS does, so the proofs the
// Datadog service replays against it are really verified.
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMoto, type MotoServer } from "../harness/moto.js";

describe("moto STS emulator", () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await startMoto({ roles: ["ddcred-test", "team/pathed-role"] });
  });
  afterAll(async () => {
    await moto?.stop();
  });

  const sts = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
    new STSClient({ endpoint: moto.url, region: "us-east-1", credentials, maxAttempts: 1 });

  it("identifies the base IAM user from its access key", async () => {
    const identity = await sts(moto.baseCredentials).send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toBe(`arn:aws:iam::${moto.accountId}:user/ddcred-base`);
  });

  it("rejects a request signed with the wrong secret", async () => {
    const forged = sts({ accessKeyId: moto.baseCredentials.accessKeyId, secretAccessKey: "not-the-secret" });
    await expect(forged.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ name: "SignatureDoesNotMatch" });
  });

  it("lets the base identity assume a role and identifies the session as that role", async () => {
    const assumed = await sts(moto.baseCredentials).send(
      new AssumeRoleCommand({ RoleArn: moto.roleArn("team/pathed-role"), RoleSessionName: "pod-a" }),
    );
    const credentials = assumed.Credentials!;
    const identity = await sts({
      accessKeyId: credentials.AccessKeyId!,
      secretAccessKey: credentials.SecretAccessKey!,
      sessionToken: credentials.SessionToken!,
    }).send(new GetCallerIdentityCommand({}));
    expect(moto.roleArn("team/pathed-role")).toBe(`arn:aws:iam::${moto.accountId}:role/team/pathed-role`);
    expect(identity.Arn).toBe(`arn:aws:sts::${moto.accountId}:assumed-role/pathed-role/pod-a`);
  });
});
