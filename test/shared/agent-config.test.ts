import { describe, expect, it } from "vitest";
import { AGENT_ENV, agentEnv, parseAgentConfig } from "../../src/shared/agent-config.js";
import { resolveGrantSpec } from "../../src/shared/grant.js";

const spec = resolveGrantSpec({
  podSelector: {},
  aws: { roleArn: "arn:aws-us-gov:iam::123456789012:role/team/x", region: "us-gov-west-1", sessionDuration: "1h30m", externalId: "ext" },
  datadog: { orgUuid: "0f8fad5b-d9cb-469f-a165-70867728950e", site: "ddog-gov.com", intakeKey: true },
});

/** What the kubelet makes of the env: downward-API fields resolved. */
function asContainerEnv(env: ReturnType<typeof agentEnv>): Record<string, string> {
  const fields: Record<string, string> = { "metadata.name": "worker-0", "metadata.namespace": "ray", "status.podIP": "10.1.2.3" };
  return Object.fromEntries(env.map((e) => [e.name, e.value ?? fields[e.valueFrom!.fieldRef.fieldPath]!]));
}

describe("the agent's configuration", () => {
  it("reads back exactly what the webhook writes", () => {
    const env = agentEnv("ray-grant", spec, { apiPort: 9911, metricsPort: 9912, logLevel: "info" });
    const parsed = parseAgentConfig(asContainerEnv(env));
    expect(parsed).toEqual({
      ok: true,
      config: {
        grantName: "ray-grant",
        podName: "worker-0",
        podNamespace: "ray",
        aws: {
          roleArn: "arn:aws-us-gov:iam::123456789012:role/team/x",
          region: "us-gov-west-1",
          sessionDurationSeconds: 5400,
          externalId: "ext",
          exposeToWorkload: true,
        },
        datadog: { orgUuid: "0f8fad5b-d9cb-469f-a165-70867728950e", site: "ddog-gov.com", apiToken: true, intakeKey: true, apiUrl: "https://api.ddog-gov.com", intakeKeyRefreshSeconds: 3600 },
        apiPort: 9911,
        metricsPort: 9912,
        metricsAddress: "10.1.2.3",
        credentialsDir: "/var/run/ddcred",
        logLevel: "info",
      },
    });
  });

  it("carries no secret in the env it writes", () => {
    const env = agentEnv("g", spec, { apiPort: 9911, metricsPort: 9912, logLevel: "info", datadogApiUrl: "http://127.0.0.1:1" });
    expect(env.map((e) => e.name).filter((n) => /SECRET|TOKEN$|PASSWORD|KEY$/.test(n))).toEqual([
      AGENT_ENV.apiToken,
      AGENT_ENV.intakeKey,
    ]);
    expect(env.find((e) => e.name === AGENT_ENV.apiToken)?.value).toBe("true");
  });

  it("names every bad variable", () => {
    const parsed = parseAgentConfig({
      [AGENT_ENV.roleArn]: "arn:aws:iam::1:role/x",
      [AGENT_ENV.region]: "mars",
      [AGENT_ENV.orgUuid]: "nope",
      [AGENT_ENV.site]: "example.com",
      [AGENT_ENV.apiPort]: "99999",
      [AGENT_ENV.exposeToWorkload]: "yes",
    });
    expect(parsed.ok).toBe(false);
    const errors = parsed.ok ? [] : parsed.errors;
    for (const name of [
      AGENT_ENV.grantName,
      AGENT_ENV.podName,
      AGENT_ENV.roleArn,
      AGENT_ENV.region,
      AGENT_ENV.orgUuid,
      AGENT_ENV.site,
      AGENT_ENV.apiPort,
      AGENT_ENV.exposeToWorkload,
    ]) {
      expect(errors.some((e) => e.startsWith(name))).toBe(true);
    }
  });
});
