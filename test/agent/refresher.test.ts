import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { failure, type FetchResult } from "../../src/agent/credentials.js";
import { Refresher, type AttemptReport } from "../../src/agent/refresh/refresher.js";
import { retryWaitingOnAws } from "../../src/agent/refreshers.js";
import { DATADOG_REFRESH_POLICY, DEFAULT_BACKOFF_POLICY } from "../../src/agent/refresh/schedule.js";
import { FakeClock, settle } from "./fake-clock.js";

const MINUTE = 60_000;

/** A fetch the test answers by hand, one call at a time. */
function manualFetch<T>() {
  const pending: Array<(result: FetchResult<T>) => void> = [];
  let calls = 0;
  return {
    fetch: () =>
      new Promise<FetchResult<T>>((resolve) => {
        calls += 1;
        pending.push(resolve);
      }),
    get calls() {
      return calls;
    },
    answer(result: FetchResult<T>) {
      const next = pending.shift();
      if (next === undefined) throw new Error("no fetch in flight");
      next(result);
    },
  };
}

function refresher(clock: FakeClock, fetch: () => Promise<FetchResult<string>>, extra: { deliver?: () => Promise<void>; reports?: AttemptReport<string>[] } = {}) {
  return new Refresher<string>({
    kind: "datadog_token",
    fetch,
    refreshPolicy: DATADOG_REFRESH_POLICY,
    backoffPolicy: DEFAULT_BACKOFF_POLICY,
    clock,
    ...(extra.deliver ? { deliver: extra.deliver } : {}),
    onAttempt: (report) => extra.reports?.push(report),
  });
}

