// How long the controller takes to converge 1,000 grants (in 50 namespaces
// with 1,000 pods), and its peak memory, each beside a baseline measured in
// the same run on the same API server:
//   - time: a bare client writing the same number of status patches with the
//     same concurrency (the floor the API server allows);
//   - memory: an idle Node.js process.
// Prints figures; asserts nothing.   node scripts/run-ts.mjs bench/controller/run.ts [grants]
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { adminKubeConfig, serviceAccountKubeconfig, startCluster } from "../../test/harness/cluster.js";
import { createGrant, createNamespace, createOperatorRbac, grantSpec, installCrd, simplePod } from "../../test/harness/kube.js";
import { startOperator } from "../../test/harness/operator.js";
import { spawnTied } from "../../test/harness/process.js";
import { injectedBy, operatorInjectionSettings } from "../../test/webhook/support/injected-pod.js";
import { API_GROUP, API_VERSION } from "../../src/shared/names.js";
import { GRANT_PLURAL, type Grant } from "../../src/shared/grant.js";
import { inParallel, memoryKiB } from "../support.js";

const GRANTS = Number(process.argv[2] ?? 1000);
const PER_NAMESPACE = 20;
const CONCURRENCY = 4;
/** The operator's injection settings: the controller counts a pod as injected only when its agent is what these give. */
const INJECTION_ENV = { DDCRED_AGENT_IMAGE: "registry.example/ddcred-operator:bench" };



const cluster = await startCluster();
try {
  const admin = adminKubeConfig(cluster);
  await installCrd(admin);
  const custom = admin.makeApiClient(CustomObjectsApi);
  const core = admin.makeApiClient(CoreV1Api);

  console.log(`setting up ${GRANTS} grants in ${Math.ceil(GRANTS / PER_NAMESPACE)} namespaces, one pod each...`);
  const grants: Array<{ namespace: string; name: string }> = [];
  const namespaces: string[] = [];
  for (let i = 0; i < GRANTS; i += PER_NAMESPACE) namespaces.push(await createNamespace(admin, { prefix: "bench", injection: true }));
  await inParallel(
    Array.from({ length: GRANTS }, (_, i) => i),
    8,
    async (i) => {
      const namespace = namespaces[Math.floor(i / PER_NAMESPACE)] as string;
      const name = `grant-${i}`;
      const grant = await createGrant(admin, namespace, name, grantSpec({ podSelector: { matchLabels: { app: name } } }));
      // As the webhook leaves them, with the settings the operator below runs with.
      const pod = injectedBy(simplePod(`pod-${i}`, { app: name }), grant, operatorInjectionSettings(INJECTION_ENV, "ddcred-system"));
      await core.createNamespacedPod({ namespace, body: pod });
      grants.push({ namespace, name });
    },
  );

  // Baseline: the same number of status writes, by a bare client.
  const floorStart = performance.now();
  await inParallel(grants, CONCURRENCY, ({ namespace, name }) =>
    custom.patchNamespacedCustomObjectStatus(
      { group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL, namespace, name, body: { status: { observedGeneration: 0 } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    ),
  );
  const floorMs = performance.now() - floorStart;

  const operatorNamespace = await createNamespace(admin, { prefix: "ddcred-system" });
  const names = { WEBHOOK_CONFIGURATION_NAME: "ddcred-operator", LEASE_NAME: "ddcred-operator", TLS_SECRET_NAME: "ddcred-tls" };
  await createOperatorRbac(admin, { namespace: operatorNamespace, serviceAccount: "ddcred-operator", names });
  const { path } = await serviceAccountKubeconfig(cluster, operatorNamespace, "ddcred-operator");

  const started = performance.now();
  const operator = await startOperator({
    kubeconfig: path,
    namespace: operatorNamespace,
    env: { ...INJECTION_ENV, DDCRED_WEBHOOK_ENABLED: "false", DDCRED_LEADER_ELECTION: "false", DDCRED_LOG_LEVEL: "warn", DDCRED_CONTROLLER_CONCURRENCY: String(CONCURRENCY) },
  });
  const readyAt = performance.now();
  let converged = 0;
  while (converged < GRANTS) {
    const list = (await custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL })) as { items: Grant[] };
    converged = list.items.filter(
      (g) => g.status?.observedGeneration === g.metadata.generation && g.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    ).length;
    if (converged < GRANTS) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const convergedAt = performance.now();
  const operatorPeakKiB = memoryKiB(operator.process.pid(), "VmHWM");
  const heapUsed = await operator.metricValue("nodejs_heap_size_used_bytes");
  const heapTotal = await operator.metricValue("nodejs_heap_size_total_bytes");
  const external = await operator.metricValue("nodejs_external_memory_bytes");
  const reconciles = await operator.metricValue("ddcred_reconcile_total");
  await operator.stop();

  const idle = spawnTied("idle-node", process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
    logFile: join(mkdtempSync(join(tmpdir(), "bench-")), "idle.log"),
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const idlePeakKiB = memoryKiB(idle.pid(), "VmHWM");
  await idle.stop();

  const convergeMs = convergedAt - readyAt;
  const rows: Array<[string, string]> = [
    ["grants / pods / namespaces", `${GRANTS} / ${GRANTS} / ${namespaces.length}`],
    ["baseline: bare client, same status writes", `${floorMs.toFixed(0)} ms`],
    ["operator start to caches synced", `${(readyAt - started).toFixed(0)} ms`],
    ["caches synced to all grants Ready", `${convergeMs.toFixed(0)} ms`],
    ["  ratio to baseline", `${(convergeMs / floorMs).toFixed(2)}x`],
    ["reconciles run", `${reconciles}`],
    ["operator peak RSS (VmHWM)", `${(operatorPeakKiB / 1024).toFixed(1)} MiB`],
    ["  V8 heap used / total, external, at the end", `${(heapUsed / 2 ** 20).toFixed(1)} / ${(heapTotal / 2 ** 20).toFixed(1)} MiB, ${(external / 2 ** 20).toFixed(1)} MiB`],
    ["idle Node.js peak RSS", `${(idlePeakKiB / 1024).toFixed(1)} MiB`],
    ["  ratio to idle Node.js", `${(operatorPeakKiB / idlePeakKiB).toFixed(2)}x`],
  ];
  console.log("\nbench/controller");
  for (const [label, value] of rows) console.log(`  ${label.padEnd(44)} ${value}`);
} finally {
  await cluster.stop();
}
