// The pure builders, pinned field by field (as vault-k8s pins its sidecar).
import { describe, expect, it } from "vitest";
import { parseAgentConfig } from "../../src/shared/agent-config.js";
import { resolveGrantSpec } from "../../src/shared/grant.js";
import { agentContainer } from "../../src/webhook/agent-container.js";
import { appEnv } from "../../src/webhook/app-env.js";
import { appContainerWiring } from "../../src/webhook/app-wiring.js";
import { mergedSkipContainers } from "../../src/webhook/base-identity.js";
import { credentialsMount, credentialsVolume, credentialsVolumeName } from "../../src/webhook/credentials-volume.js";
import { podMarkers } from "../../src/webhook/pod-markers.js";
import { grant, settings } from "./support/fixtures.js";

const spec = resolveGrantSpec(grant("ray-etl").spec);

describe("agentContainer", () => {
  const agent = agentContainer({ grantName: "ray-etl", spec, settings, volumeName: "ddcred" });

  it("is a native sidecar named ddcred-agent running the configured image and command", () => {
    expect(agent).toMatchObject({
      name: "ddcred-agent",
      image: "ghcr.io/ddcred/ddcred-operator:0.1.0",
      imagePullPolicy: "IfNotPresent",
      command: ["node", "/app/dist/agent.mjs"],
      restartPolicy: "Always",
    });
  });

  it("satisfies the restricted Pod Security Standard with a read-only root filesystem", () => {
    expect(agent.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
  });

  it("probes /readyz for startup and /healthz for liveness on the metrics port, which listens on the pod IP", () => {
    expect(agent.startupProbe).toEqual({
      httpGet: { path: "/readyz", port: 9912, scheme: "HTTP" },
      periodSeconds: 1,
      timeoutSeconds: 1,
      failureThreshold: 120,
      successThreshold: 1,
    });
    expect(agent.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: 9912, scheme: "HTTP" });
    expect(agent.env).toContainEqual({ name: "DDCRED_METRICS_ADDRESS", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } });
  });

  it("takes requests and limits from the settings", () => {
    expect(agent.resources).toEqual({ requests: { cpu: "10m", memory: "48Mi" }, limits: { memory: "96Mi" } });
  });

  it("mounts the credentials volume read-write at /var/run/ddcred", () => {
    expect(agent.volumeMounts).toEqual([{ name: "ddcred", mountPath: "/var/run/ddcred" }]);
  });

  it("gives the agent the configured extra env after its own settings", () => {
    const container = agentContainer({ grantName: "g", spec, settings: { ...settings, agentExtraEnv: [{ name: "AWS_ENDPOINT_URL_STS", value: "https://sts.example" }] }, volumeName: "ddcred" });
    expect(container.env!.at(-1)).toEqual({ name: "AWS_ENDPOINT_URL_STS", value: "https://sts.example" });
  });

  it("keeps the image's entrypoint when no command is configured", () => {
    const plain = agentContainer({ grantName: "g", spec, settings: { ...settings, agentCommand: [] }, volumeName: "ddcred" });
    expect(plain).not.toHaveProperty("command");
  });

  it("passes an env the agent parses back into the grant's configuration", () => {
    const literal = Object.fromEntries((agent.env ?? []).map((v) => [v.name, v.value ?? `from:${v.valueFrom?.fieldRef?.fieldPath}`]));
    const parsed = parseAgentConfig(literal);
    expect(parsed.ok && parsed.config).toMatchObject({
      grantName: "ray-etl",
      aws: { roleArn: spec.aws.roleArn, region: "us-east-1", sessionDurationSeconds: 3600, exposeToWorkload: true },
      datadog: { orgUuid: spec.datadog.orgUuid, site: "datadoghq.com", apiToken: true, intakeKey: false },
      apiPort: 9911,
      metricsPort: 9912,
      credentialsDir: "/var/run/ddcred",
    });
  });

  it("adds the base identity's env and token mount after its own", () => {
    const withIrsa = agentContainer({
      grantName: "g",
      spec,
      settings,
      volumeName: "ddcred",
      baseIdentity: {
        sourceContainer: "app",
        env: [{ name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token" }],
        mounts: [{ name: "aws-iam-token", mountPath: "/var/run/secrets/eks.amazonaws.com/serviceaccount", readOnly: true }],
      },
    });
    expect(withIrsa.env?.at(-1)).toEqual({ name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token" });
    expect(withIrsa.volumeMounts?.at(-1)).toEqual({ name: "aws-iam-token", mountPath: "/var/run/secrets/eks.amazonaws.com/serviceaccount", readOnly: true });
  });
});

describe("appEnv", () => {
  const names = (s: typeof spec) => appEnv(s, settings).map((v) => v.name);

  it("points at the token, the AWS config and the loopback credentials endpoint by default", () => {
    expect(appEnv(spec, settings)).toEqual([
      { name: "DD_SITE", value: "datadoghq.com" },
      { name: "DDCRED_ENDPOINT", value: "http://127.0.0.1:9911" },
      { name: "DD_BEARER_TOKEN_FILE", value: "/var/run/ddcred/datadog-token" },
      { name: "AWS_CONFIG_FILE", value: "/var/run/ddcred/aws-config" },
      { name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", value: "http://127.0.0.1:9911/v1/aws-credentials" },
      { name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", value: "/var/run/ddcred/agent-token" },
      { name: "AWS_REGION", value: "us-east-1" },
      { name: "AWS_DEFAULT_REGION", value: "us-east-1" },
    ]);
  });

  it("adds DD_API_KEY_FILE only when an intake key is granted and drops the bearer token file when no token is", () => {
    const intakeOnly = resolveGrantSpec(grant("g", { spec: { datadog: { apiToken: false, intakeKey: true } } }).spec);
    expect(names(intakeOnly)).toContain("DD_API_KEY_FILE");
    expect(names(intakeOnly)).not.toContain("DD_BEARER_TOKEN_FILE");
  });

  it("adds no AWS variable when the grant does not expose AWS credentials to the workload", () => {
    const datadogOnly = resolveGrantSpec(grant("g", { spec: { aws: { exposeToWorkload: false } } }).spec);
    expect(names(datadogOnly).filter((name) => name.startsWith("AWS_"))).toEqual([]);
  });
});

describe("appContainerWiring", () => {
  const mount = credentialsMount("ddcred", "readOnly");

  it("appends the env and the read-only mount after what the container has", () => {
    const { container, keptEnv } = appContainerWiring(
      { name: "main", env: [{ name: "X", value: "1" }] },
      [{ name: "DD_SITE", value: "datadoghq.com" }],
      mount,
    );
    expect(container.env).toEqual([{ name: "X", value: "1" }, { name: "DD_SITE", value: "datadoghq.com" }]);
    expect(container.volumeMounts).toEqual([{ name: "ddcred", mountPath: "/var/run/ddcred", readOnly: true }]);
    expect(keptEnv).toEqual([]);
  });

  it("leaves a variable the user set to another value alone and reports it", () => {
    const { container, keptEnv } = appContainerWiring(
      { name: "main", env: [{ name: "DD_SITE", valueFrom: { configMapKeyRef: { name: "dd", key: "site" } } }] },
      [{ name: "DD_SITE", value: "datadoghq.com" }],
      mount,
    );
    expect(container.env).toEqual([{ name: "DD_SITE", valueFrom: { configMapKeyRef: { name: "dd", key: "site" } } }]);
    expect(keptEnv).toEqual(["DD_SITE"]);
  });

  it("does not report a variable the user set to exactly our value", () => {
    const same = { name: "DD_SITE", value: "datadoghq.com" };
    expect(appContainerWiring({ name: "main", env: [same] }, [same], mount).keptEnv).toEqual([]);
  });
});

describe("credentials volume", () => {
  it("is a memory-backed emptyDir with the configured size limit", () => {
    expect(credentialsVolume("ddcred", "1Mi")).toEqual({ name: "ddcred", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } });
  });

  it("takes the next free name when the pod already has volumes named ddcred and ddcred-1", () => {
    const pod = { spec: { containers: [], volumes: [{ name: "ddcred" }, { name: "ddcred-1" }] } };
    expect(credentialsVolumeName(pod)).toBe("ddcred-2");
  });
});

describe("podMarkers", () => {
  it("labels the pod with the grant and annotates the grant and its generation", () => {
    const markers = podMarkers(grant("ray-etl", { generation: 7 }), {}, ["ray-head"]);
    expect(markers.labels).toEqual({ "ddcred.io/grant": "ray-etl" });
    expect(markers.annotations).toEqual({
      "ddcred.io/injected": "ray-etl",
      "ddcred.io/grant-generation": "7",
      "eks.amazonaws.com/skip-containers": "ray-head",
    });
  });

  it("extends the pod's own skip-containers list instead of replacing it", () => {
    const markers = podMarkers(grant("g"), { "eks.amazonaws.com/skip-containers": "istio-proxy" }, ["main"]);
    expect(markers.annotations["eks.amazonaws.com/skip-containers"]).toBe("istio-proxy,main");
  });

  it("leaves out the label, with a warning, when the grant name is too long for a label value", () => {
    const longName = `reports.${"x".repeat(60)}`;
    const markers = podMarkers(grant(longName), {}, []);
    expect(markers.labels).toEqual({});
    expect(markers.annotations["ddcred.io/injected"]).toBe(longName);
    expect(markers.warnings).toHaveLength(1);
  });

  it("returns no new skip-containers value when every name is already listed", () => {
    expect(mergedSkipContainers("a, b", ["b", "a"])).toBeUndefined();
  });
});
