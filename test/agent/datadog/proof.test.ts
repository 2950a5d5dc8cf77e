// The delegated proof's format, and that it is the official clients' protocol:
// for the same credentials, org, region and instant, datadog-api-client
// (Python) signs exactly the same request.
import { describe, expect, it } from "vitest";
import { buildDelegatedProof, stsEndpointUrl } from "../../../src/agent/datadog/proof.js";
import { runDatadogPythonClient } from "../../harness/datadog-python.js";
import { decodeProofParts } from "../../services/datadog/proof-crafting.js";

const ORG = "0f8f2a4e-1c2b-4d3e-9f00-1234567890ab";
const SESSION = { accessKeyId: "ASIAEXAMPLEEXAMPLE01", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", sessionToken: "FwoGZXIvYXdzEXAMPLE//token==" };
const AT = new Date("2025-01-02T03:04:05Z");

const signedHeadersOf = (authorization: string) => /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(";") ?? [];

describe("buildDelegatedProof", () => {
  it("joins base64 body, base64 headers JSON, POST and base64 STS URL with '|'", async () => {
    const proof = await buildDelegatedProof({ credentials: SESSION, region: "us-east-1", orgUuid: ORG, now: AT });
    const parts = proof.split("|");
    expect(parts).toHaveLength(4);
    expect(parts[2]).toBe("POST");
    const decoded = decodeProofParts(proof);
    expect(decoded.body).toBe("Action=GetCallerIdentity&Version=2011-06-15");
    expect(decoded.url).toBe("https://sts.us-east-1.amazonaws.com");
  });

  it("writes headers as Go's http.Header JSON, name to a list of values, with the org id", async () => {
    const { headers } = decodeProofParts(await buildDelegatedProof({ credentials: SESSION, region: "us-east-1", orgUuid: ORG, now: AT }));
    expect(Object.values(headers).every((values) => Array.isArray(values) && values.length === 1)).toBe(true);
    expect(headers["x-ddog-org-id"]).toEqual([ORG]);
    expect(headers["X-Amz-Date"]).toEqual(["20250102T030405Z"]);
    expect(headers.host).toEqual(["sts.us-east-1.amazonaws.com"]);
    expect(headers["X-Amz-Security-Token"]).toEqual([SESSION.sessionToken]);
  });

  it("covers the org id, host, date, body headers and session token by the signature", async () => {
    const { headers } = decodeProofParts(await buildDelegatedProof({ credentials: SESSION, region: "eu-west-1", orgUuid: ORG, now: AT }));
    const authorization = headers.Authorization?.[0] ?? "";
    expect(authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEEXAMPLE01\/20250102\/eu-west-1\/sts\/aws4_request, /);
    expect(signedHeadersOf(authorization)).toEqual(["content-length", "content-type", "host", "x-amz-date", "x-amz-security-token", "x-ddog-org-id"]);
  });

  it("leaves out the security token header for long-term credentials", async () => {
    const { accessKeyId, secretAccessKey } = SESSION;
    const { headers } = decodeProofParts(await buildDelegatedProof({ credentials: { accessKeyId, secretAccessKey }, region: "us-east-1", orgUuid: ORG, now: AT }));
    expect(headers["X-Amz-Security-Token"]).toBeUndefined();
    expect(signedHeadersOf(headers.Authorization?.[0] ?? "")).not.toContain("x-amz-security-token");
  });

  it("targets an explicit STS URL (AWS_ENDPOINT_URL_STS) and signs its host", async () => {
    const { headers, url } = decodeProofParts(
      await buildDelegatedProof({ credentials: SESSION, region: "us-east-1", orgUuid: ORG, now: AT, stsUrl: "http://127.0.0.1:5000" }),
    );
    expect(url).toBe("http://127.0.0.1:5000");
    expect(headers.host).toEqual(["127.0.0.1:5000"]);
  });

  it("signs the same request as datadog-api-client (Python) for the same session, org, region and time", async () => {
    const ours = decodeProofParts(await buildDelegatedProof({ credentials: SESSION, region: "us-east-1", orgUuid: ORG, now: AT }));
    const python = await runDatadogPythonClient(["proof", "--org", ORG, "--region", "us-east-1", "--at", "2025-01-02T03:04:05"], {
      AWS_ACCESS_KEY_ID: SESSION.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SESSION.secretAccessKey,
      AWS_SESSION_TOKEN: SESSION.sessionToken,
    });
    const theirs = decodeProofParts(python.output.proof as string);
    const withoutUserAgent = ({ "User-Agent": _, ...rest }: Record<string, string[]>) => rest;
    expect(withoutUserAgent(ours.headers)).toEqual(withoutUserAgent(theirs.headers));
    expect(Object.keys(ours.headers)).toEqual(Object.keys(theirs.headers));
    expect([ours.body, ours.method, ours.url]).toEqual([theirs.body, theirs.method, theirs.url]);
  });

  it("refuses to build a proof without an org", async () => {
    await expect(buildDelegatedProof({ credentials: SESSION, region: "us-east-1", orgUuid: "" })).rejects.toThrow(TypeError);
  });
});

describe("stsEndpointUrl", () => {
  it.each([
    ["us-east-1", "https://sts.us-east-1.amazonaws.com"],
    ["eu-central-2", "https://sts.eu-central-2.amazonaws.com"],
    ["us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com"],
    ["cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn"],
    ["cn-northwest-1", "https://sts.cn-northwest-1.amazonaws.com.cn"],
  ])("maps %s to %s", (region, url) => {
    expect(stsEndpointUrl(region)).toBe(url);
  });
});
