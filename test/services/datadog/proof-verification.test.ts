// The test Datadog service refuses every proof Datadog (or the STS it replays
// the proof to) must refuse, with the status Datadog documents (401: the proof
// proves nothing; 403: a proven identity the org does not map) and a message
// that says what is wrong. Every proof names a real STS host, as production
// proofs do; the service routes it to the emulator with its signed Host intact.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDelegatedProof } from "../../../src/agent/datadog/proof.js";
import { assumeRole, type SessionCredentials } from "../../harness/aws.js";
import { startMoto, type MotoServer } from "../../harness/moto.js";
import { craftProof, tamper } from "./proof-crafting.js";
import { createDatadogTokenService, type DatadogTokenService } from "./service.js";

const ORG = "0f8f2a4e-1c2b-4d3e-9f00-1234567890ab";
const OTHER_ORG = "5c1d7e2a-0000-4000-8000-00000000beef";
const UNSERVED_ORG = "99999999-9999-4999-8999-999999999999";

interface Refusal {
  status: number;
  code: string;
  detail: string;
}

describe("the test Datadog service's proof verification", () => {
  let moto: MotoServer;
  let service: DatadogTokenService;
  let url: string;
  let session: SessionCredentials;
  let bystander: Server;
  let bystanderUrl: string;
  let bystanderHits = 0;

  beforeAll(async () => {
    moto = await startMoto({ roles: ["ddcred-test", "other-team"] });
    service = createDatadogTokenService({
      stsUrl: moto.url,
      orgs: [
        { uuid: ORG, roleArns: [moto.roleArn("ddcred-test")] },
        { uuid: OTHER_ORG, roleArns: [moto.roleArn("other-team")] },
      ],
    });
    url = await service.listen();
    session = await assumeRole(moto, "ddcred-test", "pod-a");
    // A server the service must never be talked into calling (SSRF).
    bystander = createServer((_req, res) => {
      bystanderHits += 1;
      res.end("<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/ddcred-test/x</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>");
    });
    await new Promise<void>((resolve) => bystander.listen(0, "127.0.0.1", resolve));
    bystanderUrl = `http://127.0.0.1:${(bystander.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await service?.close();
    await new Promise((resolve) => (bystander ? bystander.close(resolve) : resolve(undefined)));
    await moto?.stop();
  });

  const goodProof = (overrides: { orgUuid?: string; now?: Date; region?: string; stsUrl?: string } = {}) =>
    buildDelegatedProof({ credentials: session, region: "us-east-1", orgUuid: ORG, ...overrides });

  async function exchange(authorization: string | undefined): Promise<Refusal & { body: unknown }> {
    const response = await fetch(`${url}/api/v2/delegated-token`, {
      method: "POST",
      headers: authorization === undefined ? {} : { Authorization: authorization },
    });
    const body = (await response.json()) as { errors?: Array<{ code: string; detail: string }> };
    return { status: response.status, code: body.errors?.[0]?.code ?? "", detail: body.errors?.[0]?.detail ?? "", body };
  }
  const refusal = async (proof: string): Promise<Refusal> => {
    const { status, code, detail } = await exchange(`Delegated ${proof}`);
    return { status, code, detail };
  };

  it("accepts an untouched proof for the regional endpoint (the baseline every refusal below departs from)", async () => {
    expect((await exchange(`Delegated ${await goodProof()}`)).status).toBe(200);
  });

  it("accepts a proof for another region's endpoint, signed for that region", async () => {
    expect((await exchange(`Delegated ${await goodProof({ region: "eu-west-1" })}`)).status).toBe(200);
  });

  it("accepts a proof for the global endpoint, signed for us-east-1", async () => {
    const proof = await craftProof({ credentials: session, stsUrl: "https://sts.amazonaws.com", region: "us-east-1", orgUuid: ORG });
    expect((await exchange(`Delegated ${proof}`)).status).toBe(200);
  });

  it("refuses a proof signed for the emulator's own URL, which production never sends", async () => {
    expect(await refusal(await goodProof({ stsUrl: moto.url }))).toMatchObject({
      status: 401,
      code: "StsHostNotAllowed",
      detail: `the proof's URL ${moto.url} is not an AWS STS endpoint`,
    });
  });

  it("refuses a signature scoped to another region than the STS host's, as STS does", async () => {
    const proof = await craftProof({ credentials: session, stsUrl: "https://sts.us-east-1.amazonaws.com", region: "eu-west-1", orgUuid: ORG });
    expect(await refusal(proof)).toMatchObject({
      status: 401,
      code: "StsRejected",
      detail: "AWS STS refused the proof's signed GetCallerIdentity: SignatureDoesNotMatch (Credential should be scoped to a valid region, not 'eu-west-1'.)",
    });
  });

  it("refuses a proof for the global endpoint signed for another region than us-east-1", async () => {
    const proof = await craftProof({ credentials: session, stsUrl: "https://sts.amazonaws.com", region: "us-west-2", orgUuid: ORG });
    expect(await refusal(proof)).toMatchObject({ status: 401, code: "StsRejected", detail: expect.stringContaining("Credential should be scoped to a valid region") });
  });

  it.each([
    ["a China region under amazonaws.com", "https://sts.cn-north-1.amazonaws.com", "cn-north-1"],
    ["a global endpoint in China, which has none", "https://sts.amazonaws.com.cn", "cn-north-1"],
    ["a region that does not exist", "https://sts.us-north-9.amazonaws.com", "us-north-9"],
    ["a real region over plain http", "http://sts.us-east-1.amazonaws.com", "us-east-1"],
  ])("refuses a proof for an STS host that does not exist: %s", async (_what, stsUrl, region) => {
    const proof = await craftProof({ credentials: session, stsUrl, region, orgUuid: ORG });
    expect(await refusal(proof)).toMatchObject({ status: 401, code: "StsHostNotAllowed", detail: `the proof's URL ${new URL(stsUrl).origin} is not an AWS STS endpoint` });
  });

  it("refuses a proof signed with long-term access keys, which carries no session token", async () => {
    const proof = await craftProof({ credentials: moto.baseCredentials, orgUuid: ORG });
    expect(await refusal(proof)).toMatchObject({
      status: 401,
      code: "SessionTokenMissing",
      detail: expect.stringContaining("no signed X-Amz-Security-Token: sign it with temporary credentials"),
    });
  });

  it("refuses a proof whose X-Amz-Date is another day than its credential scope, as STS does", async () => {
    const proof = tamper(await goodProof(), (p) => {
      const date = p.headers["X-Amz-Date"]![0]!;
      const nextDay = new Date(Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8) + 1)).toISOString().slice(0, 10).replace(/-/g, "");
      return { ...p, headers: { ...p.headers, "X-Amz-Date": [`${nextDay}${date.slice(8)}`] } };
    });
    expect(await refusal(proof)).toMatchObject({ status: 401, code: "StsRejected", detail: expect.stringContaining("Date in Credential scope does not match") });
  });

  it("refuses a request without a Delegated authorization", async () => {
    expect(await exchange(undefined)).toMatchObject({ status: 401, code: "MissingProof", detail: expect.stringContaining("Authorization: Delegated") });
  });

  it("refuses a proof that is not four base64 parts", async () => {
    expect(await refusal("not-a-proof")).toMatchObject({ status: 401, code: "MalformedProof", detail: expect.stringContaining("4 '|'-separated parts") });
  });

  it("refuses a validly signed proof that carries no x-ddog-org-id", async () => {
    const proof = await craftProof({ credentials: session });
    expect(await refusal(proof)).toMatchObject({ status: 401, code: "OrgHeaderMissing", detail: expect.stringContaining("no x-ddog-org-id header") });
  });

  it("refuses a proof whose x-ddog-org-id is present but not signed", async () => {
    const proof = await craftProof({ credentials: session, orgUuid: ORG, leaveOrgHeaderUnsigned: true });
    expect(await refusal(proof)).toMatchObject({ status: 401, code: "OrgHeaderNotSigned", detail: expect.stringContaining("not among its SigV4 SignedHeaders") });
  });

  it("refuses a signed proof for an org this site does not serve", async () => {
    expect(await refusal(await goodProof({ orgUuid: UNSERVED_ORG }))).toMatchObject({
      status: 403,
      code: "UnknownOrg",
      detail: expect.stringContaining(`org ${UNSERVED_ORG} is not served here`),
    });
  });

  it("refuses a signed proof for an org that does not map the caller's role", async () => {
    expect(await refusal(await goodProof({ orgUuid: OTHER_ORG }))).toMatchObject({
      status: 403,
      code: "IdentityNotMapped",
      detail: expect.stringContaining(`assumed-role/ddcred-test/pod-a is not mapped to a user in org ${OTHER_ORG}`),
    });
  });

  it("refuses a proof signed more than five minutes ago", async () => {
    expect(await refusal(await goodProof({ now: new Date(Date.now() - 10 * 60_000) }))).toMatchObject({
      status: 401,
      code: "ProofStale",
      detail: expect.stringContaining("proofs older than 300 s are refused"),
    });
  });

  it("refuses a proof dated in the future", async () => {
    expect(await refusal(await goodProof({ now: new Date(Date.now() + 10 * 60_000) }))).toMatchObject({
      status: 401,
      code: "ProofFromFuture",
      detail: expect.stringContaining("in the future"),
    });
  });

  it("refuses a proof whose signed org header was swapped for another org", async () => {
    const swapped = tamper(await goodProof(), (p) => ({ ...p, headers: { ...p.headers, "x-ddog-org-id": [OTHER_ORG] } }));
    expect(await refusal(swapped)).toMatchObject({ status: 401, code: "StsRejected", detail: expect.stringContaining("SignatureDoesNotMatch") });
  });

  it("refuses a proof whose body was altered after signing", async () => {
    const reordered = tamper(await goodProof(), (p) => ({ ...p, body: "Version=2011-06-15&Action=GetCallerIdentity" }));
    expect(await refusal(reordered)).toMatchObject({ status: 401, code: "StsRejected", detail: expect.stringContaining("SignatureDoesNotMatch") });
  });

  it("refuses a proof signed with a secret that is not the session's", async () => {
    const forged = await buildDelegatedProof({ credentials: { ...session, secretAccessKey: "forged" }, region: "us-east-1", orgUuid: ORG });
    expect(await refusal(forged)).toMatchObject({ status: 401, code: "StsRejected", detail: expect.stringContaining("SignatureDoesNotMatch") });
  });

  it("refuses a signed request for another STS action", async () => {
    const proof = await craftProof({ credentials: session, orgUuid: ORG, body: "Action=GetSessionToken&Version=2011-06-15" });
    expect(await refusal(proof)).toMatchObject({ status: 401, code: "NotGetCallerIdentity", detail: expect.stringContaining("GetCallerIdentity") });
  });

  it("refuses a proof pointed at a URL that is not an STS endpoint, without calling it", async () => {
    const hitsBefore = bystanderHits;
    const redirected = tamper(await goodProof(), (p) => ({ ...p, url: bystanderUrl }));
    expect(await refusal(redirected)).toMatchObject({ status: 401, code: "StsHostNotAllowed", detail: expect.stringContaining("is not an AWS STS endpoint") });
    const signedForBystander = await craftProof({ credentials: session, stsUrl: bystanderUrl, orgUuid: ORG });
    expect(await refusal(signedForBystander)).toMatchObject({ status: 401, code: "StsHostNotAllowed" });
    expect(bystanderHits).toBe(hitsBefore);
  });

  it("refuses a proof whose URL names another STS host than its signed Host header", async () => {
    const moved = tamper(await goodProof(), (p) => ({ ...p, url: "https://sts.us-west-2.amazonaws.com" }));
    expect(await refusal(moved)).toMatchObject({ status: 401, code: "HostMismatch", detail: expect.stringContaining("must name the host of its URL") });
  });

  it("refuses a proof older than STS's fifteen minutes even where the verifier's own window is longer", async () => {
    const lenient = createDatadogTokenService({ stsUrl: moto.url, orgs: [{ uuid: ORG, roleArns: [moto.roleArn("ddcred-test")] }], maxProofAgeSeconds: 3600 });
    const lenientUrl = await lenient.listen();
    try {
      const proof = await goodProof({ now: new Date(Date.now() - 20 * 60_000) });
      const response = await fetch(`${lenientUrl}/api/v2/delegated-token`, { method: "POST", headers: { Authorization: `Delegated ${proof}` } });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ errors: [{ code: "StsRejected", detail: expect.stringContaining("SignatureDoesNotMatch (Signature expired") }] });
    } finally {
      await lenient.close();
    }
  });

  it("answers 502 when STS cannot be reached to verify a proof, saying to try again", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const unreachable = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const cut = createDatadogTokenService({ stsUrl: unreachable, orgs: [{ uuid: ORG, roleArns: [moto.roleArn("ddcred-test")] }] });
    const cutUrl = await cut.listen();
    try {
      const response = await fetch(`${cutUrl}/api/v2/delegated-token`, { method: "POST", headers: { Authorization: `Delegated ${await goodProof()}` } });
      expect(response.status).toBe(502);
      expect(await response.json()).toMatchObject({ errors: [{ code: "StsUnavailable", detail: expect.stringMatching(/^could not reach STS to verify the proof \(.*\); try again$/) }] });
    } finally {
      await cut.close();
    }
  });

  it("answers refusals in Datadog's JSON:API error shape", async () => {
    const { body } = await exchange(undefined);
    expect(body).toEqual({ errors: [{ status: "401", code: "MissingProof", title: "Unauthorized", detail: expect.any(String) }] });
  });
});
