// requestDatadogToken / requestIntakeKey turn every answer of a real Datadog
// endpoint (the test service, real refusals and injected faults) into a typed
// result with a reason the agent can act on, and never a thrown error.
import { createServer } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_TOKEN_LIFETIME_SECONDS, requestDatadogToken, requestIntakeKey } from "../../../src/agent/datadog/client.js";
import { buildDelegatedProof } from "../../../src/agent/datadog/proof.js";
import { assumeRole, type SessionCredentials } from "../../harness/aws.js";
import { startCredentialPeers, type CredentialPeers } from "../../harness/credential-peers.js";
import type { DatadogService } from "../../harness/datadog.js";

const ORG = "0f8f2a4e-1c2b-4d3e-9f00-1234567890ab";
const UNMAPPING_ORG = "5c1d7e2a-0000-4000-8000-00000000beef";

describe("Datadog delegated-auth client", () => {
  let peers: CredentialPeers;
  let datadog: DatadogService;
  let session: SessionCredentials;
  let proof: string;

  beforeAll(async () => {
    peers = await startCredentialPeers({ orgUuid: ORG, moreOrgs: [{ uuid: UNMAPPING_ORG, roleArns: [] }] });
    datadog = peers.datadog;
    session = await assumeRole(peers.moto, "ddcred-test");
    proof = await buildDelegatedProof({ credentials: session, region: "us-east-1", orgUuid: ORG });
  });
  afterEach(async () => {
    await datadog?.setFault(undefined);
  });
  afterAll(async () => {
    await peers?.stop();
  });

  const token = (overrides: { proof?: string; orgUuid?: string; timeoutMs?: number; now?: () => number } = {}) =>
    requestDatadogToken({ apiUrl: datadog.url, proof, orgUuid: ORG, ...overrides });

  it("returns the token with the expiry the server sent as a date-time", async () => {
    const result = await token();
    expect(result).toMatchObject({ ok: true, value: expect.stringMatching(/^ddt_/), expiry: "reported" });
    if (!result.ok) return;
    expect(result.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 800_000);
  });

  it("reports a 401 as Unauthorized, pointing at the role mapping, credentials and clock", async () => {
    const forged = await buildDelegatedProof({ credentials: { ...session, secretAccessKey: "wrong" }, region: "us-east-1", orgUuid: ORG });
    const result = await token({ proof: forged });
    expect(result).toMatchObject({ ok: false, reason: "Unauthorized", status: 401 });
    if (result.ok) return;
    expect(result.message).toContain("mapped to a Datadog user in that org");
    expect(result.message).toContain("SignatureDoesNotMatch");
  });

  it("reports a 403 as Forbidden, naming the org that does not map the identity", async () => {
    const elsewhere = await buildDelegatedProof({ credentials: session, region: "us-east-1", orgUuid: UNMAPPING_ORG });
    const result = await token({ proof: elsewhere, orgUuid: UNMAPPING_ORG });
    expect(result).toMatchObject({ ok: false, reason: "Forbidden", status: 403, message: expect.stringContaining(`Datadog org ${UNMAPPING_ORG} does not map`) });
  });

  it("reports a 429 as Throttled with the Retry-After delay", async () => {
    await datadog.setFault({ status: 429, retryAfter: "7" });
    expect(await token()).toMatchObject({ ok: false, reason: "Throttled", status: 429, retryAfterMs: 7_000 });
  });

  it("reads an HTTP-date Retry-After on a 503 as a delay from now", async () => {
    const now = Date.parse("2025-01-02T03:04:05Z");
    await datadog.setFault({ status: 503, retryAfter: "Thu, 02 Jan 2025 03:04:35 GMT" });
    expect(await token({ now: () => now })).toMatchObject({ ok: false, reason: "ServerError", status: 503, retryAfterMs: 30_000 });
  });

  it("reports a 500 as ServerError without a retry delay", async () => {
    await datadog.setFault({ status: 500 });
    const result = await token();
    expect(result).toMatchObject({ ok: false, reason: "ServerError", status: 500 });
    expect(result).not.toHaveProperty("retryAfterMs");
  });

  it("reports no answer within the timeout as Timeout", async () => {
    await datadog.setFault({ delayMs: 2_000 });
    expect(await token({ timeoutMs: 200 })).toMatchObject({ ok: false, reason: "Timeout", message: expect.stringContaining("within 200 ms") });
  });

  it("reports a 200 whose body is not JSON as BadResponse", async () => {
    await datadog.setFault({ body: "<html>captive portal</html>" });
    expect(await token()).toMatchObject({ ok: false, reason: "BadResponse", message: expect.stringContaining("not JSON") });
  });

  it("reports a 200 without data.attributes.access_token as BadResponse", async () => {
    await datadog.setFault({ body: JSON.stringify({ data: { attributes: {} } }) });
    expect(await token()).toMatchObject({ ok: false, reason: "BadResponse", message: expect.stringContaining("data.attributes.access_token") });
  });

  it("assumes the official clients' 15 minutes when the token response has no expiry, and says so", async () => {
    const now = 1_700_000_000_000;
    await datadog.setFault({ body: JSON.stringify({ data: { type: "token", attributes: { access_token: "t" } } }) });
    expect(await token({ now: () => now })).toEqual({
      ok: true,
      value: "t",
      expiry: "assumed",
      expiresAt: new Date(now + DEFAULT_TOKEN_LIFETIME_SECONDS * 1000),
      expiryNote: "the answer carries no expires; assuming 15 minutes",
    });
  });

  it("reads an expiry sent as a string of unix seconds, as the Go and Python clients parse it", async () => {
    await datadog.setFault({ body: JSON.stringify({ data: { type: "token", attributes: { access_token: "t", expires: "1900000000" } } }) });
    expect(await token()).toMatchObject({ ok: true, expiresAt: new Date(1_900_000_000_000), expiry: "reported" });
  });

  it("reads an expiry sent as an RFC 3339 date-time with an offset", async () => {
    await datadog.setFault({ body: JSON.stringify({ data: { type: "token", attributes: { access_token: "t", expires: "2030-03-15T10:00:00+02:00" } } }) });
    expect(await token()).toMatchObject({ ok: true, expiresAt: new Date("2030-03-15T08:00:00Z"), expiry: "reported" });
  });

  it("assumes 15 minutes for an expiry it cannot read, and says what it got", async () => {
    await datadog.setFault({ body: JSON.stringify({ data: { type: "token", attributes: { access_token: "t", expires: "next tuesday" } } }) });
    expect(await token()).toMatchObject({
      ok: true,
      expiry: "assumed",
      expiryNote: 'expires is neither unix seconds nor an RFC 3339 date-time (a string of 12 characters starting "next tuesday"); assuming 15 minutes',
    });
  });

  it("takes an intake key with no expiry as one that has none", async () => {
    await datadog.setFault({ endpoints: ["intake-key"], body: JSON.stringify({ data: { type: "intake_api_key", id: "k", attributes: { api_key: "0123", org_id: 42 } } }) });
    expect(await requestIntakeKey({ apiUrl: datadog.url, proof, orgUuid: ORG })).toEqual({ ok: true, value: "0123", expiry: "none", expiresAt: undefined });
  });

  it("reports a refused connection as Network", async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const result = await requestDatadogToken({ apiUrl: `http://127.0.0.1:${closedPort}`, proof, orgUuid: ORG });
    expect(result).toMatchObject({ ok: false, reason: "Network", message: expect.stringContaining("ECONNREFUSED") });
  });

  it("applies faults to the intake-key endpoint alone when asked", async () => {
    await datadog.setFault({ endpoints: ["intake-key"], status: 429, retryAfter: "3" });
    expect(await token()).toMatchObject({ ok: true });
    expect(await requestIntakeKey({ apiUrl: datadog.url, proof, orgUuid: ORG })).toMatchObject({ ok: false, reason: "Throttled", retryAfterMs: 3_000 });
  });

  it("never puts the proof or the issued secret in a failure message", async () => {
    const issued = await token();
    if (!issued.ok) throw new Error(issued.message);
    await datadog.setFault({ status: 500, body: JSON.stringify({ errors: [{ detail: "internal" }] }) });
    const failed = await token();
    if (failed.ok) throw new Error("expected a failure");
    expect(failed.message).not.toContain(proof.split("|")[1]!.slice(0, 40));
    expect(failed.message).not.toContain(session.secretAccessKey);
    expect(failed.message).not.toContain(issued.value);
  });
});
