// Which STS hosts exist and the region each one's signatures are scoped to.
import { describe, expect, it } from "vitest";
import { signingRegionOfStsHost } from "./sts-hosts.js";

describe("signingRegionOfStsHost", () => {
  it("scopes the global endpoint to us-east-1", () => {
    expect(signingRegionOfStsHost("sts.amazonaws.com")).toBe("us-east-1");
  });

  it("scopes a regional endpoint to its own region, in each partition", () => {
    expect(signingRegionOfStsHost("sts.eu-west-1.amazonaws.com")).toBe("eu-west-1");
    expect(signingRegionOfStsHost("sts.us-gov-west-1.amazonaws.com")).toBe("us-gov-west-1");
    expect(signingRegionOfStsHost("sts.cn-northwest-1.amazonaws.com.cn")).toBe("cn-northwest-1");
  });

  it("knows the FIPS endpoints of the US regions", () => {
    expect(signingRegionOfStsHost("sts-fips.us-east-2.amazonaws.com")).toBe("us-east-2");
    expect(signingRegionOfStsHost("sts-fips.eu-west-1.amazonaws.com")).toBeUndefined();
  });

  it("knows no China region under amazonaws.com, no global endpoint in China and no invented region", () => {
    expect(signingRegionOfStsHost("sts.cn-north-1.amazonaws.com")).toBeUndefined();
    expect(signingRegionOfStsHost("sts.amazonaws.com.cn")).toBeUndefined();
    expect(signingRegionOfStsHost("sts.us-north-9.amazonaws.com")).toBeUndefined();
    expect(signingRegionOfStsHost("sts.eu-west-1.amazonaws.com.evil.example")).toBeUndefined();
  });
});
