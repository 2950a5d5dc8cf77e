// The tokens and intake keys the service has issued, each with its org and
// expiry. Only live ones are ever accepted; expired ones are forgotten lazily.
import { randomBytes } from "node:crypto";

export interface Issued {
  readonly value: string;
  readonly orgUuid: string;
  readonly identityArn: string;
  readonly expiresAtMs: number;
}

export class CredentialStore {
  private readonly live = new Map<string, Issued>();

  constructor(
    private readonly mint: () => string,
    private readonly now: () => number,
  ) {}

  issue(orgUuid: string, identityArn: string, ttlSeconds: number): Issued {
    this.forgetExpired();
    const issued = { value: this.mint(), orgUuid, identityArn, expiresAtMs: this.now() + ttlSeconds * 1000 };
    this.live.set(issued.value, issued);
    return issued;
  }

  /** The credential if it was issued here and has not expired. */
  lookup(value: string): Issued | undefined {
    const issued = this.live.get(value);
    return issued !== undefined && issued.expiresAtMs > this.now() ? issued : undefined;
  }

  private forgetExpired(): void {
    const now = this.now();
    for (const [value, issued] of this.live) if (issued.expiresAtMs <= now) this.live.delete(value);
  }
}

/** Bearer tokens: opaque, URL-safe, recognisably ours. */
export const mintToken = (): string => `ddt_${randomBytes(24).toString("base64url")}`;
/** Intake keys look like Datadog API keys: 32 hex characters. */
export const mintIntakeKey = (): string => randomBytes(16).toString("hex");
