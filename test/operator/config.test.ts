import { describe, expect, it } from "vitest";
import { parseOperatorConfig } from "../../src/operator/config.js";

describe("the operator's configuration", () => {
  it("has defaults that run a controller behind leader election and a webhook", () => {
    const parsed = parseOperatorConfig({ DDCRED_POD_NAME: "op-0" });
    expect(parsed.ok && parsed.config).toMatchObject({
      namespace: "ddcred-system",
      podName: "op-0",
      controller: { enabled: true },
      leaderElection: { enabled: true, leaseName: "ddcred-operator", leaseDurationSeconds: 15 },
      webhook: { enabled: true, port: 9443, tlsMode: "self-managed" },
    });
  });

  it("names each bad variable", () => {
    const parsed = parseOperatorConfig({ DDCRED_HEALTH_PORT: "http", DDCRED_TLS_MODE: "magic", DDCRED_LEADER_ELECTION: "yes" });
    expect(parsed.ok).toBe(false);
    const errors = parsed.ok ? [] : parsed.errors;
    expect(errors).toEqual(
      expect.arrayContaining([expect.stringMatching(/^DDCRED_HEALTH_PORT/), expect.stringMatching(/^DDCRED_TLS_MODE/), expect.stringMatching(/^DDCRED_LEADER_ELECTION/)]),
    );
  });

  it("rejects lease timings that cannot work", () => {
    const parsed = parseOperatorConfig({ DDCRED_LEASE_DURATION_SECONDS: "5", DDCRED_RENEW_DEADLINE_SECONDS: "5" });
    expect(parsed.ok ? [] : parsed.errors).toEqual([expect.stringContaining("DDCRED_RENEW_DEADLINE_SECONDS must be shorter")]);
  });
});
