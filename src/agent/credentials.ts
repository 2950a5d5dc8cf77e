// What the agent fetches and hands out, and how a fetch can fail. Failures
// are values: a machine reason (also the `result` label of the refresh
// metric) and a human message that says what to do.
import type { ExpirySource } from "./datadog/expiry.js";
import type { DatadogFailureReason } from "./datadog/failures.js";
import type { CredentialKind } from "../shared/names.js";

export type { CredentialKind };

export interface AwsSessionCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** The assumed-role ARN AWS reports (arn:aws:sts::<account>:assumed-role/<role>/<session>). */
  readonly assumedRoleArn: string;
}

/** The remote failures (shared by STS and Datadog) plus the agent's own. */
export type FailureReason =
  | DatadogFailureReason
  | "InvalidRequest"
  | "NoBaseIdentity"
  | "AwsUnavailable"
  | "DeliveryFailed"
  | "Pending"
  | "Internal";

export interface Failure {
  readonly ok: false;
  readonly reason: FailureReason;
  readonly message: string;
  readonly retryAfterMs?: number;
}

/** Where a credential's expiry comes from (see datadog/expiry.ts). */
export type { ExpirySource };

/** A fetched credential: its value and when it stops working (epoch milliseconds; Infinity when it has no expiry). */
export interface Fetched<T> {
  readonly ok: true;
  readonly value: T;
  readonly expiresAt: number;
  /** Default `reported`. */
  readonly expiry?: ExpirySource;
  /** Why the expiry was assumed, for the agent's warning. */
  readonly expiryNote?: string;
}

export type FetchResult<T> = Fetched<T> | Failure;

export function failure(reason: FailureReason, message: string, retryAfterMs?: number): Failure {
  return retryAfterMs === undefined ? { ok: false, reason, message } : { ok: false, reason, message, retryAfterMs };
}

/** The metric label for a refresh outcome: "success" or the failure reason in snake_case. */
export function refreshResultLabel(outcome: { ok: true } | Failure): string {
  return outcome.ok ? "success" : outcome.reason.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
