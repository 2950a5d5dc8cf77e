// The controller at cluster scale, against the local API server, beside a
// baseline measured in the same run: client-node's stock informers over the
// same objects (bare-informer.ts), the least any controller watching every
// pod must pay. Prints, for both:
//   - time from process start to synced caches, and for the operator to every
//     grant Ready with its generation observed (convergence);
//   - RSS once converged and after the steady-state window;
//   - API requests per minute over a steady-state window, the API server's
//     own background (measured with neither running) subtracted, and how many
//     of them were LISTs (there should be none: a healthy watch resumes, it
//     never relists);
// and the time from a grant spec change to its status observing it.
// Prints figures; asserts nothing.
//   npm run bench:scale -- [pods=50000] [namespaces=500] [grants=2000] [windowSeconds=60]
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { build } from "esbuild";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import { adminKubeConfig, serviceAccountKubeconfig, startCluster, type Cluster } from "../../test/harness/cluster.js";
import { createNamespace, createOperatorRbac, grantObject, grantSpec, installCrd, REPO_ROOT, simplePod } from "../../test/harness/kube.js";
import { startOperator } from "../../test/harness/operator.js";
import { spawnTied } from "../../test/harness/process.js";
import { injectedBy, operatorInjectionSettings } from "../../test/webhook/support/injected-pod.js";
import { API_GROUP, API_VERSION } from "../../src/shared/names.js";
import { GRANT_PLURAL, type Grant } from "../../src/shared/grant.js";
import { inParallel, memoryKiB } from "../support.js";

const [PODS, NAMESPACES, GRANTS, WINDOW_SECONDS] = [50_000, 500, 2_000, 60].map((fallback, i) => Number(process.argv[2 + i] ?? fallback)) as [
  number,
  number,
  number,
  number,
];
/** Pods each grant selects (injected from it); the other pods match no grant, as most of a cluster's pods do. */
const INJECTED_PER_GRANT = 5;
const CREATE_CONCURRENCY = 32;
const CHANGES = 5;
const INJECTION_ENV = { DDCRED_AGENT_IMAGE: "registry.example/ddcred-operator:bench" };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;



/** The API server's apiserver_request_total, by "VERB resource". */
function requestCounts(cluster: Cluster): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const url = new URL("/metrics", cluster.server);
    const req = request(url, { ca: readFileSync(cluster.caFile), headers: { authorization: `Bearer ${cluster.adminToken}` } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        const counts = new Map<string, number>();
        for (const line of text.split("\n")) {
          if (!line.startsWith("apiserver_request_total{")) continue;
          const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? "";
          const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? "";
          const key = `${verb} ${resource}`;
          counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
        }
        resolve(counts);
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** Requests per minute by "VERB resource" over a window, and in total; includes the two metric scrapes. */
async function requestsOver(cluster: Cluster, seconds: number): Promise<{ perMinute: number; lists: number; byKind: Map<string, number> }> {
  const before = await requestCounts(cluster);
  await sleep(seconds * 1000);
  const after = await requestCounts(cluster);
  const byKind = new Map<string, number>();
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta > 0) byKind.set(key, delta);
  }
  const total = [...byKind.values()].reduce((a, b) => a + b, 0);
  const lists = [...byKind].filter(([key]) => WATCHED.some((resource) => key === `LIST ${resource}`)).reduce((n, [, v]) => n + v, 0);
  return { perMinute: (total * 60) / seconds, lists, byKind };
}

/** What the operator watches, and what else it calls: the requests worth naming. */
const WATCHED = ["pods", "namespaces", "datadogcredentialgrants", "datadogcredentialpolicies"];
const CALLED = [...WATCHED, "leases", "events", "pods/eviction"];

/** Requests on the resources the operator uses, the background's subtracted (the API server renews leases of its own). */
function minus(a: Map<string, number>, b: Map<string, number>): string {
  return [...a]
    .filter(([key]) => CALLED.includes(key.slice(key.indexOf(" ") + 1)))
    .map(([key, value]) => [key, value - (b.get(key) ?? 0)] as const)
    .filter(([, value]) => value > 0)
    .sort((x, y) => y[1] - x[1])
    .map(([key, value]) => `${key} ${value}`)
    .join(", ");
}

/**
 * Creates objects over a keep-alive HTTPS pool: client-node opens a TLS
 * connection per call, which on 2 cores caps creation far below what the
 * API server takes, and setting up 50,000 pods would dominate the run.
 */
