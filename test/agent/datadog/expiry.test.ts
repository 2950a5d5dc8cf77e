// Reading `expires` from Datadog's answers: unix seconds (what the Go and
// Python clients' own code parses) or an RFC 3339 date-time (Datadog's spec),
// and never a silent guess.
import { describe, expect, it } from "vitest";
import { parseExpires, readExpiry } from "../../../src/agent/datadog/expiry.js";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const TOKEN = { assumeSeconds: 900 };

describe("parseExpires", () => {
  it("reads unix seconds given as a number or as a string of digits", () => {
    expect(parseExpires(1_900_000_000)).toBe(1_900_000_000_000);
    expect(parseExpires(" 1900000000 ")).toBe(1_900_000_000_000);
  });

  it("reads RFC 3339 date-times in UTC, with an offset and with fractional seconds", () => {
    expect(parseExpires("2030-03-15T08:00:00Z")).toBe(Date.parse("2030-03-15T08:00:00Z"));
    expect(parseExpires("2030-03-15T10:00:00+02:00")).toBe(Date.parse("2030-03-15T08:00:00Z"));
    expect(parseExpires("2030-03-15T08:00:00.250Z")).toBe(Date.parse("2030-03-15T08:00:00.250Z"));
  });

  it("reads neither milliseconds, nor a date without a time or zone, nor other text as an expiry", () => {
    expect(parseExpires(1_900_000_000_000)).toBeUndefined();
    expect(parseExpires("2030-03-15")).toBeUndefined();
    expect(parseExpires("2030-03-15T08:00:00")).toBeUndefined();
    expect(parseExpires("soon")).toBeUndefined();
    expect(parseExpires(true)).toBeUndefined();
  });
});

describe("readExpiry", () => {
  it("reports the server's expiry when it is readable", () => {
    expect(readExpiry("2026-01-01T00:15:00Z", TOKEN, NOW)).toEqual({ expiry: "reported", expiresAt: new Date(NOW + 900_000) });
  });

  it("assumes the clients' default for a token without expires, saying why", () => {
    expect(readExpiry(undefined, TOKEN, NOW)).toEqual({
      expiry: "assumed",
      expiresAt: new Date(NOW + 900_000),
      expiryNote: "the answer carries no expires; assuming 15 minutes",
    });
  });

  it("takes a credential that may have no expiry and carries none as one without expiry", () => {
    expect(readExpiry(undefined, "none", NOW)).toEqual({ expiry: "none", expiresAt: undefined });
  });

  it("assumes an hour for an intake key whose expires it cannot read, rather than none", () => {
    expect(readExpiry({ at: 1 }, "none", NOW)).toMatchObject({ expiry: "assumed", expiresAt: new Date(NOW + 3_600_000) });
  });
});
