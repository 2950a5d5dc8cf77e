import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_ROLE_SESSION_NAME_LENGTH, roleSessionName } from "../../src/agent/aws/session-name.js";

const AWS_SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

describe("roleSessionName", () => {
  it("names the session after the pod's namespace and name", () => {
    expect(roleSessionName("team-a", "ray-head-x7k2p")).toBe("team-a.ray-head-x7k2p");
  });

  it("keeps a long pod name within AWS's 64 characters, ending in a hash of the whole name", () => {
    const name = roleSessionName("analytics-production", "raycluster-nightly-training-job-worker-group-large-gpu-7f9c4-xk2lp");
    expect(name).toHaveLength(MAX_ROLE_SESSION_NAME_LENGTH);
    expect(name).toMatch(/^analytics-production\.raycluster-nightly-.*-[0-9a-f]{8}$/);
  });

  it("gives two long names that share their first 64 characters different session names", () => {
    const prefix = "x".repeat(70);
    expect(roleSessionName("ns", `${prefix}-a`)).not.toBe(roleSessionName("ns", `${prefix}-b`));
  });

  it("always produces a name AWS accepts, whatever it is given", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 300 }), (namespace, pod) => {
        expect(roleSessionName(namespace, pod)).toMatch(AWS_SESSION_NAME);
      }),
    );
  });
});
