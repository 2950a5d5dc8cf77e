// AssumeRole into the grant's role from the agent container's own base
// identity (the SDK's standard chain: env, IRSA web identity, EKS Pod
// Identity, instance profile). The SDK modules load on first use: a config
// error exits before paying for them.
import type { AssumeRoleCommandInput, AssumeRoleCommandOutput } from "@aws-sdk/client-sts";
import { failure, type AwsSessionCredentials, type FetchResult } from "../credentials.js";
import { isRoleChainingLimit, stsFailure } from "./sts-errors.js";

export interface AssumeRoleSettings {
  readonly roleArn: string;
  readonly region: string;
  readonly durationSeconds: number;
  readonly externalId?: string;
  readonly sessionName: string;
  /** Regional (or configured) STS endpoint, from resolveStsEndpoint. */
  readonly endpoint: string;
  readonly timeoutMs?: number;
}

export interface Notices {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** AWS caps sessions of a role assumed with role-session credentials (IRSA, Pod Identity) at an hour. */
export const ROLE_CHAINING_MAX_SECONDS = 3600;
const DEFAULT_TIMEOUT_MS = 10_000;

type AssumeRole = (input: AssumeRoleCommandInput) => Promise<AssumeRoleCommandOutput>;

export function createAssumeRoleFetcher(
  settings: AssumeRoleSettings,
  notices: Notices,
  assumeRole?: AssumeRole,
): () => Promise<FetchResult<AwsSessionCredentials>> {
  let client: Promise<AssumeRole> | undefined = assumeRole && Promise.resolve(assumeRole);
  let durationSeconds = settings.durationSeconds;
  return async () => {
    const call = await (client ??= createStsCaller(settings));
    try {
      return toFetched(await call(assumeRoleInput(settings, durationSeconds)));
    } catch (error) {
      if (!isRoleChainingLimit(error) || durationSeconds <= ROLE_CHAINING_MAX_SECONDS) return stsFailure(error, `AssumeRole ${settings.roleArn}`);
      notices.warn(
        { requestedSeconds: durationSeconds, grantedSeconds: ROLE_CHAINING_MAX_SECONDS },
        "AWS caps role-chained sessions at one hour (the base identity is itself a role session); using 3600s from now on",
      );
      durationSeconds = ROLE_CHAINING_MAX_SECONDS;
      try {
        return toFetched(await call(assumeRoleInput(settings, durationSeconds)));
      } catch (retryError) {
        return stsFailure(retryError, `AssumeRole ${settings.roleArn}`);
      }
    }
  };
}

export function assumeRoleInput(settings: AssumeRoleSettings, durationSeconds: number): AssumeRoleCommandInput {
  return {
    RoleArn: settings.roleArn,
    RoleSessionName: settings.sessionName,
    DurationSeconds: durationSeconds,
    ...(settings.externalId === undefined ? {} : { ExternalId: settings.externalId }),
  };
}

function toFetched(output: AssumeRoleCommandOutput): FetchResult<AwsSessionCredentials> {
  const c = output.Credentials;
  const arn = output.AssumedRoleUser?.Arn;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !(c.Expiration instanceof Date) || !arn) {
    return failure("BadResponse", "AssumeRole answered without complete credentials (key, secret, session token, expiration, assumed-role ARN)");
  }
  return {
    ok: true,
    value: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, assumedRoleArn: arn },
    expiresAt: c.Expiration.getTime(),
  };
}

async function createStsCaller(settings: AssumeRoleSettings): Promise<AssumeRole> {
  const [{ STSClient, AssumeRoleCommand }, { fromNodeProviderChain }] = await Promise.all([
    import("@aws-sdk/client-sts"),
    import("@aws-sdk/credential-providers"),
  ]);
  const timeoutMs = settings.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = new STSClient({
    region: settings.region,
    endpoint: settings.endpoint,
    credentials: fromNodeProviderChain({ clientConfig: { region: settings.region } }),
    // The refresher owns retries (backoff with jitter, Retry-After, keeping
    // held credentials); SDK retries underneath would only stretch an attempt.
    maxAttempts: 1,
    requestHandler: { connectionTimeout: Math.min(3_000, timeoutMs), requestTimeout: timeoutMs },
  });
  return (input) => client.send(new AssumeRoleCommand(input));
}
