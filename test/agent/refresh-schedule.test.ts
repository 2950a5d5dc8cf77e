import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AWS_REFRESH_POLICY,
  DATADOG_REFRESH_POLICY,
  DEFAULT_BACKOFF_POLICY,
  isServable,
  latestRetryAt,
  refreshDeadline,
  retryDelayMs,
} from "../../src/agent/refresh/schedule.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const t0 = Date.UTC(2025, 0, 1);
const held = (lifetimeMs: number) => ({ obtainedAt: t0, expiresAt: t0 + lifetimeMs });
const always = (value: number) => () => value;

describe("refreshDeadline", () => {
  it("exchanges a credential with no expiry again within the hour, as the Datadog Agent does its intake key", () => {
    const forever = { obtainedAt: t0, expiresAt: Number.POSITIVE_INFINITY };
    const deadlines = [0, 0.5, 0.999].map((random) => refreshDeadline(forever, DATADOG_REFRESH_POLICY, always(random)));
    for (const deadline of deadlines) {
      expect(deadline - t0).toBeLessThanOrEqual(HOUR);
      expect(deadline - t0).toBeGreaterThanOrEqual(HOUR - 2 * MINUTE);
    }
    expect(new Set(deadlines).size).toBe(3);
  });

  it("keeps serving a credential with no expiry however long it has been held", () => {
    expect(isServable({ obtainedAt: t0, expiresAt: Number.POSITIVE_INFINITY }, t0 + 1000 * HOUR, DATADOG_REFRESH_POLICY)).toBe(true);
  });

  it("keeps at least 15 minutes of validity on AWS credentials from a one-hour session", () => {
    for (const random of [0, 0.5, 0.999]) {
      const deadline = refreshDeadline(held(HOUR), AWS_REFRESH_POLICY, always(random));
      expect(t0 + HOUR - deadline).toBeGreaterThan(15 * MINUTE);
    }
  });

  it("refreshes before botocore's 15-minute advisory window opens, by at least half the jitter span", () => {
    const deadline = refreshDeadline(held(HOUR), AWS_REFRESH_POLICY, always(0));
    expect(t0 + HOUR - deadline).toBeGreaterThanOrEqual(15 * MINUTE + 2.5 * MINUTE);
  });

  it("refreshes a session too short for the 15-minute margin once about half its lifetime is left", () => {
    const deadline = refreshDeadline(held(15 * MINUTE), AWS_REFRESH_POLICY, always(0));
    const remaining = t0 + 15 * MINUTE - deadline;
    expect(remaining).toBeGreaterThan(7.5 * MINUTE);
    expect(remaining).toBeLessThanOrEqual(7.5 * MINUTE + 1.5 * MINUTE);
  });

  it("spreads the refresh moment with the random source", () => {
    const early = refreshDeadline(held(HOUR), AWS_REFRESH_POLICY, always(0.999));
    const late = refreshDeadline(held(HOUR), AWS_REFRESH_POLICY, always(0));
    expect(late - early).toBeGreaterThan(2 * MINUTE);
  });

  it("always falls strictly inside the credential's lifetime, whatever the lifetime and the jitter", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 * HOUR }), fc.double({ min: 0, max: 0.999_999, noNaN: true }), (lifetime, random) => {
        for (const policy of [AWS_REFRESH_POLICY, DATADOG_REFRESH_POLICY]) {
          const deadline = refreshDeadline(held(lifetime), policy, always(random));
          expect(deadline).toBeGreaterThan(t0);
          expect(deadline).toBeLessThan(t0 + lifetime);
        }
      }),
    );
  });
});

describe("isServable", () => {
  it("serves a credential well before its expiry", () => {
    expect(isServable(held(HOUR), t0 + 50 * MINUTE, AWS_REFRESH_POLICY)).toBe(true);
  });

  it("never serves a credential at or after its expiry", () => {
    expect(isServable(held(HOUR), t0 + HOUR, AWS_REFRESH_POLICY)).toBe(false);
    expect(isServable(held(HOUR), t0 + 2 * HOUR, AWS_REFRESH_POLICY)).toBe(false);
  });

  it("stops serving a credential in its last seconds, when it would expire in the consumer's hands", () => {
    expect(isServable(held(HOUR), t0 + HOUR - 4_000, AWS_REFRESH_POLICY)).toBe(false);
  });

  it("scales that guard down for lifetimes of a few seconds", () => {
    expect(isServable(held(2_000), t0 + 1_800, DATADOG_REFRESH_POLICY)).toBe(true);
    expect(isServable(held(2_000), t0 + 1_950, DATADOG_REFRESH_POLICY)).toBe(false);
  });
});

