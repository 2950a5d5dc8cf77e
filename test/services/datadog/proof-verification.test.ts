// The test Datadog service refuses every proof Datadog must refuse, with the
// status Datadog documents (401: the proof proves nothing; 403: a proven
// identity the org does not map) and a message that says what is wrong.
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

  const goodProof = (overrides: { orgUuid?: string; now?: Date } = {}) =>
    buildDelegatedProof({ credentials: session, region: "us-east-1", orgUuid: ORG, stsUrl: moto.url, ...overrides });

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

  it("accepts an untouched proof (the baseline every refusal below departs from)", async () => {
    expect((await exchange(`Delegated ${await goodProof()}`)).status).toBe(200);
  });

  it("refuses a request without a Delegated authorization", async () => {
    expect(await exchange(undefined)).toMatchObject({ status: 401, code: "MissingProof", detail: expect.stringContaining("Authorization: Delegated") });
  });

  it("refuses a proof that is not four base64 parts", async () => {
    expect(await refusal("not-a-proof")).toMatchObject({ status: 401, code: "MalformedProof", detail: expect.stringContaining("4 '|'-separated parts") });
  });

  it("refuses a validly signed proof that carries no x-ddog-org-id", async () => {
    const proof = await craftProof({ credentials: session, stsUrl: moto.url });
    expect(await refusal(proof)).toMatchObject({ status: 401, code: "OrgHeaderMissing", detail: expect.stringContaining("no x-ddog-org-id header") });
  });

  it("refuses a proof whose x-ddog-org-id is present but not signed", async () => {
    const proof = await craftProof({ credentials: session, stsUrl: moto.url, orgUuid: ORG, leaveOrgHeaderUnsigned: true });
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
    const forged = await buildDelegatedProof({ credentials: { ...session, secretAccessKey: "forged" }, region: "us-east-1", orgUuid: ORG, stsUrl: moto.url });
    expect(await refusal(forged)).toMatchObject({ status: 401, code: "StsRejected", detail: expect.stringContaining("SignatureDoesNotMatch") });
  });

  it("refuses a signed request for another STS action", async () => {
    const proof = await craftProof({ credentials: session, stsUrl: moto.url, orgUuid: ORG, body: "Action=GetSessionToken&Version=2011-06-15" });
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

  it("answers refusals in Datadog's JSON:API error shape", async () => {
    const { body } = await exchange(undefined);
    expect(body).toEqual({ errors: [{ status: "401", code: "MissingProof", title: "Unauthorized", detail: expect.any(String) }] });
  });
});
