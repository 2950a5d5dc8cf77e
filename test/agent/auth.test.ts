import { describe, expect, it } from "vitest";
import { createAuthorizer, generateAgentSecret } from "../../src/agent/delivery/auth.js";

describe("loopback API authorization", () => {
  const secret = generateAgentSecret();
  const authorize = createAuthorizer(secret);

  it("accepts the secret sent raw, as the AWS SDKs send the token file's content", () => {
    expect(authorize(secret)).toBe(true);
  });

  it("accepts the secret as a bearer token", () => {
    expect(authorize(`Bearer ${secret}`)).toBe(true);
    expect(authorize(`bearer ${secret}`)).toBe(true);
  });

  it("refuses a missing or empty header", () => {
    expect(authorize(undefined)).toBe(false);
    expect(authorize("")).toBe(false);
  });

  it("refuses a wrong secret, a prefix of the secret and the secret with extra characters", () => {
    expect(authorize(generateAgentSecret())).toBe(false);
    expect(authorize(secret.slice(0, -1))).toBe(false);
    expect(authorize(`${secret}x`)).toBe(false);
    expect(authorize(`Bearer ${secret} `)).toBe(false);
  });

  it("generates a different 256-bit, header-safe secret for every pod", () => {
    const secrets = new Set(Array.from({ length: 100 }, generateAgentSecret));
    expect(secrets.size).toBe(100);
    for (const s of secrets) expect(s).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
