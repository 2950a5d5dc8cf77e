// The controller against a real API server, running as its own process with
// a ServiceAccount token bound to exactly the chart's RBAC rules.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { adminKubeConfig, serviceAccountKubeconfig } from "../harness/cluster.js";
import {
  createGrant,
  createNamespace,
  createOperatorRbac,
  createPod,
  deleteGrant,
  deleteNamespace,
  eventually,
  grantSpec,
  patchGrantSpec,
  readyCondition,
  setNamespaceLabel,
  simplePod,
  uniqueName,
  waitForGrant,
} from "../harness/kube.js";
import { startOperator, type OperatorProcess } from "../harness/operator.js";
import { injectedBy, operatorInjectionSettings } from "../webhook/support/injected-pod.js";
import type { Grant } from "../../src/shared/grant.js";
import {
  AGENT_CONTAINER_NAME,
  GRANT_GENERATION_ANNOTATION,
  GRANT_LABEL,
  INJECTED_ANNOTATION,
  INJECT_ANNOTATION,
  INJECTION_ENABLED,
  INJECTION_LABEL,
} from "../../src/shared/names.js";

/** The operator's injection settings: its controller counts only agents these would give. */
const OPERATOR_ENV = { DDCRED_WEBHOOK_ENABLED: "false", DDCRED_AGENT_IMAGE: "registry.example/ddcred-operator:test" };

let admin: KubeConfig;
let core: CoreV1Api;
let operatorNamespace: string;
let operator: OperatorProcess;
const namespaces: string[] = [];

beforeAll(async () => {
  const cluster = inject("cluster");
  admin = adminKubeConfig(cluster);
  core = admin.makeApiClient(CoreV1Api);
  operatorNamespace = await createNamespace(admin, { prefix: "ddcred-system" });
  const names = { WEBHOOK_CONFIGURATION_NAME: uniqueName("ddcred"), LEASE_NAME: "ddcred-operator", TLS_SECRET_NAME: "ddcred-tls" };
  const serviceAccount = "ddcred-operator";
  await createOperatorRbac(admin, { namespace: operatorNamespace, serviceAccount, names });
  const { path } = await serviceAccountKubeconfig(cluster, operatorNamespace, serviceAccount);
  operator = await startOperator({
    kubeconfig: path,
    namespace: operatorNamespace,
    env: { ...OPERATOR_ENV, DDCRED_LEASE_NAME: names.LEASE_NAME },
  });
});

afterAll(async () => {
  await operator?.stop();
  await Promise.all(namespaces.map((ns) => deleteNamespace(admin, ns)));
  await deleteNamespace(admin, operatorNamespace);
});

async function workspace(injection = true): Promise<string> {
  const ns = await createNamespace(admin, { prefix: "ctl", injection, serviceAccounts: ["ray-runner"] });
  namespaces.push(ns);
  return ns;
}

/** A pod as the webhook leaves it, injected from `grant` with the operator's own settings (the controller counts only those). */
function injectedPod(name: string, labels: Record<string, string>, grant: Grant, spec: Partial<V1Pod["spec"]> = {}): V1Pod {
  return injectedBy(simplePod(name, { ...labels, [GRANT_LABEL]: grant.metadata.name }, spec), grant, operatorInjectionSettings(OPERATOR_ENV, operatorNamespace));
}

/** What a pod author can write without the webhook: the markers and a container named like the agent. */
function forgedPod(name: string, labels: Record<string, string>, grant: string, generation: number): V1Pod {
  const pod = simplePod(name, { ...labels, [GRANT_LABEL]: grant });
  pod.metadata!.annotations = { [INJECTED_ANNOTATION]: grant, [GRANT_GENERATION_ANNOTATION]: String(generation) };
  pod.spec!.initContainers = [{ name: AGENT_CONTAINER_NAME, image: "registry.example/look-alike:1", restartPolicy: "Always" }];
  return pod;
}


