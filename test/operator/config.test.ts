import { describe, expect, it } from "vitest";
import { parseOperatorConfig } from "../../src/operator/config.js";

describe("the operator's configuration", () => {
  it("has defaults that run a controller behind leader election and a webhook", () => {
    const parsed = parseOperatorConfig({ DDCRED_POD_NAME: "op-0", DDCRED_AGENT_IMAGE: "registry.example/ddcred:1" });
    expect(parsed.ok && parsed.config).toMatchObject({
      namespace: "ddcred-system",
      podName: "op-0",
      controller: { enabled: true },
      leaderElection: { enabled: true, leaseName: "ddcred-operator", leaseDurationSeconds: 15 },
      webhook: { enabled: true, port: 9443, tlsMode: "self-managed" },
      injection: { agentImage: "registry.example/ddcred:1", operatorNamespace: "ddcred-system", apiPort: 9911, metricsPort: 9912 },
    });
  });

  it("reads the agent settings the chart passes", () => {
    const parsed = parseOperatorConfig({
      DDCRED_NAMESPACE: "ops",
      DDCRED_AGENT_IMAGE: "img",
      DDCRED_AGENT_COMMAND: '["node","/app/dist/agent.mjs"]',
      DDCRED_AGENT_RESOURCES: '{"requests":{"cpu":"5m","memory":"32Mi"},"limits":{"memory":"64Mi"}}',
      DDCRED_AGENT_DATADOG_API_URL: "http://127.0.0.1:8126",
    });
    expect(parsed.ok && parsed.config.injection).toMatchObject({
      agentCommand: ["node", "/app/dist/agent.mjs"],
      agentResources: { requests: { cpu: "5m", memory: "32Mi" }, limits: { memory: "64Mi" } },
      datadogApiUrl: "http://127.0.0.1:8126",
      operatorNamespace: "ops",
    });
  });

  it("reads plain extra env for the agents and refuses entries that would override ddcred's own settings", () => {
    const good = parseOperatorConfig({
      DDCRED_AGENT_IMAGE: "img",
      DDCRED_AGENT_EXTRA_ENV: '[{"name":"AWS_ENDPOINT_URL_STS","value":"https://sts.example"}]',
    });
    expect(good.ok && good.config.injection.agentExtraEnv).toEqual([{ name: "AWS_ENDPOINT_URL_STS", value: "https://sts.example" }]);
    for (const bad of ['[{"name":"DDCRED_AWS_ROLE_ARN","value":"x"}]', '[{"name":"A B","value":"x"}]', '[{"name":"X","valueFrom":{}}]', '{"X":"y"}']) {
      const parsed = parseOperatorConfig({ DDCRED_AGENT_IMAGE: "img", DDCRED_AGENT_EXTRA_ENV: bad });
      expect(parsed.ok ? [] : parsed.errors, bad).toEqual([expect.stringMatching(/^DDCRED_AGENT_EXTRA_ENV must be a JSON array/)]);
    }
  });

  it("reads the agent image's pull secrets as Secret names and refuses anything else", () => {
    const good = parseOperatorConfig({ DDCRED_AGENT_IMAGE: "img", DDCRED_AGENT_IMAGE_PULL_SECRETS: '["registry-credentials"]' });
    expect(good.ok && good.config.injection.agentImagePullSecrets).toEqual(["registry-credentials"]);
    for (const bad of ['[{"name":"registry-credentials"}]', '["Not_A_Name"]', '"registry-credentials"']) {
      const parsed = parseOperatorConfig({ DDCRED_AGENT_IMAGE: "img", DDCRED_AGENT_IMAGE_PULL_SECRETS: bad });
      expect(parsed.ok ? [] : parsed.errors, bad).toEqual([expect.stringMatching(/^DDCRED_AGENT_IMAGE_PULL_SECRETS must be a JSON array of Secret names/)]);
    }
  });

  it("requires the agent image only when the webhook runs", () => {
    expect(parseOperatorConfig({}).ok).toBe(false);
    expect(parseOperatorConfig({ DDCRED_WEBHOOK_ENABLED: "false" }).ok).toBe(true);
  });

  it("names each bad variable", () => {
    const parsed = parseOperatorConfig({
      DDCRED_HEALTH_PORT: "http",
      DDCRED_TLS_MODE: "magic",
      DDCRED_LEADER_ELECTION: "yes",
      DDCRED_AGENT_COMMAND: "node agent.mjs",
      DDCRED_AGENT_IMAGE: "img",
    });
    expect(parsed.ok).toBe(false);
    const errors = parsed.ok ? [] : parsed.errors;
    expect(errors).toEqual(
      expect.arrayContaining([expect.stringMatching(/^DDCRED_HEALTH_PORT/), expect.stringMatching(/^DDCRED_TLS_MODE/), expect.stringMatching(/^DDCRED_LEADER_ELECTION/), expect.stringMatching(/^DDCRED_AGENT_COMMAND/)]),
    );
  });

  it("rejects lease timings that cannot work", () => {
    const parsed = parseOperatorConfig({ DDCRED_LEASE_DURATION_SECONDS: "5", DDCRED_RENEW_DEADLINE_SECONDS: "5", DDCRED_AGENT_IMAGE: "img" });
    expect(parsed.ok ? [] : parsed.errors).toEqual([expect.stringContaining("DDCRED_RENEW_DEADLINE_SECONDS must be shorter")]);
  });

  it("reads the serving certificate's extra names and the certificate lifetimes", () => {
    const parsed = parseOperatorConfig({
      DDCRED_AGENT_IMAGE: "img",
      DDCRED_WEBHOOK_EXTRA_SANS: "127.0.0.1, webhook.example.com,::1",
      DDCRED_TLS_CERT_VALIDITY_SECONDS: "6",
      DDCRED_TLS_CA_VALIDITY_SECONDS: "15",
    });
    expect(parsed.ok && parsed.config.webhook).toMatchObject({
      extraSans: { dnsNames: ["webhook.example.com"], ipAddresses: ["127.0.0.1", "::1"] },
      certificateValiditySeconds: 6,
      caValiditySeconds: 15,
    });
  });

  it("defaults to a one-year serving certificate, a ten-year CA and no extra names", () => {
    const parsed = parseOperatorConfig({ DDCRED_AGENT_IMAGE: "img" });
    expect(parsed.ok && parsed.config.webhook).toMatchObject({
      extraSans: { dnsNames: [], ipAddresses: [] },
      certificateValiditySeconds: 365 * 86_400,
      caValiditySeconds: 3_650 * 86_400,
    });
  });

  it("rejects an extra name that is neither a DNS name nor an IP address, and a serving certificate that outlives its CA", () => {
    const parsed = parseOperatorConfig({
      DDCRED_AGENT_IMAGE: "img",
      DDCRED_WEBHOOK_EXTRA_SANS: "https://webhook.example.com",
      DDCRED_TLS_CERT_VALIDITY_SECONDS: "100",
      DDCRED_TLS_CA_VALIDITY_SECONDS: "100",
    });
    expect(parsed.ok ? [] : parsed.errors).toEqual([
      expect.stringMatching(/^DDCRED_WEBHOOK_EXTRA_SANS .*"https:\/\/webhook.example.com"/),
      expect.stringContaining("DDCRED_TLS_CERT_VALIDITY_SECONDS must be shorter than DDCRED_TLS_CA_VALIDITY_SECONDS"),
    ]);
  });
});
