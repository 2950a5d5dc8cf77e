import { describe, expect, it } from "vitest";
import { heldByOther, microTime, nextLeaseRecord } from "../../src/shared/kube/leader-election.js";

describe("lease decisions", () => {
  const record = { holderIdentity: "a", leaseDurationSeconds: 15, renewTime: "x", leaseTransitions: 2, acquireTime: "t0" };

  it("treats a lease as held while its holder renewed within the duration, on our clock", () => {
    expect(heldByOther(record, "b", 1_000, 15_999)).toBe(true);
    expect(heldByOther(record, "b", 1_000, 16_000)).toBe(false);
  });

  it("never treats our own or a released lease as held by another", () => {
    expect(heldByOther(record, "a", 0, 0)).toBe(false);
    expect(heldByOther({ ...record, holderIdentity: "" }, "b", 0, 0)).toBe(false);
    expect(heldByOther(undefined, "b", 0, 0)).toBe(false);
  });

  it("keeps acquireTime and transitions on renewal, and counts a takeover", () => {
    const now = new Date("2026-11-25T12:00:00.123Z");
    expect(nextLeaseRecord(record, "a", now, 15)).toMatchObject({ acquireTime: "t0", leaseTransitions: 2, renewTime: "2026-11-25T12:00:00.123000Z" });
    expect(nextLeaseRecord(record, "b", now, 15)).toMatchObject({ holderIdentity: "b", acquireTime: microTime(now), leaseTransitions: 3 });
    expect(nextLeaseRecord(undefined, "b", now, 15)).toMatchObject({ leaseTransitions: 0 });
  });
});
