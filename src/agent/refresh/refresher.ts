// One refresher per credential kind, after aws-sdk-js-v3's memoize-chain:
// a single in-flight fetch that callers without valid credentials wait on,
// while valid ones keep being served during a background refresh. Unlike the
// SDK, refreshes run on a timer (consumers read files, not only this API),
// failures back off instead of retrying on every call, and the held
// credential is kept until it truly expires.
import { failure, type ExpirySource, type Failure, type FetchResult, type CredentialKind } from "../credentials.js";
import {
  isServable,
  refreshDeadline,
  retryDelayMs,
  type BackoffPolicy,
  type HeldTimes,
  type RefreshPolicy,
} from "./schedule.js";

export interface Held<T> extends HeldTimes {
  readonly value: T;
  readonly expiry: ExpirySource;
  readonly expiryNote?: string;
}

export type Current<T> = { readonly ok: true; readonly held: Held<T> } | Failure;

export interface Clock {
  now(): number;
  random(): number;
  /** Runs fn after ms; returns a function that cancels it. */
  schedule(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  random: () => Math.random(),
  schedule(fn, ms) {
    const timer = setTimeout(fn, Math.min(Math.max(0, ms), 2 ** 31 - 1));
    return () => clearTimeout(timer);
  },
};

export interface AttemptReport<T> {
  readonly kind: CredentialKind;
  readonly outcome: { readonly ok: true } | Failure;
  readonly durationMs: number;
  readonly consecutiveFailures: number;
  /** What the refresher holds after the attempt (possibly the previous credential). */
  readonly held?: Held<T>;
  /** When the next attempt is due (epoch ms). */
  readonly nextAttemptAt: number;
}

/** Any refresher, whatever it holds: for code that only starts, stops or checks them. */
export type AnyRefresher = Pick<Refresher<unknown>, "kind" | "current" | "refresh" | "stop">;

export interface RefresherOptions<T> {
  readonly kind: CredentialKind;
  readonly fetch: () => Promise<FetchResult<T>>;
  readonly refreshPolicy: RefreshPolicy;
  readonly backoffPolicy: BackoffPolicy;
  readonly clock?: Clock;
  /** Delivers a new credential (files); a throw counts as a failed refresh and is retried with backoff. */
  readonly deliver?: (held: Held<T>) => Promise<void> | void;
  /** Every attempt's outcome, for metrics and logs. */
  readonly onAttempt?: (report: AttemptReport<T>) => void;
}

export class Refresher<T> {
  readonly kind: CredentialKind;
  #held: Held<T> | undefined;
  #lastFailure: Failure | undefined;
  #failures = 0;
  #inFlight: Promise<void> | undefined;
  #cancelTimer: (() => void) | undefined;
  #nextAttemptAt: number | undefined;
  #stopped = false;
  readonly #options: RefresherOptions<T>;
  readonly #clock: Clock;

  constructor(options: RefresherOptions<T>) {
    this.kind = options.kind;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Fetches now unless a fetch is in flight; every caller shares that one fetch. */
  refresh(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#inFlight ??= this.#attempt().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** What may be handed out right now, without waiting. */
  current(): Current<T> {
    const held = this.#held;
    if (held !== undefined && isServable(held, this.#clock.now(), this.#options.refreshPolicy)) return { ok: true, held };
    return this.#unavailable();
  }

  /** Valid credentials now, or once the in-flight fetch settles; never expired ones. */
  async get(): Promise<Current<T>> {
    const now = this.current();
    if (now.ok || this.#inFlight === undefined) return now;
    await this.#inFlight;
    return this.current();
  }

  get consecutiveFailures(): number {
    return this.#failures;
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  async #attempt(): Promise<void> {
    const clock = this.#clock;
    const started = clock.now();
    let outcome: { ok: true } | Failure;
    try {
      outcome = await this.#fetchAndDeliver(started);
    } catch (error) {
      // fetch functions return failures as values; a throw is a bug, still retried.
      outcome = failure("Internal", `unexpected error fetching ${this.kind}: ${errorText(error)}`);
    }
    const finished = clock.now();
    if (outcome.ok) {
      this.#failures = 0;
      this.#lastFailure = undefined;
    } else {
      this.#failures += 1;
      this.#lastFailure = outcome;
    }
    const nextAttemptAt = this.#nextAttemptTime(outcome, finished);
    this.#scheduleAt(nextAttemptAt);
    this.#options.onAttempt?.({
      kind: this.kind,
      outcome,
      durationMs: finished - started,
      consecutiveFailures: this.#failures,
      ...(this.#held === undefined ? {} : { held: this.#held }),
      nextAttemptAt,
    });
  }

  async #fetchAndDeliver(started: number): Promise<{ ok: true } | Failure> {
    const result = await this.#options.fetch();
    if (!result.ok) return result;
    const held: Held<T> = {
      value: result.value,
      obtainedAt: started,
      expiresAt: result.expiresAt,
      expiry: result.expiry ?? "reported",
      ...(result.expiryNote === undefined ? {} : { expiryNote: result.expiryNote }),
    };
    if (!isServable(held, this.#clock.now(), this.#options.refreshPolicy)) {
      return failure("BadResponse", `the ${this.kind} credential fetched is already expired (expires ${new Date(result.expiresAt).toISOString()})`);
    }
    // Held (and so ready, and served) only once delivered: the startup probe
    // must not pass while the file the app will read is still being written.
    try {
      await this.#options.deliver?.(held);
    } catch (error) {
      return failure("DeliveryFailed", `could not deliver the new ${this.kind} credential: ${errorText(error)}`);
    }
    this.#held = held;
    return { ok: true };
  }

  #nextAttemptTime(outcome: { ok: true } | Failure, now: number): number {
    const held = this.#held;
    if (outcome.ok && held !== undefined) {
      return Math.max(now, refreshDeadline(held, this.#options.refreshPolicy, () => this.#clock.random()));
    }
    const retryAfterMs = outcome.ok ? undefined : outcome.retryAfterMs;
    return (
      now +
      retryDelayMs(this.#failures, this.#options.backoffPolicy, () => this.#clock.random(), {
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        ...(held === undefined ? {} : { held, now }),
      })
    );
  }

  #scheduleAt(at: number): void {
    this.#cancelTimer?.();
    if (this.#stopped) return;
    this.#nextAttemptAt = at;
    this.#cancelTimer = this.#clock.schedule(() => void this.refresh(), at - this.#clock.now());
  }

  #unavailable(): Failure {
    const next = this.#nextAttemptAt;
    const retryIn = next === undefined ? "" : `; next attempt in ${Math.max(0, Math.ceil((next - this.#clock.now()) / 1000))}s`;
    const last = this.#lastFailure;
    if (last !== undefined) {
      const state = this.#held === undefined ? `no ${this.kind} credentials yet` : `the ${this.kind} credentials expired and refreshing them fails`;
      return failure(last.reason, `${state}: ${last.message}${retryIn}`);
    }
    if (this.#inFlight !== undefined) return failure("Pending", `${this.kind} credentials are being fetched`);
    return failure("Pending", `no ${this.kind} credentials held${retryIn}`);
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
