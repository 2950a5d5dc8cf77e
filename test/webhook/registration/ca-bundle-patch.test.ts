import { describe, expect, it } from "vitest";
import { caBundlePatch, encodeCaBundle } from "../../../src/webhook/registration/ca-bundle-patch.js";

const bundle = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

describe("the caBundle patch", () => {
  it("sets caBundle on every webhook that lacks it or has another, guarded by the resourceVersion it was computed from", () => {
    const patch = caBundlePatch(
      {
        resourceVersion: "42",
        webhooks: [
          { name: "pods.ddcred.io", caBundle: undefined },
          { name: "other.ddcred.io", caBundle: encodeCaBundle(bundle) },
          { name: "third.ddcred.io", caBundle: "b2xk" },
        ],
      },
      bundle,
    );
    expect(patch).toEqual([
      { op: "test", path: "/metadata/resourceVersion", value: "42" },
      { op: "add", path: "/webhooks/0/clientConfig/caBundle", value: encodeCaBundle(bundle) },
      { op: "add", path: "/webhooks/2/clientConfig/caBundle", value: encodeCaBundle(bundle) },
    ]);
  });

  it("is empty when every webhook already trusts the bundle", () => {
    expect(caBundlePatch({ resourceVersion: "7", webhooks: [{ name: "pods.ddcred.io", caBundle: encodeCaBundle(bundle) }] }, bundle)).toEqual([]);
  });
});
