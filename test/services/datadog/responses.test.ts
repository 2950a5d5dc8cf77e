// What the test Datadog service answers, in the shapes of Datadog's API spec:
// a token is `type: token` with `expires` as a date-time; an intake key is
// `type: intake_api_key` with the org's key and numeric org id and no expiry,
// the same for every identity the org maps, until the org's key rotates.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDelegatedProof } from "../../../src/agent/datadog/proof.js";
import { assumeRole, type SessionCredentials } from "../../harness/aws.js";
import { startMoto, type MotoServer } from "../../harness/moto.js";
import { createDatadogTokenService, type DatadogTokenService } from "./service.js";

const ORG = "0f8f2a4e-1c2b-4d3e-9f00-1234567890ab";
const OTHER_ORG = "5c1d7e2a-0000-4000-8000-00000000beef";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("the test Datadog service's answers", () => {
  let moto: MotoServer;
  let service: DatadogTokenService;
  let url: string;
  let podA: SessionCredentials;
  let podB: SessionCredentials;
  let otherTeam: SessionCredentials;
  let clock = Date.now();

  beforeAll(async () => {
    moto = await startMoto({ roles: ["ddcred-test", "ddcred-batch", "other-team"] });
    service = createDatadogTokenService({
      stsUrl: moto.url,
      orgs: [
        { uuid: ORG, orgId: 1234567, roleArns: [moto.roleArn("ddcred-test"), moto.roleArn("ddcred-batch")] },
        { uuid: OTHER_ORG, roleArns: [moto.roleArn("other-team")] },
      ],
      tokenTtlSeconds: 900,
      intakeKeyTtlSeconds: 3600,
      // The service's own clock, so rotation and expiry need no waiting; proofs are dated by it too.
      now: () => clock,
    });
    url = await service.listen();
    [podA, podB, otherTeam] = await Promise.all([
      assumeRole(moto, "ddcred-test", "pod-a"),
      assumeRole(moto, "ddcred-batch", "pod-b"),
      assumeRole(moto, "other-team", "pod-c"),
    ]);
  });
  afterAll(async () => {
    await service?.close();
    await moto?.stop();
  });

  async function post(path: string, credentials: SessionCredentials, orgUuid = ORG): Promise<{ status: number; body: any }> {
    const proof = await buildDelegatedProof({ credentials, region: "us-east-1", orgUuid, now: new Date(clock) });
    const response = await fetch(`${url}${path}`, { method: "POST", headers: { Authorization: `Delegated ${proof}` } });
    return { status: response.status, body: await response.json() };
  }

  it("answers a token as type token, with a UUID id and expires as an RFC 3339 date-time", async () => {
    const { status, body } = await post("/api/v2/delegated-token", podA);
    expect(status).toBe(200);
    expect(body).toEqual({
      data: { type: "token", id: expect.stringMatching(UUID), attributes: { access_token: expect.any(String), expires: new Date(clock + 900_000).toISOString() } },
    });
  });

  it("answers an intake key as type intake_api_key with api_key and the numeric org_id, and no expiry", async () => {
    const { status, body } = await post("/api/v2/intake-key", podA);
    expect(status).toBe(200);
    expect(body).toEqual({
      data: { type: "intake_api_key", id: expect.any(String), attributes: { api_key: expect.stringMatching(/^[0-9a-f]{32}$/), org_id: 1234567 } },
    });
  });

  it("gives every identity an org maps that org's one intake key, and another org another key", async () => {
    const a = (await post("/api/v2/intake-key", podA)).body.data;
    const b = (await post("/api/v2/intake-key", podB)).body.data;
    const other = (await post("/api/v2/intake-key", otherTeam, OTHER_ORG)).body.data;
    expect(b).toEqual(a);
    expect(other.attributes.api_key).not.toBe(a.attributes.api_key);
    expect(other.id).not.toBe(a.id);
  });

  it("rotates an org's intake key once it has lived its TTL, refusing the old key from then on", async () => {
    const before = (await post("/api/v2/intake-key", podA)).body.data;
    const validate = async (key: string) => (await fetch(`${url}/api/v1/validate`, { headers: { "DD-API-KEY": key } })).status;
    expect(await validate(before.attributes.api_key)).toBe(200);
    clock += 3_600_000;
    const after = (await post("/api/v2/intake-key", podA)).body.data;
    expect(after.attributes.api_key).not.toBe(before.attributes.api_key);
    expect(after.id).toBe(before.id);
    expect(await validate(before.attributes.api_key)).toBe(403);
    expect(await validate(after.attributes.api_key)).toBe(200);
  });

  it("counts a call made with a token it issued that has expired apart from one with a token it never issued", async () => {
    const token = (await post("/api/v2/delegated-token", podA)).body.data.attributes.access_token as string;
    const users = async (bearer: string) => (await fetch(`${url}/api/v2/users`, { headers: { Authorization: `Bearer ${bearer}` } })).status;
    expect(await users(token)).toBe(200);
    clock += 901_000;
    const stats = async () => (await (await fetch(`${url}/_test/stats`)).json()) as { bearerRefused: number; bearerExpired: number };
    const before = await stats();
    expect(await users(token)).toBe(401);
    expect(await users("ddt_never-issued")).toBe(401);
    const after = await stats();
    expect({ refused: after.bearerRefused - before.bearerRefused, expired: after.bearerExpired - before.bearerExpired }).toEqual({ refused: 2, expired: 1 });
  });
});
