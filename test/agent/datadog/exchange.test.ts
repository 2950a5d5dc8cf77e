// The agent's Datadog exchange end to end against real peers: moto signs and
// verifies AWS identities, the test Datadog service verifies proofs by
// replaying them against moto, and its protected routes accept only live
// credentials.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestDatadogToken, requestIntakeKey } from "../../../src/agent/datadog/client.js";
import { buildDelegatedProof } from "../../../src/agent/datadog/proof.js";
import { assumeRole, type SessionCredentials } from "../../harness/aws.js";
import { startDatadogService, type DatadogService } from "../../harness/datadog.js";
import { startMoto, type MotoServer } from "../../harness/moto.js";

const ORG = "0f8f2a4e-1c2b-4d3e-9f00-1234567890ab";

describe("Datadog delegated-token exchange", () => {
  let moto: MotoServer;
  let datadog: DatadogService;
  let session: SessionCredentials;

  beforeAll(async () => {
    moto = await startMoto({ roles: ["ddcred-test", "team/pathed-role", "late-role"] });
    datadog = await startDatadogService({
      stsUrl: moto.url,
      orgs: [{ uuid: ORG, roleArns: [moto.roleArn("ddcred-test"), moto.roleArn("team/pathed-role")] }],
    });
    session = await assumeRole(moto, "ddcred-test", "pod-a");
  });
  afterAll(async () => {
    await datadog?.stop();
    await moto?.stop();
  });

  const proofFor = (credentials: SessionCredentials) =>
    buildDelegatedProof({ credentials, region: "us-east-1", orgUuid: ORG });

  const listUsers = (token: string) => fetch(`${datadog.url}/api/v2/users`, { headers: { Authorization: `Bearer ${token}` } });

  it("exchanges a proof from an assumed-role session for a token the bearer route accepts", async () => {
    const result = await requestDatadogToken({ apiUrl: datadog.url, proof: await proofFor(session), orgUuid: ORG });
    if (!result.ok) throw new Error(result.message);
    expect(result.expiry).toBe("reported");
    const response = await listUsers(result.value);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: Array<{ attributes: { handle: string } }> };
    expect(body.data[0]?.attributes.handle).toBe(`arn:aws:sts::${moto.accountId}:assumed-role/ddcred-test/pod-a`);
  });

  it("maps a session of a role with a path to that role", async () => {
    const pathed = await assumeRole(moto, "team/pathed-role", "pod-b");
    const result = await requestDatadogToken({ apiUrl: datadog.url, proof: await proofFor(pathed), orgUuid: ORG });
    expect(result).toMatchObject({ ok: true });
  });

  it("refuses a bearer token that was never issued", async () => {
    expect((await listUsers("ddt_made-up-token")).status).toBe(401);
  });

  it("refuses a bearer token once it has expired", async () => {
    await datadog.setTtl({ tokenTtlSeconds: 2 });
    try {
      const result = await requestDatadogToken({ apiUrl: datadog.url, proof: await proofFor(session), orgUuid: ORG });
      if (!result.ok) throw new Error(result.message);
      expect((await listUsers(result.value)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, result.expiresAt!.getTime() - Date.now() + 1_100));
      expect((await listUsers(result.value)).status).toBe(401);
    } finally {
      await datadog.setTtl({ tokenTtlSeconds: 900 });
    }
  });

  it("exchanges a proof for an intake key the API-key route accepts, which carries no expiry", async () => {
    const result = await requestIntakeKey({ apiUrl: datadog.url, proof: await proofFor(session), orgUuid: ORG });
    if (!result.ok) throw new Error(result.message);
    expect(result).toMatchObject({ expiry: "none", expiresAt: undefined });
    const response = await fetch(`${datadog.url}/api/v1/validate`, { headers: { "DD-API-KEY": result.value } });
    expect(await response.json()).toEqual({ valid: true });
  });

  it("refuses an API key that was never issued", async () => {
    const response = await fetch(`${datadog.url}/api/v1/validate`, { headers: { "DD-API-KEY": "0".repeat(32) } });
    expect(response.status).toBe(403);
  });

  it("accepts a role once the org maps it, and counts the refusal before", async () => {
    const late = await assumeRole(moto, "late-role", "pod-c");
    const before = await requestDatadogToken({ apiUrl: datadog.url, proof: await proofFor(late), orgUuid: ORG });
    expect(before).toMatchObject({ ok: false, reason: "Forbidden" });
    expect((await datadog.stats()).rejected.IdentityNotMapped).toBe(1);
    await datadog.setOrgs([{ uuid: ORG, roleArns: [moto.roleArn("ddcred-test"), moto.roleArn("late-role")] }]);
    const after = await requestDatadogToken({ apiUrl: datadog.url, proof: await proofFor(late), orgUuid: ORG });
    expect(after).toMatchObject({ ok: true });
  });

  it("serves a one-shot fault once and then answers normally", async () => {
    await datadog.setFault({ status: 429, retryAfter: "1", times: 1 });
    const proof = await proofFor(session);
    expect(await requestDatadogToken({ apiUrl: datadog.url, proof, orgUuid: ORG })).toMatchObject({ ok: false, reason: "Throttled" });
    expect(await requestDatadogToken({ apiUrl: datadog.url, proof, orgUuid: ORG })).toMatchObject({ ok: true });
  });
});
