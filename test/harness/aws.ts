// AWS sessions for tests, from the moto emulator's base identity.
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import type { MotoServer } from "./moto.js";

export interface SessionCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

/** AssumeRole into one of moto's roles with the base credentials, as the agent does. */
export async function assumeRole(moto: MotoServer, role: string, sessionName = "ddcred-test-session"): Promise<SessionCredentials> {
  const sts = new STSClient({ endpoint: moto.url, region: "us-east-1", credentials: moto.baseCredentials, maxAttempts: 1 });
  try {
    const { Credentials: c } = await sts.send(new AssumeRoleCommand({ RoleArn: moto.roleArn(role), RoleSessionName: sessionName }));
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error("AssumeRole returned no credentials");
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
  } finally {
    sts.destroy();
  }
}

/** The env a process needs to act as this session (what datadog-api-client's AWSAuth reads). */
export function awsEnv(credentials: SessionCredentials): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_SESSION_TOKEN: credentials.sessionToken,
  };
}