async function events(namespace: string, grant: string) {
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${grant}` });
  return list.items;
}

describe("the grant controller", () => {
  it("marks a valid grant Ready with the generation it observed", async () => {
    const ns = await workspace();
    const created = await createGrant(admin, ns, "ray", grantSpec());
    const grant = await waitForGrant(admin, ns, "ray", (g) => readyCondition(g)?.status === "True");
    expect(grant.status?.observedGeneration).toBe(created.metadata.generation);
    expect(readyCondition(grant)).toMatchObject({ reason: "Valid", observedGeneration: created.metadata.generation });
    expect(grant.status).toMatchObject({ injectedPods: 0, stalePods: 0, missedPods: 0 });

    const updated = await patchGrantSpec(admin, ns, "ray", { aws: { roleArn: "arn:aws:iam::123456789012:role/other" } });
    const after = await waitForGrant(admin, ns, "ray", (g) => g.status?.observedGeneration === updated.metadata.generation);
    expect(readyCondition(after)?.status).toBe("True");
    expect(readyCondition(after)?.lastTransitionTime).toBe(readyCondition(grant)?.lastTransitionTime);
  });

  it("reports a namespace without the injection label, with an Event, until it is labelled", async () => {
    const ns = await workspace(false);
    await createGrant(admin, ns, "ray", grantSpec());
    const grant = await waitForGrant(admin, ns, "ray", (g) => readyCondition(g)?.reason === "NamespaceNotEnabled");
    expect(readyCondition(grant)?.status).toBe("False");
    expect(readyCondition(grant)?.message).toContain(`kubectl label namespace ${ns} ${INJECTION_LABEL}=${INJECTION_ENABLED}`);
    await eventually("a NamespaceNotEnabled event", async () =>
      (await events(ns, "ray")).some((e) => e.reason === "NamespaceNotEnabled" && e.type === "Warning"),
    );

    await setNamespaceLabel(admin, ns, INJECTION_LABEL, INJECTION_ENABLED);
    await waitForGrant(admin, ns, "ray", (g) => readyCondition(g)?.status === "True");
  });

  it("counts pods of a namespace without the label as missed", async () => {
    const ns = await workspace(false);
    await createGrant(admin, ns, "ray", grantSpec());
    await createPod(admin, ns, simplePod("worker", { app: "demo" }));
    const grant = await waitForGrant(admin, ns, "ray", (g) => g.status?.missedPods === 1);
    expect(readyCondition(grant)?.reason).toBe("NamespaceNotEnabled");
  });

  it("reports a conflict on both grants that select the same pod, and clears it when the pod picks one", async () => {
    const ns = await workspace();
    await createGrant(admin, ns, "first", grantSpec());
    const secondGrant = await createGrant(admin, ns, "second", grantSpec({ podSelector: { matchExpressions: [{ key: "app", operator: "Exists" }] } }));
    await createPod(admin, ns, simplePod("ambiguous", { app: "demo" }));
    for (const [name, other] of [["first", "second"], ["second", "first"]] as const) {
      const grant = await waitForGrant(admin, ns, name, (g) => readyCondition(g)?.reason === "ConflictingGrants");
      expect(readyCondition(grant)?.status).toBe("False");
      expect(readyCondition(grant)?.message).toContain(other);
      expect(grant.status?.missedPods).toBe(1);
    }
    await eventually("ConflictingGrants events", async () =>
      (await events(ns, "first")).some((e) => e.reason === "ConflictingGrants"),
    );

    await core.deleteNamespacedPod({ name: "ambiguous", namespace: ns, gracePeriodSeconds: 0 });
    await createPod(admin, ns, injectedPod("picked", { app: "demo" }, secondGrant));
    await waitForGrant(admin, ns, "first", (g) => readyCondition(g)?.status === "True" && g.status?.missedPods === 0);
    const second = await waitForGrant(admin, ns, "second", (g) => g.status?.injectedPods === 1);
    expect(readyCondition(second)?.status).toBe("True");
  });

  it("clears a conflict when one of the grants is deleted", async () => {
    const ns = await workspace();
    await createGrant(admin, ns, "first", grantSpec());
    await createGrant(admin, ns, "second", grantSpec());
    await createPod(admin, ns, simplePod("ambiguous", { app: "demo" }));
    await waitForGrant(admin, ns, "first", (g) => readyCondition(g)?.reason === "ConflictingGrants");
    await deleteGrant(admin, ns, "second");
    const first = await waitForGrant(admin, ns, "first", (g) => readyCondition(g)?.status === "True");
    // The pod was admitted without an agent while ambiguous; it is now simply missed.
    expect(first.status?.missedPods).toBe(1);
  });

  it("follows injected, stale and missed pods as they come and go", async () => {
    const ns = await workspace();
    const grant = await createGrant(admin, ns, "ray", grantSpec({ serviceAccountNames: ["ray-runner"] }));
    const asRunner = { serviceAccountName: "ray-runner" };
    await createPod(admin, ns, injectedPod("head", { app: "demo" }, grant, asRunner));
    await createPod(admin, ns, injectedPod("worker-a", { app: "demo" }, grant, asRunner));
    await createPod(admin, ns, simplePod("late", { app: "demo" }, asRunner));
    // Not counted: another service account, opted out, unrelated, finished.
    await createPod(admin, ns, simplePod("other-sa", { app: "demo" }));
    const optedOut = simplePod("opted-out", { app: "demo" }, asRunner);
    optedOut.metadata!.annotations = { [INJECT_ANNOTATION]: "false" };
    await createPod(admin, ns, optedOut);
    await createPod(admin, ns, simplePod("unrelated", { app: "web" }, asRunner));

    let status = (await waitForGrant(admin, ns, "ray", (g) => g.status?.injectedPods === 2 && g.status?.missedPods === 1)).status;
    expect(status).toMatchObject({ injectedPods: 2, stalePods: 0, missedPods: 1 });
    await eventually("a PodsMissed event naming the pod", async () =>
      (await events(ns, "ray")).some((e) => e.reason === "PodsMissed" && e.message?.includes("late")),
    );

    // A spec change gives a different agent: the running pods are stale, no
    // longer injected from the grant as it is, until they are recreated.
    const updated = await patchGrantSpec(admin, ns, "ray", { aws: { roleArn: "arn:aws:iam::123456789012:role/v2" } });
    status = (await waitForGrant(admin, ns, "ray", (g) => g.status?.observedGeneration === updated.metadata.generation)).status;
    expect(status).toMatchObject({ injectedPods: 0, stalePods: 2, missedPods: 1 });

    await core.deleteNamespacedPod({ name: "worker-a", namespace: ns, gracePeriodSeconds: 0 });
    await core.deleteNamespacedPod({ name: "late", namespace: ns, gracePeriodSeconds: 0 });
    status = (await waitForGrant(admin, ns, "ray", (g) => g.status?.stalePods === 1 && g.status?.missedPods === 0)).status;
    expect(status).toMatchObject({ injectedPods: 0, stalePods: 1, missedPods: 0 });

    // A pod that finished no longer counts.
    const head = await core.readNamespacedPod({ name: "head", namespace: ns });
    await core.replaceNamespacedPodStatus({ name: "head", namespace: ns, body: { ...head, status: { phase: "Succeeded" } } });
    await waitForGrant(admin, ns, "ray", (g) => g.status?.injectedPods === 0 && g.status?.stalePods === 0);
  });

  it("never counts a pod its author made to look injected (markers and a container named ddcred-agent)", async () => {
    const ns = await workspace();
    const grant = await createGrant(admin, ns, "ray", grantSpec());
    await createPod(admin, ns, forgedPod("forged", { app: "demo" }, "ray", grant.metadata.generation ?? 1));
    await createPod(admin, ns, injectedPod("real", { app: "demo" }, grant));
    const status = (await waitForGrant(admin, ns, "ray", (g) => g.status?.injectedPods === 1 && g.status?.stalePods === 1)).status;
    expect(status).toMatchObject({ injectedPods: 1, stalePods: 1, missedPods: 0 });
  });

  it("reports a selector the API server accepted but that can never match", async () => {
    const ns = await workspace();
    await createGrant(admin, ns, "bad", grantSpec({ podSelector: { matchLabels: { "bad key!": "x" } } }));
    const grant = await waitForGrant(admin, ns, "bad", (g) => readyCondition(g)?.reason === "InvalidSelector");
    expect(readyCondition(grant)?.message).toContain("spec.podSelector.matchLabels");
  });

  it("writes status only when it changes", async () => {
    const ns = await workspace();
    await createGrant(admin, ns, "quiet", grantSpec());
    const ready = await waitForGrant(admin, ns, "quiet", (g) => readyCondition(g)?.status === "True");
    // Unrelated pods in the namespace wake the reconciler but change nothing.
    await createPod(admin, ns, simplePod("unrelated-1", { app: "web" }));
    await createPod(admin, ns, simplePod("unrelated-2", { app: "web" }));
    const reconciles = await operator.metricValue("ddcred_reconcile_total");
    await eventually("the reconciles for the new pods", async () => (await operator.metricValue("ddcred_reconcile_total")) >= reconciles);
    const { getGrant } = await import("../harness/kube.js");
    const after = await getGrant(admin, ns, "quiet");
    expect(after.metadata.resourceVersion).toBe(ready.metadata.resourceVersion);
  });

  it("exports reconcile and grant metrics", async () => {
    const text = await operator.metrics();
    expect(text).toMatch(/ddcred_reconcile_total\{result="success"\} \d+/);
    expect(text).toContain("ddcred_reconcile_duration_seconds_bucket");
    expect(text).toMatch(/ddcred_grants\{ready="true"\} \d+/);
    expect(text).toMatch(/ddcred_grant_pods\{grant_namespace="[^"]+",grant="[^"]+",state="missed"\} \d+/);
  });
});

describe("the operator's ServiceAccount", () => {
  it("cannot do what its rules do not allow", async () => {
    const cluster = inject("cluster");
    const { kubeConfig } = await serviceAccountKubeconfig(cluster, operatorNamespace, "ddcred-operator");
    const asOperator = kubeConfig.makeApiClient(CoreV1Api);
    const ns = await workspace();
    const { rejection } = await import("../harness/kube.js");
    expect(await rejection(() => asOperator.createNamespacedPod({ namespace: ns, body: simplePod("x", {}) }))).toContain("forbidden");
    expect(await rejection(() => asOperator.listNamespacedSecret({ namespace: ns }))).toContain("forbidden");
    expect(await rejection(() => asOperator.listNamespacedSecret({ namespace: operatorNamespace }))).toContain("forbidden");
    expect(await rejection(() => asOperator.patchNamespace({ name: ns, body: [{ op: "add", path: "/metadata/labels/x", value: "y" }] }))).toContain(
      "forbidden",
    );
  });
});
