// Threats from the people who create pods and grants: a grant never reaches
// across namespaces, a grant that names service accounts injects only pods
// running as one of them (whatever labels a pod author puts on a pod), and
// pods that share a node's loopback or another container are not handed the
// credentials by accident. The operator process serves the webhook to the
// real API server over TLS; the controller runs beside it.
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ClusterInfo } from "../harness/cluster.js";
import { createGrant, createPod, grantSpec, simplePod, waitForGrant } from "../harness/kube.js";
import { createPodRaw } from "../harness/webhook.js";
import { CREDENTIALS_VOLUME_NAME, GRANT_LABEL, INJECTED_ANNOTATION } from "../../src/shared/names.js";
import { hasAgent, startWebhookOperator, waitUntilInjecting, type WebhookOperator } from "../harness/webhook-operator.js";

let cluster: ClusterInfo;
let setup: WebhookOperator;
let admin: KubeConfig;
let core: CoreV1Api;

beforeAll(async () => {
  cluster = inject("cluster");
  setup = await startWebhookOperator(cluster);
  admin = setup.admin;
  core = admin.makeApiClient(CoreV1Api);
});

afterAll(async () => {
  await setup?.stop();
});

function pod(name: string, labels: Record<string, string>, serviceAccountName?: string, extra: Partial<V1Pod["spec"]> = {}): V1Pod {
  return simplePod(name, labels, { ...(serviceAccountName ? { serviceAccountName } : {}), ...extra });
}

async function read(namespace: string, name: string): Promise<V1Pod> {
  return core.readNamespacedPod({ name, namespace });
}

describe("a grant and other namespaces", () => {
  it("never injects or counts a pod in another enabled namespace, even when it selects every pod in its own", async () => {
    const own = await setup.namespace();
    const other = await setup.namespace();
    await createGrant(admin, own, "everything", grantSpec({ podSelector: {} }));
    await waitUntilInjecting(admin, own, pod("probe", { app: "demo" }));

    // The other namespace's pod first: once the controller counts the later one, it has seen both.
    await createPod(admin, other, pod("app", { app: "demo" }));
    await createPod(admin, own, pod("app", { app: "demo" }));

    const outside = await read(other, "app");
    expect(hasAgent(outside)).toBe(false);
    expect(outside.metadata?.annotations ?? {}).not.toHaveProperty(INJECTED_ANNOTATION);
    expect(outside.metadata?.labels ?? {}).not.toHaveProperty(GRANT_LABEL);
    expect(hasAgent(await read(own, "app"))).toBe(true);
    const grant = await waitForGrant(admin, own, "everything", (g) => g.status?.injectedPods === 1);
    expect(grant.status).toMatchObject({ injectedPods: 1, missedPods: 0 });
  });
});

describe("a grant that names service accounts", () => {
  let ns: string;

  beforeAll(async () => {
    ns = await setup.namespace({ serviceAccounts: ["reporter", "intruder"] });
    await createGrant(admin, ns, "reports", grantSpec({ serviceAccountNames: ["reporter"] }));
    await waitUntilInjecting(admin, ns, pod("probe", { app: "demo" }, "reporter"));
  });

  it("does not inject a pod with the grant's labels that runs as another service account or the default one", async () => {
    await createPod(admin, ns, pod("intruder", { app: "demo" }, "intruder"));
    await createPod(admin, ns, pod("defaulted", { app: "demo" }));
    expect(hasAgent(await read(ns, "intruder"))).toBe(false);
    expect(hasAgent(await read(ns, "defaulted"))).toBe(false);
    await createPod(admin, ns, pod("reporter", { app: "demo" }, "reporter"));
    const grant = await waitForGrant(admin, ns, "reports", (g) => g.status?.injectedPods === 1);
    expect(grant.status?.missedPods).toBe(0);
  });

  it("does not inject a pod that picks the grant by label but fails its selector, and tells its author why", async () => {
    const created = await createPodRaw(cluster, ns, pod("picks-wrong-labels", { app: "other", [GRANT_LABEL]: "reports" }, "reporter"));
    expect(created.status).toBe(201);
    expect(hasAgent(created.pod!)).toBe(false);
    expect(created.warnings.join("\n")).toMatch(/picks grant reports, but no valid grant of that name selects the pod/);
  });

  it("does not inject a pod that picks the grant by label and matches its selector but runs as another service account", async () => {
    const created = await createPodRaw(cluster, ns, pod("picks-wrong-account", { app: "demo", [GRANT_LABEL]: "reports" }, "intruder"));
    expect(created.status).toBe(201);
    expect(hasAgent(created.pod!)).toBe(false);
    expect(created.warnings.join("\n")).toMatch(/picks grant reports/);
  });
});

describe("a grant that selects by labels alone (what ddcred does not stop)", () => {
  it("injects any pod that carries its labels, whoever wrote it and whichever service account it runs as", async () => {
    const ns = await setup.namespace({ serviceAccounts: ["anyone"] });
    await createGrant(admin, ns, "by-label", grantSpec());
    await waitUntilInjecting(admin, ns, pod("probe", { app: "demo" }));
    await createPod(admin, ns, pod("labelled", { app: "demo" }, "anyone"));
    expect(hasAgent(await read(ns, "labelled"))).toBe(true);
  });
});

describe("pods that share a loopback or a pod", () => {
  let ns: string;

  beforeAll(async () => {
    ns = await setup.namespace();
    await createGrant(admin, ns, "main-only", grantSpec({ containers: ["main"] }));
    await waitUntilInjecting(admin, ns, pod("probe", { app: "demo" }));
  });

  it("does not inject a hostNetwork pod, whose loopback is the node's and every other hostNetwork pod's", async () => {
    const created = await createPodRaw(cluster, ns, pod("host", { app: "demo" }, undefined, { hostNetwork: true }));
    expect(created.status).toBe(201);
    expect(hasAgent(created.pod!)).toBe(false);
    expect(created.warnings.join("\n")).toMatch(/hostNetwork/);
  });

  it("gives a container the grant does not name neither the credentials volume nor the env", async () => {
    const twoContainers = pod("two", { app: "demo" }, undefined, {
      containers: [
        { name: "main", image: "registry.example/app:1" },
        { name: "third-party", image: "registry.example/sidecar:1" },
      ],
    });
    await createPod(admin, ns, twoContainers);
    const created = await read(ns, "two");
    expect(hasAgent(created)).toBe(true);
    const [main, thirdParty] = created.spec!.containers;
    expect(main?.volumeMounts?.map((m) => m.name)).toContain(CREDENTIALS_VOLUME_NAME);
    // Only the API server's own service-account token mount is there.
    expect((thirdParty?.volumeMounts ?? []).map((m) => m.name)).not.toContain(CREDENTIALS_VOLUME_NAME);
    expect(thirdParty?.env ?? []).toEqual([]);
  });
});
