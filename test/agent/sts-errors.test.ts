import { describe, expect, it } from "vitest";
import { isRoleChainingLimit, stsFailure } from "../../src/agent/aws/sts-errors.js";

/** An error shaped like the AWS SDK v3's service exceptions. */
function serviceError(name: string, status: number, message: string, fault: "client" | "server" = "client") {
  return Object.assign(new Error(message), { name, $fault: fault, $metadata: { httpStatusCode: status } });
}

describe("stsFailure", () => {
  it.each([
    ["Throttling", 400, "Throttled"],
    ["AccessDenied", 403, "Forbidden"],
    ["InvalidClientTokenId", 403, "Unauthorized"],
    ["SignatureDoesNotMatch", 403, "Unauthorized"],
    ["ExpiredTokenException", 400, "Unauthorized"],
    ["ValidationError", 400, "InvalidRequest"],
    ["InternalFailure", 500, "ServerError"],
    ["ServiceUnavailable", 503, "ServerError"],
  ])("reads STS error %s (HTTP %d) as %s", (name, status, reason) => {
    expect(stsFailure(serviceError(name, status, "m"), "AssumeRole r").reason).toBe(reason);
  });

  it("reads a refused connection as a network failure", () => {
    expect(stsFailure(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), "AssumeRole r").reason).toBe("Network");
  });

  it("reads a connection reset as a network failure, though the SDK renames it TimeoutError", () => {
    const reset = Object.assign(new Error("socket hang up"), { name: "TimeoutError", code: "ECONNRESET" });
    const failure = stsFailure(reset, "AssumeRole r");
    expect(failure.reason).toBe("Network");
    expect(failure.message).toBe("AssumeRole r failed (ECONNRESET: socket hang up)");
  });

  it("reads the SDK's request timeout as a timeout", () => {
    expect(stsFailure(Object.assign(new Error("timed out"), { name: "TimeoutError" }), "AssumeRole r").reason).toBe("Timeout");
  });

  it("reads an empty credential chain as a missing base identity, and says how to give one", () => {
    const failure = stsFailure(Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }), "AssumeRole r");
    expect(failure.reason).toBe("NoBaseIdentity");
    expect(failure.message).toMatch(/IRSA, EKS Pod Identity/);
  });

  it("names the action, the error code and the status in the message", () => {
    const failure = stsFailure(serviceError("AccessDenied", 403, "not authorized to perform sts:AssumeRole"), "AssumeRole arn:aws:iam::1:role/x");
    expect(failure.message).toMatch(/^AssumeRole arn:aws:iam::1:role\/x failed \(AccessDenied: HTTP 403: not authorized to perform sts:AssumeRole\); the base identity may not assume the role; check the role's trust policy/);
  });
});

describe("isRoleChainingLimit", () => {
  it("recognises AWS's refusal of a long session for a chained role", () => {
    const error = serviceError("ValidationError", 400, "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.");
    expect(isRoleChainingLimit(error)).toBe(true);
  });

  it("does not mistake the role's own maximum session duration for role chaining", () => {
    const error = serviceError("ValidationError", 400, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.");
    expect(isRoleChainingLimit(error)).toBe(false);
  });
});
