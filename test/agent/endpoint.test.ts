import { describe, expect, it } from "vitest";
import { resolveStsEndpoints } from "../../src/agent/aws/endpoint.js";

describe("resolveStsEndpoints", () => {
  it("assumes the role at the regional endpoint of its region", () => {
    expect(resolveStsEndpoints("arn:aws:iam::123456789012:role/app", "eu-west-1", {})).toEqual({
      ok: true,
      assumeRoleUrl: "https://sts.eu-west-1.amazonaws.com",
      proofUrl: "https://sts.eu-west-1.amazonaws.com",
    });
  });

  it("uses the China partition's domain for an aws-cn role", () => {
    expect(resolveStsEndpoints("arn:aws-cn:iam::123456789012:role/app", "cn-north-1", {})).toMatchObject({
      assumeRoleUrl: "https://sts.cn-north-1.amazonaws.com.cn",
    });
  });

  it("uses the GovCloud regional endpoint for an aws-us-gov role", () => {
    expect(resolveStsEndpoints("arn:aws-us-gov:iam::123456789012:role/app", "us-gov-west-1", {})).toMatchObject({
      assumeRoleUrl: "https://sts.us-gov-west-1.amazonaws.com",
    });
  });

  it("sends AssumeRole to AWS_ENDPOINT_URL_STS but still signs the Datadog proof for the public endpoint", () => {
    const endpoints = resolveStsEndpoints("arn:aws:iam::123456789012:role/app", "us-east-1", {
      AWS_ENDPOINT_URL_STS: "http://127.0.0.1:5000/",
      AWS_ENDPOINT_URL: "http://127.0.0.1:6000",
    });
    expect(endpoints).toEqual({ ok: true, assumeRoleUrl: "http://127.0.0.1:5000", proofUrl: "https://sts.us-east-1.amazonaws.com" });
  });

  it("falls back to AWS_ENDPOINT_URL when no STS-specific endpoint is set", () => {
    expect(resolveStsEndpoints("arn:aws:iam::123456789012:role/app", "us-east-1", { AWS_ENDPOINT_URL: "http://127.0.0.1:6000" })).toMatchObject({
      assumeRoleUrl: "http://127.0.0.1:6000",
    });
  });

  it("refuses a region outside the role's partition, naming the variable to fix", () => {
    const result = resolveStsEndpoints("arn:aws-cn:iam::123456789012:role/app", "us-east-1", {});
    expect(result).toMatchObject({ ok: false, reason: "InvalidRequest" });
    expect(!result.ok && result.message).toMatch(/DDCRED_AWS_REGION "us-east-1" is not in the role's partition aws-cn/);
  });
});