describe("Refresher", () => {
  it("shares one fetch among every caller that arrives while it is in flight", async () => {
    const clock = new FakeClock();
    const source = manualFetch<string>();
    const tokens = refresher(clock, source.fetch);
    void tokens.refresh();
    const callers = [tokens.get(), tokens.get(), tokens.get()];
    source.answer({ ok: true, value: "t1", expiresAt: clock.now() + 10 * MINUTE });
    const answers = await Promise.all(callers);
    expect(source.calls).toBe(1);
    expect(answers.map((a) => a.ok && a.held.value)).toEqual(["t1", "t1", "t1"]);
  });

  it("keeps serving the held credential while a background refresh is in flight", async () => {
    const clock = new FakeClock();
    const source = manualFetch<string>();
    const tokens = refresher(clock, source.fetch);
    void tokens.refresh();
    source.answer({ ok: true, value: "t1", expiresAt: clock.now() + 10 * MINUTE });
    await settle();
    await clock.advanceTo(clock.nextTimerAt()!);
    expect(source.calls).toBe(2);
    const during = await tokens.get();
    expect(during.ok && during.held.value).toBe("t1");
  });

  it("refreshes on its own before expiry and then serves the new credential", async () => {
    const clock = new FakeClock();
    const source = manualFetch<string>();
    const tokens = refresher(clock, source.fetch);
    void tokens.refresh();
    const expiresAt = clock.now() + 10 * MINUTE;
    source.answer({ ok: true, value: "t1", expiresAt });
    await settle();
    expect(clock.nextTimerAt()).toBeLessThan(expiresAt - 5 * MINUTE);
    await clock.advanceTo(clock.nextTimerAt()!);
    source.answer({ ok: true, value: "t2", expiresAt: clock.now() + 10 * MINUTE });
    await settle();
    const after = tokens.current();
    expect(after.ok && after.held.value).toBe("t2");
  });

  it("keeps serving what it holds while refreshes fail, until that truly expires", async () => {
    const clock = new FakeClock();
    const expiresAt = clock.now() + 10 * MINUTE;
    let calls = 0;
    const tokens = refresher(clock, async () =>
      calls++ === 0 ? { ok: true, value: "t1", expiresAt } : failure("ServerError", "Datadog answered 503"),
    );
    await tokens.refresh();
    await clock.advanceTo(expiresAt - 10_000);
    expect(tokens.current().ok).toBe(true);
    expect(tokens.consecutiveFailures).toBeGreaterThan(3);
    await clock.advanceTo(expiresAt);
    const after = tokens.current();
    expect(after.ok).toBe(false);
    expect(!after.ok && after.message).toMatch(/expired and refreshing them fails: Datadog answered 503/);
    tokens.stop();
  });

  it("says why it has nothing to serve when the first fetch failed", async () => {
    const clock = new FakeClock();
    const tokens = refresher(clock, async () => failure("Forbidden", "the role is not mapped to the org"));
    await tokens.refresh();
    const current = await tokens.get();
    expect(current).toMatchObject({ ok: false, reason: "Forbidden" });
    expect(!current.ok && current.message).toMatch(/no datadog_token credentials yet: the role is not mapped to the org; next attempt in \d+s/);
    tokens.stop();
  });

  it("backs off further after each consecutive failure", async () => {
    const clock = new FakeClock();
    clock.randomValue = 0;
    const reports: AttemptReport<string>[] = [];
    const tokens = refresher(clock, async () => failure("ServerError", "503"), { reports });
    await tokens.refresh();
    for (let i = 0; i < 4; i++) await clock.advanceTo(clock.nextTimerAt()!);
    const waits = reports.map((r, i) => r.nextAttemptAt - (i === 0 ? Date.UTC(2025, 0, 1) : reports[i - 1]!.nextAttemptAt));
    expect(waits).toEqual([250, 500, 1000, 2000, 4000]);
    tokens.stop();
  });

  it("waits at least as long as Retry-After asks", async () => {
    const clock = new FakeClock();
    const reports: AttemptReport<string>[] = [];
    const tokens = refresher(clock, async () => failure("Throttled", "429", 30_000), { reports });
    await tokens.refresh();
    expect(reports[0]!.nextAttemptAt - clock.now()).toBeGreaterThanOrEqual(30_000);
    tokens.stop();
  });

  it("retries before the held token expires when a throttled refresh asks to wait past its expiry", async () => {
    const clock = new FakeClock();
    const reports: AttemptReport<string>[] = [];
    let calls = 0;
    const tokens = refresher(
      clock,
      async () => {
        calls += 1;
        return calls === 1 ? { ok: true, value: "t1", expiresAt: clock.now() + 15 * MINUTE } : failure("Throttled", "429", 10 * MINUTE);
      },
      { reports },
    );
    await tokens.refresh();
    const expiresAt = clock.now() + 15 * MINUTE;
    await clock.advanceTo(reports[0]!.nextAttemptAt);
    expect(reports[1]!.outcome).toMatchObject({ ok: false, reason: "Throttled" });
    expect(reports[1]!.nextAttemptAt).toBeLessThanOrEqual(expiresAt - DEFAULT_BACKOFF_POLICY.retryBeforeExpiryMs);
    tokens.stop();
  });

  it("counts a failed delivery as a failed refresh and retries it", async () => {
    const clock = new FakeClock();
    const reports: AttemptReport<string>[] = [];
    let deliveries = 0;
    const tokens = refresher(clock, async () => ({ ok: true, value: "t", expiresAt: clock.now() + 10 * MINUTE }), {
      reports,
      deliver: async () => {
        deliveries += 1;
        if (deliveries === 1) throw new Error("ENOSPC: no space left on device");
      },
    });
    await tokens.refresh();
    expect(reports[0]!.outcome).toMatchObject({ ok: false, reason: "DeliveryFailed" });
    expect(reports[0]!.nextAttemptAt - clock.now()).toBeLessThan(MINUTE);
    await clock.advanceTo(reports[0]!.nextAttemptAt);
    expect(reports[1]!.outcome.ok).toBe(true);
    tokens.stop();
  });

  it("holds a new credential only once it is delivered, so readiness never runs ahead of the files", async () => {
    const clock = new FakeClock();
    const source = manualFetch<string>();
    let releaseDelivery = () => {};
    const tokens = refresher(clock, source.fetch, { deliver: () => new Promise<void>((resolve) => (releaseDelivery = resolve)) });
    const first = tokens.refresh();
    source.answer({ ok: true, value: "t1", expiresAt: clock.now() + 10 * MINUTE });
    await settle();
    expect(tokens.current().ok).toBe(false);
    releaseDelivery();
    await first;
    expect(tokens.current()).toMatchObject({ ok: true, held: { value: "t1" } });
    tokens.stop();
  });

  it("keeps serving the credential it delivered when delivering a newer one fails", async () => {
    const clock = new FakeClock();
    let deliveries = 0;
    let fetches = 0;
    const tokens = refresher(clock, async () => ({ ok: true, value: `t${++fetches}`, expiresAt: clock.now() + 10 * MINUTE }), {
      deliver: async () => {
        deliveries += 1;
        if (deliveries === 2) throw new Error("ENOSPC: no space left on device");
      },
    });
    await tokens.refresh();
    await tokens.refresh();
    expect(tokens.current()).toMatchObject({ ok: true, held: { value: "t1" } });
    tokens.stop();
  });

  it("rejects a credential that arrives already expired", async () => {
    const clock = new FakeClock();
    const tokens = refresher(clock, async () => ({ ok: true, value: "stale", expiresAt: clock.now() - 1 }));
    await tokens.refresh();
    expect(tokens.current()).toMatchObject({ ok: false, reason: "BadResponse" });
    tokens.stop();
  });

  it("schedules nothing more once stopped", async () => {
    const clock = new FakeClock();
    const tokens = refresher(clock, async () => ({ ok: true, value: "t", expiresAt: clock.now() + 10 * MINUTE }));
    await tokens.refresh();
    tokens.stop();
    expect(clock.nextTimerAt()).toBeUndefined();
  });

  it("never hands out an expired credential, whatever mix of successes, failures and lifetimes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ ok: fc.boolean(), lifetimeMs: fc.integer({ min: 1_000, max: 30 * MINUTE }), stepMs: fc.integer({ min: 0, max: 20 * MINUTE }) }),
          { minLength: 1, maxLength: 25 },
        ),
        async (script) => {
          const clock = new FakeClock();
          let call = 0;
          const tokens = refresher(clock, async () => {
            const step = script[call++ % script.length]!;
            return step.ok ? { ok: true, value: `t${call}`, expiresAt: clock.now() + step.lifetimeMs } : failure("ServerError", "503");
          });
          await tokens.refresh();
          for (const step of script) {
            await clock.advance(step.stepMs);
            const current = tokens.current();
            if (current.ok) expect(current.held.expiresAt).toBeGreaterThan(clock.now());
          }
          tokens.stop();
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("retryWaitingOnAws", () => {
  it("retries at once a Datadog refresher that failed only for want of AWS credentials", async () => {
    const clock = new FakeClock();
    let calls = 0;
    const tokens = refresher(clock, async () =>
      ++calls === 1 ? failure("AwsUnavailable", "no valid AWS credentials") : { ok: true, value: "t", expiresAt: clock.now() + 10 * MINUTE },
    );
    await tokens.refresh();
    retryWaitingOnAws([tokens]);
    await settle();
    expect(calls).toBe(2);
    expect(tokens.current().ok).toBe(true);
    tokens.stop();
  });

  it("leaves alone a refresher waiting out Datadog's own Retry-After", async () => {
    const clock = new FakeClock();
    let calls = 0;
    const tokens = refresher(clock, async () => (calls++, failure("Throttled", "429", 30_000)));
    await tokens.refresh();
    retryWaitingOnAws([tokens]);
    await settle();
    expect(calls).toBe(1);
    tokens.stop();
  });
});
