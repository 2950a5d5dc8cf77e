// One refresher per credential kind the grant asks for. AWS is always
// refreshed (the Datadog proofs are signed with the assumed role); the
// Datadog kinds fetch through it, and each kind delivers its own file.
import type { AgentConfig } from "../shared/agent-config.js";
import { createAssumeRoleFetcher, type Notices } from "./aws/assume-role.js";
import type { StsEndpoints } from "./aws/endpoint.js";
import { roleSessionName } from "./aws/session-name.js";
import type { AwsSessionCredentials } from "./credentials.js";
import { createDatadogFetcher, type DatadogExchangeSettings } from "./datadog-exchange.js";
import type { CredentialFiles } from "./delivery/credential-files.js";
import { Refresher, type AnyRefresher, type AttemptReport } from "./refresh/refresher.js";
import { AWS_REFRESH_POLICY, DATADOG_REFRESH_POLICY, DEFAULT_BACKOFF_POLICY } from "./refresh/schedule.js";

export interface AgentRefreshers {
  readonly aws: Refresher<AwsSessionCredentials>;
  readonly datadogToken?: Refresher<string>;
  readonly datadogIntakeKey?: Refresher<string>;
}

export function createRefreshers(
  config: AgentConfig,
  endpoints: StsEndpoints,
  files: CredentialFiles,
  onAttempt: (report: AttemptReport<unknown>) => void,
  notices: Notices,
): AgentRefreshers {
  const dependents: AnyRefresher[] = [];
  const aws = new Refresher<AwsSessionCredentials>({
    kind: "aws",
    fetch: createAssumeRoleFetcher(
      {
        roleArn: config.aws.roleArn,
        region: config.aws.region,
        durationSeconds: config.aws.sessionDurationSeconds,
        ...(config.aws.externalId === undefined ? {} : { externalId: config.aws.externalId }),
        sessionName: roleSessionName(config.podNamespace, config.podName),
        endpoint: endpoints.assumeRoleUrl,
      },
      notices,
    ),
    refreshPolicy: AWS_REFRESH_POLICY,
    backoffPolicy: DEFAULT_BACKOFF_POLICY,
    ...(config.aws.exposeToWorkload ? { deliver: (held) => files.writeAwsCredentials(held.value, held.expiresAt) } : {}),
    onAttempt: (report) => {
      onAttempt(report);
      if (report.outcome.ok) retryWaitingOnAws(dependents);
    },
  });
  const exchange: DatadogExchangeSettings = {
    apiUrl: config.datadog.apiUrl,
    orgUuid: config.datadog.orgUuid,
    region: config.aws.region,
    stsUrl: endpoints.proofUrl,
  };
  // Intake keys carry no expiry: they are exchanged again on an interval, to pick up a rotated key.
  const intakeKeyPolicy = { ...DATADOG_REFRESH_POLICY, noExpiryRefreshMs: config.datadog.intakeKeyRefreshSeconds * 1000 };
  const datadog = (kind: "datadog_token" | "datadog_intake_key", write: (value: string) => Promise<void>) =>
    new Refresher<string>({
      kind,
      fetch: createDatadogFetcher(kind, aws, exchange),
      refreshPolicy: kind === "datadog_intake_key" ? intakeKeyPolicy : DATADOG_REFRESH_POLICY,
      backoffPolicy: DEFAULT_BACKOFF_POLICY,
      deliver: (held) => write(held.value),
      onAttempt,
    });
  const refreshers: AgentRefreshers = {
    aws,
    ...(config.datadog.apiToken ? { datadogToken: datadog("datadog_token", (v) => files.writeDatadogToken(v)) } : {}),
    ...(config.datadog.intakeKey ? { datadogIntakeKey: datadog("datadog_intake_key", (v) => files.writeDatadogIntakeKey(v)) } : {}),
  };
  dependents.push(...servedRefreshers(refreshers, false));
  return refreshers;
}

/**
 * Once AWS credentials are back, the Datadog refreshers that failed only for
 * want of them retry at once rather than at the end of their backoff. Those
 * waiting out Datadog's own Retry-After or errors keep waiting.
 */
export function retryWaitingOnAws(dependents: readonly AnyRefresher[]): void {
  for (const dependent of dependents) {
    const current = dependent.current();
    if (!current.ok && current.reason === "AwsUnavailable") void dependent.refresh();
  }
}

/** The refreshers whose credentials the workload receives: AWS only when the grant exposes it. */
export function servedRefreshers(refreshers: AgentRefreshers, exposeAws: boolean): AnyRefresher[] {
  const candidates: Array<AnyRefresher | undefined> = [exposeAws ? refreshers.aws : undefined, refreshers.datadogToken, refreshers.datadogIntakeKey];
  return candidates.filter((r) => r !== undefined);
}

export function allRefreshers(refreshers: AgentRefreshers): AnyRefresher[] {
  return servedRefreshers(refreshers, true);
}