describe("retryDelayMs", () => {
  const policy = DEFAULT_BACKOFF_POLICY;

  it("doubles the ceiling with each consecutive failure", () => {
    const delays = [1, 2, 3, 4].map((failures) => retryDelayMs(failures, policy, always(0.999_999)));
    expect(delays.map((d) => Math.round(d))).toEqual([500, 1000, 2000, 4000]);
  });

  it("waits at least half the ceiling, so a retry never comes at once", () => {
    expect(retryDelayMs(3, policy, always(0))).toBe(1000);
  });

  it("never waits longer than the cap", () => {
    expect(retryDelayMs(40, policy, always(0.999_999))).toBeLessThanOrEqual(policy.maxMs);
  });

  it("caps retries at a tenth of a short-lived held credential's lifetime, so several fit before it expires", () => {
    expect(retryDelayMs(10, policy, always(0.999_999), { held: held(6_000), now: t0 })).toBeLessThanOrEqual(600);
  });

  it("honours Retry-After when it asks for longer than the backoff", () => {
    expect(retryDelayMs(1, policy, always(0.5), { retryAfterMs: 7_000 })).toBe(7_000);
  });

  it("keeps the backoff when Retry-After asks for less", () => {
    expect(retryDelayMs(5, policy, always(0), { retryAfterMs: 100 })).toBe(4_000);
  });

  it("caps a Retry-After that would silence the agent for hours", () => {
    expect(retryDelayMs(1, policy, always(0), { retryAfterMs: 24 * HOUR })).toBe(policy.maxRetryAfterMs);
  });

  it("retries before a held 15-minute token expires even when Retry-After asks for longer", () => {
    // Refreshed with about 6 minutes left, throttled for 10: the token would expire in the file.
    const token = held(15 * MINUTE);
    const now = t0 + 9 * MINUTE;
    const delay = retryDelayMs(1, policy, always(0.5), { retryAfterMs: 10 * MINUTE, held: token, now });
    expect(now + delay).toBe(token.expiresAt - policy.retryBeforeExpiryMs);
  });

  it("honours a Retry-After that ends before the held credential's expiry less the guard", () => {
    const token = held(15 * MINUTE);
    expect(retryDelayMs(1, policy, always(0.5), { retryAfterMs: 2 * MINUTE, held: token, now: t0 + 9 * MINUTE })).toBe(2 * MINUTE);
  });

  it("honours Retry-After again once the last attempt before the held credential's expiry has failed", () => {
    const token = held(15 * MINUTE);
    const afterLastChance = token.expiresAt - policy.retryBeforeExpiryMs + 50;
    expect(retryDelayMs(2, policy, always(0.5), { retryAfterMs: 2 * MINUTE, held: token, now: afterLastChance })).toBe(2 * MINUTE);
  });

  it("keeps the guard within a tenth of a short lifetime", () => {
    const token = held(10_000);
    const delay = retryDelayMs(1, policy, always(0), { retryAfterMs: MINUTE, held: token, now: t0 + 5_000 });
    expect(t0 + 5_000 + delay).toBe(token.expiresAt - 1_000);
  });

  it("never schedules a server-requested retry past the held credential's expiry less the guard", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 60_000, max: 12 * HOUR }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.double({ min: 0, max: 0.9, noNaN: true }),
        fc.integer({ min: 0, max: 48 * HOUR }),
        (failures, lifetime, random, elapsedFraction, retryAfterMs) => {
          const token = held(lifetime);
          const now = t0 + Math.floor(lifetime * elapsedFraction);
          const withoutServer = retryDelayMs(failures, policy, always(random), { held: token, now });
          const delay = retryDelayMs(failures, policy, always(random), { retryAfterMs, held: token, now });
          // The server may delay us up to the guard, never beyond; our own backoff is the floor.
          expect(now + delay).toBeLessThanOrEqual(Math.max(now + withoutServer, latestRetryAt(token, policy)));
        },
      ),
    );
  });
});
