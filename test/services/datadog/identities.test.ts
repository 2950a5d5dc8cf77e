// Which STS callers an org's role list admits: a role session matches its
// role (STS drops the role's path from assumed-role ARNs), nothing else does.
import { describe, expect, it } from "vitest";
import { isMapped } from "./identities.js";

const ROLE = "arn:aws:iam::123456789012:role/team/ddcred-test";

describe("isMapped", () => {
  it("matches a session of a listed role, whose ARN carries no path", () => {
    expect(isMapped("arn:aws:sts::123456789012:assumed-role/ddcred-test/pod-a", [ROLE])).toBe(true);
  });

  it("does not match a session of a role with the same name in another account", () => {
    expect(isMapped("arn:aws:sts::210987654321:assumed-role/ddcred-test/pod-a", [ROLE])).toBe(false);
  });

  it("does not match a session of a role with the same name in another partition", () => {
    expect(isMapped("arn:aws-cn:sts::123456789012:assumed-role/ddcred-test/pod-a", [ROLE])).toBe(false);
  });

  it("does not match a session of a role whose name only starts like a listed one", () => {
    expect(isMapped("arn:aws:sts::123456789012:assumed-role/ddcred-test-admin/pod-a", [ROLE])).toBe(false);
  });

  it("does not let an IAM user stand in for a role of the same name", () => {
    expect(isMapped("arn:aws:iam::123456789012:user/ddcred-test", [ROLE])).toBe(false);
  });

  it("matches an IAM user only by its exact ARN", () => {
    const user = "arn:aws:iam::123456789012:user/ops/ci";
    expect(isMapped(user, [user])).toBe(true);
    expect(isMapped("arn:aws:iam::123456789012:user/ci", [user])).toBe(false);
  });

  it("matches nothing that is not an IAM or STS ARN", () => {
    expect(isMapped("not-an-arn", [ROLE])).toBe(false);
  });
});
