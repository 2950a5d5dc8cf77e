// The test-control API's shapes (/_test/...), shared by the service and the
// harness that drives it from tests.
import type { OrgMapping } from "./identities.js";
import type { RejectionCode } from "./rejections.js";

export type { OrgMapping } from "./identities.js";

export type FaultEndpoint = "delegated-token" | "intake-key";

/** What the token endpoints do instead of their job, for client and refresh tests. */
export interface Fault {
  /** Which endpoints misbehave; default both. */
  readonly endpoints?: readonly FaultEndpoint[];
  /** Answer with this status (and `body`, default a JSON:API error) instead of verifying the proof. */
  readonly status?: number;
  /** Raw body to answer with; with no status, a 200 carrying it (malformed-response tests). */
  readonly body?: string;
  /** Retry-After header value, verbatim (seconds or an HTTP-date). */
  readonly retryAfter?: string;
  /** Wait this long before answering (timeouts); alone, the request is then served normally. */
  readonly delayMs?: number;
  /** Apply to this many requests, then clear itself; default until cleared. */
  readonly times?: number;
}

export interface Ttls {
  readonly tokenTtlSeconds?: number;
  readonly intakeKeyTtlSeconds?: number;
}

export interface ServiceStats {
  readonly tokensIssued: number;
  readonly intakeKeysIssued: number;
  readonly rejected: Partial<Record<RejectionCode, number>>;
  /** Most recent first, at most 20: code and message of each refused proof. */
  readonly recentRejections: ReadonlyArray<{ readonly code: RejectionCode; readonly message: string }>;
  readonly faultsApplied: number;
  readonly bearerAccepted: number;
  readonly bearerRefused: number;
  readonly apiKeyAccepted: number;
  readonly apiKeyRefused: number;
  readonly tokenTtlSeconds: number;
  readonly intakeKeyTtlSeconds: number;
  readonly orgs: readonly OrgMapping[];
}
