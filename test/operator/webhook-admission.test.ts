// The operator process serving the webhook, called by the real API server
// over TLS through a MutatingWebhookConfiguration, with its certificate
// self-managed in a Secret and the controller running beside it. The
// webhook selects only namespaces carrying this file's own label, so the
// other test files sharing the cluster never reach it.
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ClusterInfo } from "../harness/cluster.js";
import { createGrant, createPod, eventually, grantSpec, rejection, simplePod, waitForGrant } from "../harness/kube.js";
import { createPodRaw, WEBHOOK_NAME } from "../harness/webhook.js";
import { AGENT_IMAGE, hasAgent, startWebhookOperator, type WebhookOperator } from "../harness/webhook-operator.js";

let cluster: ClusterInfo;
let admin: KubeConfig;
let core: CoreV1Api;
let webhook: WebhookOperator;

beforeAll(async () => {
  cluster = inject("cluster");
  webhook = await startWebhookOperator(cluster, {}, "admission");
  admin = webhook.admin;
  core = admin.makeApiClient(CoreV1Api);
});

afterAll(async () => {
  await webhook?.stop();
});

function demoPod(name: string, extra: { annotations?: Record<string, string> } = {}): V1Pod {
  const pod = simplePod(name, { app: "demo" });
  return { ...pod, metadata: { ...pod.metadata, ...extra } };
}

