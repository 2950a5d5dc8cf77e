// The controller starts reconciling only once every cache it reads has
// synced (a status computed from a half-listed cache would report pods as
// missed that are merely not listed yet), and a stop that arrives while a
// start is still waiting for the caches wins. The controller runs in this
// process against the real API server; the pod cache is started by hand to
// decide when it syncs. Operators of other test files share the API server
// and may write these grants' status, so the tests watch this controller's
// own reconcile count and queue, not the stored status.
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { KubeConfig } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { GrantController } from "../../src/controller/controller.js";
import { grantInformer, namespaceInformer, podInformer, type Caches } from "../../src/shared/kube/caches.js";
import { createEventRecorder } from "../../src/shared/kube/events.js";
import { createLogger } from "../../src/shared/logger.js";
import { adminKubeConfig } from "../harness/cluster.js";
import { createGrant, createNamespace, deleteNamespace, eventually, getGrant, grantSpec, readyCondition, waitForGrant } from "../harness/kube.js";

const logger = createLogger("controller-start-test", "silent");

let admin: KubeConfig;
let workload: string;
let operatorNamespace: string;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  admin = adminKubeConfig(inject("cluster"));
  operatorNamespace = await createNamespace(admin, { prefix: "ddcred-start" });
  workload = await createNamespace(admin, { prefix: "start", injection: true });
});

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

afterAll(async () => {
  await deleteNamespace(admin, workload);
  await deleteNamespace(admin, operatorNamespace);
});

/** A controller over caches where grants and namespaces are running and synced, and pods not yet started. */
async function controllerWithPodsPending() {
  const caches: Caches = {
    grants: grantInformer(admin, logger),
    pods: podInformer(admin, logger),
    namespaces: namespaceInformer(admin, logger),
  };
  caches.grants.start();
  caches.namespaces.start();
  cleanups.push(async () => {
    await Promise.all([caches.grants.stop(), caches.pods.stop(), caches.namespaces.stop()]);
  });
  expect(await caches.grants.waitForSync(30_000)).toBe(true);
  expect(await caches.namespaces.waitForSync(30_000)).toBe(true);
  const registry = new Registry();
  const controller = new GrantController({
    kubeConfig: admin,
    caches,
    operatorNamespace,
    events: createEventRecorder(admin, "controller-start-test", logger),
    registry,
    logger,
    expectedAgent: () => "no agent is expected in these tests",
  });
  cleanups.push(() => controller.stop());
  const reconciles = async () => (await registry.getSingleMetric("ddcred_reconcile_total")!.get()).values.reduce((sum, v) => sum + v.value, 0);
  return { caches, controller, reconciles };
}

describe("starting the controller", () => {
  it("reconciles nothing until every cache has synced, then converges", async () => {
    await createGrant(admin, workload, "waits", grantSpec());
    const { caches, controller, reconciles } = await controllerWithPodsPending();
    const started = controller.start();
    expect(caches.grants.get(workload, "waits")).toBeDefined();
    // The grant is in the synced grant cache: a controller that did not wait for the pod cache
    // would have queued it (or reconciled it) during a round trip to the API server.
    await getGrant(admin, workload, "waits");
    expect(controller.backlog()).toBe(0);
    expect(await reconciles()).toBe(0);

    caches.pods.start();
    expect(await started).toBe(true);
    await eventually("the controller to reconcile", async () => (await reconciles()) > 0);
    await waitForGrant(admin, workload, "waits", (g) => readyCondition(g)?.status === "True");
  });

  it("never starts when stop() comes while it waits for the caches", async () => {
    await createGrant(admin, workload, "stopped", grantSpec({ podSelector: { matchLabels: { app: "stopped" } } }));
    const { caches, controller, reconciles } = await controllerWithPodsPending();
    const started = controller.start();
    await controller.stop();
    expect(await started).toBe(false);

    caches.pods.start();
    expect(await caches.pods.waitForSync(30_000)).toBe(true);
    expect(controller.backlog()).toBe(0);
    expect(await reconciles()).toBe(0);
  });

  it("never starts when the leader's term ends while it waits for the caches", async () => {
    await createGrant(admin, workload, "term", grantSpec({ podSelector: { matchLabels: { app: "term" } } }));
    const { caches, controller, reconciles } = await controllerWithPodsPending();
    const term = new AbortController();
    const started = controller.start(term.signal);
    term.abort();
    caches.pods.start();
    expect(await started).toBe(false);
    expect(controller.backlog()).toBe(0);
    expect(await reconciles()).toBe(0);
  });
});