function objectCreator(cluster: Cluster, connections: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections, ca: readFileSync(cluster.caFile) });
  return (path: string, body: unknown) =>
    new Promise<void>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = request(new URL(path, cluster.server), {
        method: "POST",
        agent,
        headers: { authorization: `Bearer ${cluster.adminToken}`, "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => (res.statusCode === 201 ? resolve() : reject(new Error(`POST ${path}: ${res.statusCode} ${text.slice(0, 300)}`))));
      });
      req.on("error", reject);
      req.end(payload);
    });
}

async function allGrantsConverged(custom: CustomObjectsApi): Promise<number> {
  const list = (await custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL })) as { items: Grant[] };
  return list.items.filter(
    (g) => g.status?.observedGeneration === g.metadata.generation && g.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  ).length;
}

execFileSync(process.execPath, [join(REPO_ROOT, "scripts/build.mjs")], { stdio: "inherit" });
const cluster = await startCluster();
try {
  const admin = adminKubeConfig(cluster);
  await installCrd(admin);
  const custom = admin.makeApiClient(CustomObjectsApi);
  const operatorNamespace = await createNamespace(admin, { prefix: "ddcred-system" });
  const settings = operatorInjectionSettings(INJECTION_ENV, operatorNamespace);

  const setupStart = performance.now();
  console.log(`setting up ${PODS} pods in ${NAMESPACES} namespaces with ${GRANTS} grants (${INJECTED_PER_GRANT} injected pods each)...`);
  const namespaces: string[] = [];
  await inParallel(
    Array.from({ length: NAMESPACES }, (_, i) => i),
    8,
    async () => namespaces.push(await createNamespace(admin, { prefix: "scale", injection: true })),
  );
  const grants: Grant[] = [];
  await inParallel(
    Array.from({ length: GRANTS }, (_, i) => i),
    CREATE_CONCURRENCY,
    async (i) => {
      const namespace = namespaces[i % NAMESPACES] as string;
      const body = grantObject(namespace, `grant-${i}`, grantSpec({ podSelector: { matchLabels: { app: `grant-${i}` } } }));
      grants.push((await custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL, namespace, body })) as Grant);
    },
  );
  const pods: Array<{ namespace: string; body: V1Pod }> = [];
  for (const grant of grants) {
    for (let k = 0; k < INJECTED_PER_GRANT && pods.length < PODS; k++) {
      const pod = simplePod(`${grant.metadata.name}-${k}`, { app: grant.metadata.name });
      pods.push({ namespace: grant.metadata.namespace, body: injectedBy(pod, grant, settings) });
    }
  }
  for (let i = 0; pods.length < PODS; i++) {
    pods.push({ namespace: namespaces[i % NAMESPACES] as string, body: simplePod(`plain-${i}`, { app: "plain", replica: String(i) }) });
  }
  console.log(`  namespaces and grants in ${((performance.now() - setupStart) / 1000).toFixed(0)} s`);
  const create = objectCreator(cluster, CREATE_CONCURRENCY);
  let created = 0;
  await inParallel(pods, CREATE_CONCURRENCY, async ({ namespace, body }) => {
    await create(`/api/v1/namespaces/${namespace}/pods`, body);
    if (++created % 10_000 === 0) console.log(`  ${created} pods`);
  });
  console.log(`set up in ${((performance.now() - setupStart) / 1000).toFixed(0)} s`);

  const names = { WEBHOOK_CONFIGURATION_NAME: "ddcred-operator", LEASE_NAME: "ddcred-operator", TLS_SECRET_NAME: "ddcred-tls" };
  await createOperatorRbac(admin, { namespace: operatorNamespace, serviceAccount: "ddcred-operator", names });
  const { path: kubeconfig } = await serviceAccountKubeconfig(cluster, operatorNamespace, "ddcred-operator");

  console.log(`background: the API server alone for ${WINDOW_SECONDS} s...`);
  const background = await requestsOver(cluster, WINDOW_SECONDS);

  console.log("baseline: client-node's stock informers...");
  const bareStart = performance.now();
  // Bundled like the operator, and run by plain node (not through an in-process bundler).
  const bareBundle = join(REPO_ROOT, "dist/scripts/bench_scale_bare-informer.mjs");
  await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: ["bench/scale/bare-informer.ts"],
    outfile: bareBundle,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    mainFields: ["module", "main"],
    minifySyntax: true,
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel: "warning",
  });
  const bare = spawnTied("bare-informer", process.execPath, [bareBundle, kubeconfig], {
    logFile: join(mkdtempSync(join(tmpdir(), "bench-scale-")), "bare.log"),
    cwd: REPO_ROOT,
  });
  while (!(existsSync(bare.logFile) && bare.log().includes('"synced"'))) {
    if (!bare.running()) throw new Error(`the bare informer exited: ${bare.log()}`);
    await sleep(100);
  }
  const bareSyncedMs = performance.now() - bareStart;
  const bareRssSynced = memoryKiB(bare.pid(), "VmRSS");
  const bareSteady = await requestsOver(cluster, WINDOW_SECONDS);
  const bareRss = memoryKiB(bare.pid(), "VmRSS");
  const bareHwm = memoryKiB(bare.pid(), "VmHWM");
  await bare.stop();

  console.log("the operator (controller with leader election, no webhook)...");
  const operatorStart = performance.now();
  const operator = await startOperator({
    kubeconfig,
    namespace: operatorNamespace,
    env: { ...INJECTION_ENV, DDCRED_WEBHOOK_ENABLED: "false", DDCRED_LOG_LEVEL: "warn" },
  });
  const operatorSyncedMs = performance.now() - operatorStart;
  while ((await allGrantsConverged(custom)) < GRANTS) await sleep(250);
  const convergedMs = performance.now() - operatorStart;
  const operatorRssConverged = memoryKiB(operator.process.pid(), "VmRSS");
  // Let the reconciles the status writes themselves trigger settle before measuring steady state.
  await sleep(5_000);
  const operatorSteady = await requestsOver(cluster, WINDOW_SECONDS);
  const operatorRss = memoryKiB(operator.process.pid(), "VmRSS");
  const operatorHwm = memoryKiB(operator.process.pid(), "VmHWM");

  const changeMs: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const grant = grants[Math.floor((i * GRANTS) / CHANGES)] as Grant;
    const { namespace, name } = grant.metadata;
    const changedAt = performance.now();
    const patched = (await custom.patchNamespacedCustomObject(
      { group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL, namespace, name, body: { spec: { aws: { roleArn: `arn:aws:iam::123456789012:role/changed-${i}` } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    )) as Grant;
    for (;;) {
      const current = (await custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: GRANT_PLURAL, namespace, name })) as Grant;
      if (current.status?.observedGeneration === patched.metadata.generation) break;
      await sleep(20);
    }
    changeMs.push(performance.now() - changedAt);
  }
  const reconciles = await operator.metricValue("ddcred_reconcile_total");
  await operator.stop();

  const net = (steady: { perMinute: number }) => Math.max(0, steady.perMinute - background.perMinute);
  const sorted = [...changeMs].sort((a, b) => a - b);
  const rows: Array<[string, string]> = [
    ["pods / namespaces / grants", `${PODS} / ${NAMESPACES} / ${GRANTS} (${Math.min(PODS, GRANTS * INJECTED_PER_GRANT)} injected)`],
    ["baseline: stock informers, start to synced", `${(bareSyncedMs / 1000).toFixed(1)} s`],
    ["operator: start to caches synced (/readyz)", `${(operatorSyncedMs / 1000).toFixed(1)} s`],
    ["operator: start to every grant converged", `${(convergedMs / 1000).toFixed(1)} s (${(convergedMs / bareSyncedMs).toFixed(2)}x the baseline's sync)`],
    ["baseline RSS, synced / after the window", `${mib(bareRssSynced)} / ${mib(bareRss)} (peak ${mib(bareHwm)})`],
    ["operator RSS, converged / after the window", `${mib(operatorRssConverged)} / ${mib(operatorRss)} (peak ${mib(operatorHwm)})`],
    ["  ratio after the window", `${(operatorRss / bareRss).toFixed(2)}x the baseline`],
    ["API server background, requests/min", `${background.perMinute.toFixed(0)}`],
    ["steady state, requests/min above background", `operator ${net(operatorSteady).toFixed(0)}, baseline ${net(bareSteady).toFixed(0)}`],
    ["  LISTs of watched resources in the window", `operator ${operatorSteady.lists}, baseline ${bareSteady.lists}`],
    ["  operator's, by kind", minus(operatorSteady.byKind, background.byKind) || "-"],
    ["  baseline's, by kind", minus(bareSteady.byKind, background.byKind) || "-"],
    ["grant spec change to status observed", `median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms (${CHANGES} changes)`],
    ["reconciles run", `${reconciles}`],
  ];
  console.log(`\nbench/scale (steady-state window ${WINDOW_SECONDS} s)`);
  for (const [label, value] of rows) console.log(`  ${label.padEnd(46)} ${value}`);
} finally {
  await cluster.stop();
}
