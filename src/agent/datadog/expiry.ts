// When a Datadog credential stops working, read from the answer's `expires`.
// Datadog's API spec types it as a date-time (the generated clients' models
// parse RFC 3339), while the hand-written delegated-auth code of the Go and
// Python clients parses a string of unix seconds; both are read here. A value
// that is neither is never silently replaced: the reading says the expiry was
// assumed and why, and the agent logs and labels that.
/**
 * Where a credential's expiry comes from: the server (`reported`), the
 * clients' documented default because the answer had no readable one
 * (`assumed`), or nowhere because it has none (`none`: Datadog's intake keys).
 */
export type ExpirySource = "reported" | "assumed" | "none";

export interface ExpiryReading {
  readonly expiry: ExpirySource;
  readonly expiresAt: Date | undefined;
  /** Why the expiry was assumed; no secret (the raw value is only described). */
  readonly expiryNote?: string;
}

const RFC_3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/**
 * A credential that may carry no expiry (an intake key) but sent an unreadable
 * one is held for the hour the Datadog Agent re-exchanges its key after.
 */
const UNREADABLE_NO_EXPIRY_ASSUMED_SECONDS = 60 * 60;
/** Unix seconds between 2001 and 2286: anything else is milliseconds or garbage, not an expiry. */
const PLAUSIBLE_UNIX_SECONDS = { min: 1_000_000_000, max: 9_999_999_999 };

/**
 * `withoutExpiry`: what an answer with no `expires` at all means — the
 * clients' default lifetime for tokens, no expiry for intake keys.
 */
export function readExpiry(raw: unknown, withoutExpiry: { readonly assumeSeconds: number } | "none", nowMs: number): ExpiryReading {
  if (raw === undefined || raw === null || raw === "") {
    if (withoutExpiry === "none") return { expiry: "none", expiresAt: undefined };
    return assumed(withoutExpiry.assumeSeconds, nowMs, "the answer carries no expires");
  }
  const at = parseExpires(raw);
  if (at !== undefined) return { expiry: "reported", expiresAt: new Date(at) };
  const seconds = withoutExpiry === "none" ? UNREADABLE_NO_EXPIRY_ASSUMED_SECONDS : withoutExpiry.assumeSeconds;
  return assumed(seconds, nowMs, `expires is neither unix seconds nor an RFC 3339 date-time (${describe(raw)})`);
}

/** Epoch milliseconds, or undefined when the value is not an expiry. */
export function parseExpires(raw: unknown): number | undefined {
  if (typeof raw === "number") return unixSeconds(raw);
  if (typeof raw !== "string") return undefined;
  const text = raw.trim();
  if (/^\d+$/.test(text)) return unixSeconds(Number(text));
  if (!RFC_3339.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isFinite(at) ? at : undefined;
}

function unixSeconds(n: number): number | undefined {
  return Number.isInteger(n) && n >= PLAUSIBLE_UNIX_SECONDS.min && n <= PLAUSIBLE_UNIX_SECONDS.max ? n * 1000 : undefined;
}

function assumed(seconds: number, nowMs: number, why: string): ExpiryReading {
  return { expiry: "assumed", expiresAt: new Date(nowMs + seconds * 1000), expiryNote: `${why}; assuming ${seconds / 60} minutes` };
}

function describe(raw: unknown): string {
  if (typeof raw === "string") return `a string of ${raw.length} characters starting ${JSON.stringify(raw.slice(0, 12))}`;
  if (typeof raw === "number") return `the number ${raw}`;
  return `a JSON ${Array.isArray(raw) ? "array" : typeof raw}`;
}
