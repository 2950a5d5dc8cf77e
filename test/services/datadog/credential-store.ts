// The tokens the service has issued, each with its org and expiry, and the
// intake key of each org. Only live tokens are ever accepted; an expired one
// is remembered a while longer, so a call made with it is counted as such
// (a consumer that calls with an expired token is a bug the tests look for).
import { randomBytes, randomUUID } from "node:crypto";

export interface Issued {
  readonly value: string;
  readonly orgUuid: string;
  readonly identityArn: string;
  readonly expiresAtMs: number;
}

export type TokenLookup = { readonly state: "live"; readonly issued: Issued } | { readonly state: "expired" | "unknown" };

/** How long an expired token is still recognised as one of ours. */
const REMEMBER_EXPIRED_MS = 60 * 60_000;

export class TokenStore {
  private readonly issuedTokens = new Map<string, Issued>();

  constructor(private readonly now: () => number) {}

  issue(orgUuid: string, identityArn: string, ttlSeconds: number): Issued {
    this.forgetLongExpired();
    const issued = { value: mintToken(), orgUuid, identityArn, expiresAtMs: this.now() + ttlSeconds * 1000 };
    this.issuedTokens.set(issued.value, issued);
    return issued;
  }

  lookup(value: string): TokenLookup {
    const issued = this.issuedTokens.get(value);
    if (issued === undefined) return { state: "unknown" };
    return issued.expiresAtMs > this.now() ? { state: "live", issued } : { state: "expired" };
  }

  private forgetLongExpired(): void {
    const horizon = this.now() - REMEMBER_EXPIRED_MS;
    for (const [value, issued] of this.issuedTokens) if (issued.expiresAtMs <= horizon) this.issuedTokens.delete(value);
  }
}

export interface IntakeKey {
  readonly value: string;
  /** Stable for the org's key, as Datadog's `id` is. */
  readonly id: string;
  readonly orgUuid: string;
}

/**
 * Intake keys belong to an org, not to the identity that asked: every mapped
 * caller of an org gets the org's current key, which carries no expiry and is
 * replaced only when the org's key is rotated (the previous one then stops working).
 */
export class IntakeKeyStore {
  private readonly byOrg = new Map<string, IntakeKey>();
  private readonly live = new Map<string, IntakeKey>();

  keyOf(orgUuid: string): IntakeKey {
    const existing = this.byOrg.get(orgUuid);
    if (existing !== undefined) return existing;
    const key = { value: mintIntakeKey(), id: randomUUID(), orgUuid };
    this.byOrg.set(orgUuid, key);
    this.live.set(key.value, key);
    return key;
  }

  /** Replaces every org's key; the old ones are refused from now on. */
  rotate(): void {
    for (const [orgUuid, old] of this.byOrg) {
      this.live.delete(old.value);
      const key = { value: mintIntakeKey(), id: old.id, orgUuid };
      this.byOrg.set(orgUuid, key);
      this.live.set(key.value, key);
    }
  }

  lookup(value: string): IntakeKey | undefined {
    return this.live.get(value);
  }
}

/** Bearer tokens: opaque, URL-safe, recognisably ours. */
const mintToken = (): string => `ddt_${randomBytes(24).toString("base64url")}`;
/** Intake keys look like Datadog API keys: 32 hex characters. */
const mintIntakeKey = (): string => randomBytes(16).toString("hex");
