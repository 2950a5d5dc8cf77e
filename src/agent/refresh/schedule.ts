// When to refresh a credential and how long to wait after a failed attempt.
// Pure functions of the held credential, the clock value and a random number
// in [0, 1), so jitter and deadlines are unit-tested without timers.

/** A credential the agent holds: fetched at obtainedAt, unusable from expiresAt (epoch ms; Infinity: it has no expiry). */
export interface HeldTimes {
  readonly obtainedAt: number;
  readonly expiresAt: number;
}

export interface RefreshPolicy {
  /**
   * Validity consumers must still get when we hand a credential out. For AWS
   * this is 15 minutes: botocore refreshes inside 15 minutes (advisory) and
   * fails inside 10 (mandatory), so credentials handed out with less make it
   * refresh, or fail, at once.
   */
  readonly minRemainingMs: number;
  /**
   * Lifetimes too short to keep minRemainingMs (a 15-minute session, test
   * tokens of seconds) refresh once this fraction of the lifetime is left.
   */
  readonly shortLifetimeRemainingFraction: number;
  /**
   * Extra lead before that margin, drawn between half and all of this
   * fraction of the lifetime, so many pods started together spread their
   * refreshes and we always refresh before the consumers' own window opens.
   */
  readonly jitterFraction: number;
  readonly maxJitterMs: number;
  /** A credential this close to expiry is no longer handed out (capped at a twentieth of its lifetime). */
  readonly expiryGuardMs: number;
  /**
   * How often a credential with no expiry is exchanged again (Datadog's
   * intake keys: the Datadog Agent re-exchanges its key every 60 minutes, so
   * a rotated key is picked up), jitter drawn as for a lifetime of this length.
   */
  readonly noExpiryRefreshMs: number;
}

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  /**
   * With a credential held, retries are also capped at this fraction of its
   * lifetime so several attempts fit before it expires (short test lifetimes
   * retry in well under a second, hour-long sessions every minute at most).
   */
  readonly lifetimeFraction: number;
  /** Retry-After is honoured up to this long; beyond it a broken header would silence us for hours. */
  readonly maxRetryAfterMs: number;
  /**
   * While a credential is still held, a server-requested delay never pushes
   * the next attempt later than this long before it expires (capped at a
   * tenth of its lifetime), so one throttled answer cannot leave an expired
   * credential in the file: the attempt still has time to complete.
   */
  readonly retryBeforeExpiryMs: number;
}

const MINUTE = 60_000;

export const AWS_REFRESH_POLICY: RefreshPolicy = {
  minRemainingMs: 15 * MINUTE,
  shortLifetimeRemainingFraction: 0.5,
  jitterFraction: 0.1,
  maxJitterMs: 5 * MINUTE,
  expiryGuardMs: 5_000,
  noExpiryRefreshMs: 60 * MINUTE,
};

export const DATADOG_REFRESH_POLICY: RefreshPolicy = {
  minRemainingMs: 5 * MINUTE,
  shortLifetimeRemainingFraction: 0.5,
  jitterFraction: 0.1,
  maxJitterMs: 2 * MINUTE,
  expiryGuardMs: 5_000,
  noExpiryRefreshMs: 60 * MINUTE,
};

export const DEFAULT_BACKOFF_POLICY: BackoffPolicy = {
  baseMs: 500,
  maxMs: MINUTE,
  lifetimeFraction: 0.1,
  maxRetryAfterMs: 15 * MINUTE,
  retryBeforeExpiryMs: 30_000,
};

export function lifetimeMs(held: HeldTimes): number {
  return Math.max(0, held.expiresAt - held.obtainedAt);
}

/** How much validity is left when we refresh, before jitter: the policy's minimum, or a fraction of short lifetimes. */
export function refreshMarginMs(lifetime: number, policy: RefreshPolicy): number {
  return Math.min(policy.minRemainingMs, lifetime * policy.shortLifetimeRemainingFraction);
}

/** The moment to refresh a credential just obtained. */
export function refreshDeadline(held: HeldTimes, policy: RefreshPolicy, random: () => number): number {
  if (held.expiresAt === Number.POSITIVE_INFINITY) {
    const jitterSpan = Math.min(policy.maxJitterMs, policy.noExpiryRefreshMs * policy.jitterFraction);
    return held.obtainedAt + policy.noExpiryRefreshMs - jitterSpan * (0.5 + 0.5 * random());
  }
  const lifetime = lifetimeMs(held);
  const jitterSpan = Math.min(policy.maxJitterMs, lifetime * policy.jitterFraction);
  const lead = jitterSpan * (0.5 + 0.5 * random());
  return held.expiresAt - refreshMarginMs(lifetime, policy) - lead;
}

/** Whether a held credential may still be handed out at `now`: never once expired, nor in its last moments. */
export function isServable(held: HeldTimes, now: number, policy: RefreshPolicy): boolean {
  const guard = Math.min(policy.expiryGuardMs, lifetimeMs(held) / 20);
  return held.expiresAt - now > guard;
}

/**
 * Wait before retry number `failures` (1 for the first failure): capped
 * exponential backoff with "equal jitter" (half fixed, half random, so a retry
 * never comes immediately), and never sooner than the server's Retry-After —
 * unless honouring it would let the held credential expire first: then the
 * last attempt comes retryBeforeExpiryMs before its expiry. Once that last
 * attempt has been made, there is nothing left to save and Retry-After rules again.
 */
export function retryDelayMs(
  failures: number,
  policy: BackoffPolicy,
  random: () => number,
  context: { readonly retryAfterMs?: number; readonly held?: HeldTimes; readonly now?: number } = {},
): number {
  const heldLifetime = context.held === undefined ? undefined : lifetimeMs(context.held);
  const cap =
    heldLifetime === undefined ? policy.maxMs : Math.min(policy.maxMs, Math.max(policy.baseMs, heldLifetime * policy.lifetimeFraction));
  const ceiling = Math.min(cap, policy.baseMs * 2 ** Math.max(0, failures - 1));
  const delay = ceiling / 2 + (ceiling / 2) * random();
  if (context.retryAfterMs === undefined) return delay;
  const requested = Math.max(delay, Math.min(context.retryAfterMs, policy.maxRetryAfterMs));
  if (context.held === undefined || context.now === undefined) return requested;
  const latest = latestRetryAt(context.held, policy);
  if (context.now > latest) return requested;
  return Math.min(requested, Math.max(delay, latest - context.now));
}

/** The latest moment a retry may come while a credential is held: its expiry less the guard. */
export function latestRetryAt(held: HeldTimes, policy: BackoffPolicy): number {
  return held.expiresAt - Math.min(policy.retryBeforeExpiryMs, lifetimeMs(held) / 10);
}
