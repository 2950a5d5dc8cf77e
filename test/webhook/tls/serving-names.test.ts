import { describe, expect, it } from "vitest";
import { namesCovered, servingNames } from "../../../src/webhook/tls/serving-names.js";

describe("the serving certificate's names", () => {
  it("covers every form of the Service's DNS name, then the extra names", () => {
    expect(servingNames("hook", "ops", { dnsNames: ["hook.example"], ipAddresses: ["127.0.0.1"] })).toEqual({
      dnsNames: ["hook.ops.svc", "hook.ops.svc.cluster.local", "hook.ops", "hook", "hook.example"],
      ipAddresses: ["127.0.0.1"],
    });
  });

  it("counts names as covered whatever their case, and IPv6 addresses whatever their spelling", () => {
    const have = { dnsNames: ["Hook.Ops.svc"], ipAddresses: ["0:0:0:0:0:0:0:1"] };
    expect(namesCovered(have, { dnsNames: ["hook.ops.svc"], ipAddresses: ["::1"] })).toBe(true);
    expect(namesCovered(have, { dnsNames: ["hook.ops"], ipAddresses: [] })).toBe(false);
    expect(namesCovered(have, { dnsNames: [], ipAddresses: ["127.0.0.1"] })).toBe(false);
  });
});
