// The test-control API's shapes (/_test/...), shared by the service and the
// harness that drives it from tests.
import type { OrgMapping } from "./identities.js";
import type { RejectionCode } from "./rejections.js";

export type { OrgMapping } from "./identities.js";

/** The token endpoints, and the bearer-protected users route (a refusal a consumer must survive). */
export type FaultEndpoint = "delegated-token" | "intake-key" | "users";

/** What the token endpoints do instead of their job, for client and refresh tests. */
export interface Fault {
  /** Which endpoints misbehave; default the two token endpoints. */
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
  /** How long each org's intake key lives before it is rotated. */
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
  /** Of the refused, those made with a token this service issued that had expired. */
  readonly bearerExpired: number;
  readonly apiKeyAccepted: number;
  readonly apiKeyRefused: number;
  readonly tokenTtlSeconds: number;
  readonly intakeKeyTtlSeconds: number;
  readonly orgs: readonly OrgMapping[];
}