describe("the webhook served by the operator process", () => {
  it("injects a matching pod: the agent first among init containers as a native sidecar, env, volume and markers", async () => {
    const ns = await webhook.namespace({ injection: true });
    await createGrant(admin, ns, "datadog", grantSpec());
    const existingInit = { name: "setup", image: "registry.example/setup:1" };
    await createPod(admin, ns, { ...demoPod("app"), spec: { ...demoPod("app").spec!, initContainers: [existingInit] } });

    const pod = await core.readNamespacedPod({ name: "app", namespace: ns });
    const [agent, setup] = pod.spec?.initContainers ?? [];
    expect(agent).toMatchObject({ name: "ddcred-agent", image: AGENT_IMAGE, restartPolicy: "Always" });
    expect(agent?.startupProbe).toBeDefined();
    expect(setup?.name).toBe("setup");
    const app = pod.spec?.containers[0];
    expect(app?.env?.map((variable) => variable.name)).toEqual(
      expect.arrayContaining(["DD_SITE", "DDCRED_ENDPOINT", "DD_BEARER_TOKEN_FILE", "AWS_CONFIG_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_REGION"]),
    );
    expect(app?.volumeMounts).toContainEqual(expect.objectContaining({ name: "ddcred", mountPath: "/var/run/ddcred", readOnly: true }));
    expect(pod.spec?.volumes).toContainEqual(expect.objectContaining({ name: "ddcred", emptyDir: expect.objectContaining({ medium: "Memory" }) }));
    expect(pod.metadata?.labels).toMatchObject({ "ddcred.io/grant": "datadog" });
    expect(pod.metadata?.annotations).toMatchObject({ "ddcred.io/injected": "datadog", "ddcred.io/grant-generation": "1" });
  });

  it("leaves a pod alone in a namespace without the injection label", async () => {
    const ns = await webhook.namespace({ injection: false });
    await createGrant(admin, ns, "datadog", grantSpec());
    await createPod(admin, ns, demoPod("app"));
    const pod = await core.readNamespacedPod({ name: "app", namespace: ns });
    expect(pod.spec?.initContainers ?? []).toEqual([]);
    expect(pod.metadata?.annotations ?? {}).not.toHaveProperty("ddcred.io/injected");
  });

  it("admits a pod that two grants match uninjected, with a warning the client sees naming both", async () => {
    const ns = await webhook.namespace({ injection: true });
    await createGrant(admin, ns, "first", grantSpec());
    await createGrant(admin, ns, "second", grantSpec());
    await eventually("both grants in the webhook's cache", async () => {
      const probe = await createPodRaw(cluster, ns, { metadata: { generateName: "probe-", labels: { app: "demo" } }, spec: demoPod("x").spec! });
      return probe.warnings.some((warning) => warning.includes("second")) ? probe : undefined;
    });
    const created = await createPodRaw(cluster, ns, demoPod("app"));
    expect(created.status).toBe(201);
    expect(hasAgent(created.pod!)).toBe(false);
    expect(created.warnings.join("\n")).toMatch(/first/);
    expect(created.warnings.join("\n")).toMatch(/second/);
  });

  it("leaves an opted-out pod alone", async () => {
    const ns = await webhook.namespace({ injection: true });
    await createGrant(admin, ns, "datadog", grantSpec());
    await createPod(admin, ns, demoPod("probe"));
    await createPod(admin, ns, demoPod("app", { annotations: { "ddcred.io/inject": "false" } }));
    expect(hasAgent(await core.readNamespacedPod({ name: "probe", namespace: ns }))).toBe(true);
    expect(hasAgent(await core.readNamespacedPod({ name: "app", namespace: ns }))).toBe(false);
  });

  it("injects a pod that the API server's restricted Pod Security admission then accepts", async () => {
    const ns = await webhook.namespace({ injection: true, labels: { "pod-security.kubernetes.io/enforce": "restricted" } });
    await createGrant(admin, ns, "datadog", grantSpec());
    const restricted: V1Pod = {
      metadata: { name: "app", labels: { app: "demo" } },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
        containers: [
          {
            name: "main",
            image: "registry.example/app:1",
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
          },
        ],
      },
    };
    await createPod(admin, ns, restricted);
    expect(hasAgent(await core.readNamespacedPod({ name: "app", namespace: ns }))).toBe(true);
    // The namespace really enforces: a non-compliant pod is refused.
    expect(await rejection(() => createPod(admin, ns, { ...demoPod("lax"), metadata: { name: "lax", labels: { app: "other" } } }))).toMatch(/restricted/);
  });

  it("has the controller count the pods it injected and the matching pods it missed", async () => {
    const ns = await webhook.namespace({ injection: true });
    // Created before any grant existed: nothing to inject from, so it runs without the agent.
    await createPod(admin, ns, demoPod("early"));
    await createGrant(admin, ns, "datadog", grantSpec());
    await eventually("the grant in the webhook's cache", async () => {
      const probe = await createPodRaw(cluster, ns, { metadata: { generateName: "probe-", labels: { app: "demo" } }, spec: demoPod("x").spec! });
      if (probe.pod && hasAgent(probe.pod)) return true;
      await core.deleteNamespacedPod({ name: probe.pod!.metadata!.name!, namespace: ns, gracePeriodSeconds: 0 });
      return undefined;
    });
    await createPod(admin, ns, demoPod("late"));
    const grant = await waitForGrant(admin, ns, "datadog", (g) => g.status?.injectedPods === 2 && g.status?.missedPods === 1);
    expect(grant.status).toMatchObject({ injectedPods: 2, missedPods: 1 });
  });

  it("while the webhook is down, refuses pods in enabled namespaces with a message naming it, and nowhere else", async () => {
    const enabled = await webhook.namespace({ injection: true });
    const other = await webhook.namespace({ injection: false });
    await createGrant(admin, enabled, "datadog", grantSpec());
    await webhook.operator().stop();

    const message = await rejection(() => createPod(admin, enabled, demoPod("app")));
    expect(message).toContain(`failed calling webhook "${WEBHOOK_NAME}"`);
    // A new connection is refused; a connection the API server pooled before the stop and reuses
    // for this call is reset (Go does not retry a POST on it). Both say the webhook is unreachable.
    expect(message).toMatch(/connection refused|connection reset by peer/);
    await createPod(admin, other, demoPod("app"));
    expect(hasAgent(await core.readNamespacedPod({ name: "app", namespace: other }))).toBe(false);
  });
});
