// The API server restarts under a running operator: it reconnects and
// converges on what changed while it was cut off, without crashing. Uses a
// control plane of its own so other test files are not disturbed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { adminKubeConfig, serviceAccountKubeconfig, startCluster, type Cluster } from "../harness/cluster.js";
import {
  createGrant,
  createNamespace,
  createOperatorRbac,
  createPod,
  grantSpec,
  installCrd,
  readyCondition,
  setNamespaceLabel,
  simplePod,
  waitForGrant,
} from "../harness/kube.js";
import { startOperator, type OperatorProcess } from "../harness/operator.js";
import { INJECTION_ENABLED, INJECTION_LABEL } from "../../src/shared/names.js";

let cluster: Cluster;
let admin: KubeConfig;
let operator: OperatorProcess;
let operatorNamespace: string;

beforeAll(async () => {
  cluster = await startCluster();
  admin = adminKubeConfig(cluster);
  await installCrd(admin);
  operatorNamespace = await createNamespace(admin, { prefix: "ddcred-system" });
  const names = { WEBHOOK_CONFIGURATION_NAME: "ddcred-operator", LEASE_NAME: "ddcred-operator", TLS_SECRET_NAME: "ddcred-tls" };
  await createOperatorRbac(admin, { namespace: operatorNamespace, serviceAccount: "ddcred-operator", names });
  const { path } = await serviceAccountKubeconfig(cluster, operatorNamespace, "ddcred-operator");
  operator = await startOperator({ kubeconfig: path, namespace: operatorNamespace, env: { DDCRED_WEBHOOK_ENABLED: "false" } });
});

afterAll(async () => {
  await operator?.stop();
  await cluster?.stop();
});

describe("an API server restart", () => {
  it("is survived: the operator reconnects and converges on changes made while it was cut off", async () => {
    const ns = await createNamespace(admin, { prefix: "rs", injection: true });
    await createGrant(admin, ns, "before", grantSpec());
    await waitForGrant(admin, ns, "before", (g) => readyCondition(g)?.status === "True");

    await cluster.stopApiServer();
    await new Promise((resolve) => setTimeout(resolve, 3000)); // the operator's watches fail and back off
    await cluster.startApiServer();

    // Changed before the operator's watches are back: a new grant, a pod, a namespace label.
    await createGrant(admin, ns, "after", grantSpec({ podSelector: { matchLabels: { app: "after" } } }));
    await createPod(admin, ns, simplePod("late", { app: "demo" }));
    const quiet = await createNamespace(admin, { prefix: "rs-off" });
    await createGrant(admin, quiet, "disabled", grantSpec());

    await waitForGrant(admin, ns, "after", (g) => readyCondition(g)?.status === "True", 60_000);
    await waitForGrant(admin, ns, "before", (g) => g.status?.missedPods === 1, 60_000);
    await waitForGrant(admin, quiet, "disabled", (g) => readyCondition(g)?.reason === "NamespaceNotEnabled", 60_000);
    await setNamespaceLabel(admin, quiet, INJECTION_LABEL, INJECTION_ENABLED);
    await waitForGrant(admin, quiet, "disabled", (g) => readyCondition(g)?.status === "True");

    expect(operator.process.running()).toBe(true);
    expect(operator.process.log()).not.toMatch(/fatal|uncaught/i);
    await admin.makeApiClient(CoreV1Api).readNamespace({ name: ns });
  });
});
