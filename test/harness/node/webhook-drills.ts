// Failure drills on the test bed's real node, where the webhook is reached
// as in a cluster: the API server calls the chart's Service, whose endpoints
// the endpoints controller keeps from the operator pods' readiness. During a
// burst of pod creations (30/s, 10 in flight; server-side dry runs, so every
// creation goes through admission, webhook included, and nothing has to run),
// one thing breaks after pod 100 of 500:
//   node-replica-graceful  one operator pod deleted (SIGTERM, the chart's 5 s shutdown delay)
//   node-replica-hard      one operator container SIGKILLed (the kubelet restarts it)
//   node-helm-upgrade      `helm upgrade` rolls both replicas (maxSurge 1, maxUnavailable 0)
// or, on a release of its own installed with short certificate lifetimes,
// nothing breaks and the certificates rotate under 750 creations:
//   node-cert-rotation     serving certificate 8 s, CA 20 s, each renewed with a third left
// bench/drills/node.ts prints the figures; test/node/webhook-drills.test.ts
// holds what users must never see (a pod admitted without its agent).
import { execFileSync } from "node:child_process";
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { CHART_DIR, helm } from "../../chart/helm.js";
import { apiError } from "../../../src/shared/kube/client.js";
import { AGENT_CONTAINER_NAME } from "../../../src/shared/names.js";
import type { DrillReport } from "../../../bench/drills/report.js";
import { sumMetric } from "../operator.js";
import { createGrant, eventually, TEST_ORG_UUID } from "../kube.js";
import { certificatesIn, servedCertificate } from "../webhook.js";
import { installChart } from "./chart-release.js";
import type { CredentialStackInfo } from "./credential-stack.js";
import type { NodeClusterInfo } from "./node-cluster.js";
import { createNodeNamespace, deleteNodeNamespace } from "./pods.js";

const PODS = 500;
const CONCURRENCY = 10;
const RATE_PER_SECOND = 30;
const FAULT_AT_POD = 100;
export const NODE_DRILLS = ["node-replica-graceful", "node-replica-hard", "node-helm-upgrade", "node-cert-rotation"] as const;
export type NodeDrill = (typeof NODE_DRILLS)[number];
/** The drills that break the release they are given; node-cert-rotation brings its own (runCertRotationDrill). */
export type FaultDrill = Exclude<NodeDrill, "node-cert-rotation">;

/** The Helm release whose operator the drill breaks. */
export interface DrilledRelease {
  readonly name: string;
  readonly namespace: string;
}

export interface Creation {
  readonly atMs: number;
  readonly ok: boolean;
  readonly injected: boolean;
  readonly error?: string;
}

/** Operator pods seen ready, with their restart counts: what "replaced" and "restarted" compare against. */
const seenPods = new Map<string, number>();

/** The pod every drill creates (dry run): the drill grants select app=drill. */
function drillPod(): V1Pod {
  return { metadata: { generateName: "drill-", labels: { app: "drill" } }, spec: { containers: [{ name: "app", image: "drill" }] } };
}

/** Failed creations, those admitted without the agent, and the failures tallied by error. */
function outcomes(creations: readonly Creation[]): { failed: Creation[]; uninjected: Creation[]; errors: string } {
  const failed = creations.filter((c) => !c.ok);
  const tally = new Map<string, number>();
  for (const c of failed) tally.set(c.error ?? "?", (tally.get(c.error ?? "?") ?? 0) + 1);
  const errors = `${failed.length}${tally.size ? ` (${[...tally].map(([e, n]) => `${n}x ${e}`).join("; ")})` : ""}`;
  return { failed, uninjected: creations.filter((c) => c.ok && !c.injected), errors };
}

function operatorSelector(release: DrilledRelease): string {
  return `app.kubernetes.io/instance=${release.name},app.kubernetes.io/name=ddcred-operator`;
}

/** Runs one drill against a release on the node; pods are created (dry run) in `namespace`, which that release's webhook serves. */
export async function runNodeDrill(drill: FaultDrill, cluster: NodeClusterInfo, release: DrilledRelease, admin: KubeConfig, namespace: string): Promise<DrillReport & { readonly creations: readonly Creation[] }> {
  await waitForReplicas(admin, release, 2);
  let faultAtMs = Number.NaN;
  let recoveredAtMs = Number.NaN;
  const burstStart = performance.now();
  const creations = await burst(admin, namespace, PODS, {
    atPod: FAULT_AT_POD,
    run: async () => {
      faultAtMs = performance.now() - burstStart;
      await fault(drill, cluster, release, admin);
      // Recovery: two ready replicas again, one of them new (graceful, upgrade) or restarted (hard).
      void waitForReplicas(admin, release, 2, drill === "node-replica-hard" ? "restarted" : "replaced").then(() => {
        recoveredAtMs = performance.now() - burstStart;
      });
    },
  });
  await waitForReplicas(admin, release, 2);
  if (Number.isNaN(recoveredAtMs)) recoveredAtMs = performance.now() - burstStart;
  const { failed, uninjected, errors } = outcomes(creations);
  const afterFault = creations.filter((c) => c.atMs >= faultAtMs);
  return {
    drill,
    creations,
    saw: `${failed.length} of ${PODS} creations failed${uninjected.length ? `, ${uninjected.length} admitted without the agent` : ""}`,
    lost: uninjected.length === 0 ? "no pod ran without credentials" : `${uninjected.length} pods without the agent`,
    recovered: `two ready replicas ${((recoveredAtMs - faultAtMs) / 1000).toFixed(1)} s after the fault`,
    figures: [
      ["creations", `${PODS} (dry run through admission), ${RATE_PER_SECOND}/s, ${CONCURRENCY} in flight; fault after pod ${FAULT_AT_POD}`],
      ["failed", errors],
      ["failed after the fault", `${afterFault.filter((c) => !c.ok).length} of ${afterFault.length}`],
      ["injected", `${creations.filter((c) => c.injected).length} of ${creations.filter((c) => c.ok).length} created`],
      ["fault at", `${(faultAtMs / 1000).toFixed(1)} s into the burst`],
      ["recovered", `${((recoveredAtMs - faultAtMs) / 1000).toFixed(1)} s after the fault (two ready replicas)`],
    ],
    notes: ["the API server calls the webhook's Service at its endpoints (aggregator routing); readiness decides the endpoints"],
  };
}

async function fault(drill: FaultDrill, cluster: NodeClusterInfo, release: DrilledRelease, admin: KubeConfig): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const operators = (await core.listNamespacedPod({ namespace: release.namespace, labelSelector: operatorSelector(release) })).items.filter(isReady);
  const victim = operators[0]!;
  if (drill === "node-replica-graceful") {
    await core.deleteNamespacedPod({ name: victim.metadata!.name!, namespace: release.namespace });
  } else if (drill === "node-replica-hard") {
    const id = victim.status!.containerStatuses![0]!.containerID!.replace("containerd://", "");
    execFileSync("ctr", ["-a", cluster.containerdSocket, "-n", "k8s.io", "tasks", "kill", "--signal", "SIGKILL", id]);
  } else {
    const result = await helm(
      ["upgrade", release.name, CHART_DIR, "--namespace", release.namespace, "--kubeconfig", cluster.adminKubeconfig, "--reuse-values", "--set", `podAnnotations.drill=r${Date.now()}`],
    );
    if (result.code !== 0) throw new Error(`helm upgrade failed: ${result.stderr}`);
  }
}

function isReady(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

async function waitForReplicas(admin: KubeConfig, release: DrilledRelease, count: number, change?: "replaced" | "restarted"): Promise<void> {
  const namespace = release.namespace;
  const core = admin.makeApiClient(CoreV1Api);
  const before = new Map(seenPods);
  for (;;) {
    const pods = (await core.listNamespacedPod({ namespace, labelSelector: operatorSelector(release) })).items.filter(isReady);
    const changed =
      change === undefined ||
      pods.some((pod) => (change === "replaced" ? !before.has(pod.metadata!.name!) : (pod.status?.containerStatuses?.[0]?.restartCount ?? 0) > (before.get(pod.metadata!.name!) ?? 0)));
    if (pods.length >= count && changed) {
      for (const pod of pods) seenPods.set(pod.metadata!.name!, pod.status?.containerStatuses?.[0]?.restartCount ?? 0);
      const deployment = (await admin.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace, labelSelector: operatorSelector(release) })).items[0];
      if ((deployment?.status?.updatedReplicas ?? 0) >= count || change !== undefined) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** `pods` dry-run creations at RATE_PER_SECOND with CONCURRENCY in flight; a fault runs once its pod was sent. */
async function burst(admin: KubeConfig, namespace: string, pods: number, fault?: { readonly atPod: number; readonly run: () => Promise<void> }): Promise<Creation[]> {
  const core = admin.makeApiClient(CoreV1Api);
  const results: Creation[] = [];
  const start = performance.now();
  let next = 0;
  let faulted: Promise<void> | undefined;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < pods) {
        const index = next++;
        const due = start + (index * 1000) / RATE_PER_SECOND;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (index === fault?.atPod) faulted = fault.run();
        const atMs = performance.now() - start;
        try {
          const created = await core.createNamespacedPod({ namespace, body: drillPod(), dryRun: "All" });
          results.push({ atMs, ok: true, injected: created.spec?.initContainers?.some((c) => c.name === AGENT_CONTAINER_NAME) ?? false });
        } catch (error) {
          const problem = apiError(error);
          const what = problem ? `HTTP ${problem.code} ${problem.message.slice(0, 80)}` : String(error).slice(0, 80);
          results.push({ atMs, ok: false, injected: false, error: what });
        }
      }
    }),
  );
  await faulted;
  return results;
}

/** Dry runs in `namespace` until a few in a row come back injected: every replica's grant cache holds the grant. */
export async function waitForInjection(admin: KubeConfig, namespace: string, what: string): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  await eventually(what, async () => {
    for (let i = 0; i < 6; i++) {
      const pod = await core.createNamespacedPod({ namespace, dryRun: "All", body: drillPod() });
      if (!pod.spec?.initContainers?.some((c) => c.name === AGENT_CONTAINER_NAME)) return false;
    }
    return true;
  }, 60_000);
}

// node-cert-rotation ----------------------------------------------------------

const ROTATION_PODS = 750;
const SERVING_SECONDS = 8;
const CA_SECONDS = 20;
/** The label that puts a namespace in the rotation release's webhook scope; every other release must leave it alone. */
export const ROTATION_SCOPE = { "ddcred-test/release": "drill-rotation" } as const;
const ROTATION_RELEASE = { name: "ddcred-rotation", namespace: "ddcred-rotation" };
const ROTATION_REASONS = ["ServingCertificateExpiring", "AuthorityExpiring", "AuthorityPublished", "OldAuthorityExpired"] as const;
type RotationCounts = Record<(typeof ROTATION_REASONS)[number] | "notWritten", number>;

export interface CertRotationFigures {
  readonly creations: readonly Creation[];
  /** Rotations the replicas wrote during the burst, by reason (their metrics); notWritten: conflicts and failures. */
  readonly rotations: RotationCounts;
  /** Serving certificates seen in the TLS Secret, and served by the replicas, during the burst. */
  readonly servingInSecret: number;
  readonly servingServed: number;
  /** CAs seen in the webhook configuration's caBundle, and the most at once. */
  readonly authorities: number;
  readonly largestBundle: number;
  /** Handshakes with a replica, each verified against the caBundle read just before it, and those that failed. */
  readonly handshakes: number;
  readonly untrusted: readonly string[];
}

/**
 * node-cert-rotation: a release of its own (two replicas, self-managed
 * certificates, serving certificate 8 s and CA 20 s), so the rotation the
 * drill watches is the natural one from the first Secret on, and no other
 * drill's release runs with such lifetimes. Its webhook serves only
 * namespaces labelled ROTATION_SCOPE. Installed, drilled and uninstalled here.
 */
export async function runCertRotationDrill(
  cluster: NodeClusterInfo,
  stack: Pick<CredentialStackInfo, "stsUrl" | "datadogUrl" | "roleArns">,
  admin: KubeConfig,
): Promise<DrillReport & CertRotationFigures> {
  const release = await installChart(cluster, {
    ...ROTATION_RELEASE,
    stsUrl: stack.stsUrl,
    datadogApiUrl: stack.datadogUrl,
    scopeLabels: ROTATION_SCOPE,
    values: {
      crds: { install: false },
      controller: { enabled: false },
      webhook: {
        namespaceSelectorExpressions: Object.entries(ROTATION_SCOPE).map(([key, value]) => ({ key, operator: "In", values: [value] })),
        tls: { selfManaged: { certificateValiditySeconds: SERVING_SECONDS, caValiditySeconds: CA_SECONDS } },
      },
    },
  });
  let namespace: string | undefined;
  try {
    namespace = await createNodeNamespace(admin, { prefix: "rotation", injection: true, labels: { ...ROTATION_SCOPE } });
    const roleArn = stack.roleArns["datadog/drill"];
    if (!roleArn) throw new Error("the credential stack has no datadog/drill role");
    await createGrant(admin, namespace, "drill", { podSelector: { matchLabels: { app: "drill" } }, aws: { roleArn }, datadog: { orgUuid: TEST_ORG_UUID } });
    await waitForInjection(admin, namespace, "the rotation release's webhook to inject");
    await waitForReplicas(admin, release, 2);
    return await certRotationBurst(admin, release, namespace);
  } finally {
    if (namespace) await deleteNodeNamespace(admin, namespace);
    await release.uninstall();
  }
}

async function certRotationBurst(admin: KubeConfig, release: DrilledRelease, namespace: string): Promise<DrillReport & CertRotationFigures> {
  const names = await releaseNames(admin, release);
  const before = await replicaMetrics(await operatorPods(admin, release));

  const servingInSecret = new Set<string>();
  const servingServed = new Set<string>();
  const authorities = new Set<string>();
  const untrusted: string[] = [];
  let largestBundle = 0;
  let handshakes = 0;
  let watching = true;
  const core = admin.makeApiClient(CoreV1Api);
  const registrations = admin.makeApiClient(AdmissionregistrationV1Api);
  const watcher = (async () => {
    while (watching) {
      try {
        const secret = await core.readNamespacedSecret({ name: names.tlsSecret, namespace: release.namespace });
        const tls = Buffer.from(secret.data?.["tls.crt"] ?? "", "base64").toString("utf8");
        for (const certificate of certificatesIn(tls).slice(0, 1)) servingInSecret.add(certificate.fingerprint256);
        const replicas = await operatorPods(admin, release);
        const configuration = await registrations.readMutatingWebhookConfiguration({ name: names.configuration });
        const bundle = Buffer.from(configuration.webhooks?.[0]?.clientConfig.caBundle ?? "", "base64").toString("utf8");
        const trusted = certificatesIn(bundle);
        largestBundle = Math.max(largestBundle, trusted.length);
        for (const authority of trusted) authorities.add(authority.fingerprint256);
        // What each replica serves right now, verified as the API server would, against the caBundle just read.
        for (const pod of replicas) {
          try {
            servingServed.add((await servedCertificate(pod.webhookPort, bundle, { host: pod.ip, serverName: names.serverName })).fingerprint256);
            handshakes += 1;
          } catch (error) {
            untrusted.push(`${pod.name}: ${error instanceof Error ? error.message : String(error)}`.slice(0, 160));
          }
        }
      } catch {
        // an API read failed: the next look sees it
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();

  const started = performance.now();
  const creations = await burst(admin, namespace, ROTATION_PODS).finally(() => {
    watching = false;
  });
  const trafficMs = performance.now() - started;
  await watcher;

  const after = await replicaMetrics(await operatorPods(admin, release));
  const [rotationsBefore, rotationsAfter] = [rotationCounts(before), rotationCounts(after)];
  const rotations = Object.fromEntries(Object.entries(rotationsAfter).map(([reason, count]) => [reason, count - rotationsBefore[reason as keyof RotationCounts]])) as RotationCounts;
  // Per replica, the certificates its HTTPS server took during the burst.
  const reloads = [...after].map(([name, text]) => `${name.slice(-5)} ${loads(text) - loads(before.get(name) ?? "")}`);

  const { failed, uninjected, errors } = outcomes(creations);
  return {
    drill: "node-cert-rotation",
    creations,
    rotations,
    servingInSecret: servingInSecret.size,
    servingServed: servingServed.size,
    authorities: authorities.size,
    largestBundle,
    handshakes,
    untrusted,
    saw: `${failed.length} of ${ROTATION_PODS} creations failed${uninjected.length ? `, ${uninjected.length} admitted without the agent` : ""}; ${untrusted.length} of ${handshakes + untrusted.length} handshakes untrusted`,
    lost: uninjected.length === 0 ? "no pod ran without credentials" : `${uninjected.length} pods without the agent`,
    recovered: failed.length === 0 ? "nothing to recover" : `failures at ${failed.map((c) => `${(c.atMs / 1000).toFixed(1)} s`).join(", ").slice(0, 80)}`,
    figures: [
      ["lifetimes", `serving certificate ${SERVING_SECONDS} s, CA ${CA_SECONDS} s, each renewed with a third left; 2 replicas sharing the Secret`],
      ["creations", `${ROTATION_PODS} (dry run through admission), ${RATE_PER_SECOND}/s, ${CONCURRENCY} in flight, over ${(trafficMs / 1000).toFixed(1)} s`],
      ["failed", errors],
      ["injected", `${creations.filter((c) => c.injected).length} of ${creations.filter((c) => c.ok).length} created`],
      ["serving certificates seen", `${servingInSecret.size} in the Secret, ${servingServed.size} served by the replicas`],
      ["CAs seen in the caBundle (most at once)", `${authorities.size} (${largestBundle})`],
      [
        "rotations written during the burst",
        `serving ${rotations.ServingCertificateExpiring}, CA ${rotations.AuthorityExpiring}, CA published ${rotations.AuthorityPublished}, old CA removed ${rotations.OldAuthorityExpired}; ${rotations.notWritten} not written (conflict or failure)`,
      ],
      ["serving certificate reloads per replica", reloads.join(", ")],
      ["handshakes against the caBundle of the moment", `${handshakes} trusted, ${untrusted.length} not${untrusted.length ? ` (${untrusted.slice(0, 3).join("; ")})` : ""}`],
    ],
    notes: ["a release of its own, installed with these lifetimes: the rotation is the operator's own, from its first Secret on"],
  };
}

/** The names the release's operator works with, as its Deployment tells them. */
async function releaseNames(admin: KubeConfig, release: DrilledRelease): Promise<{ tlsSecret: string; configuration: string; serverName: string }> {
  const deployment = (await admin.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace: release.namespace, labelSelector: operatorSelector(release) })).items[0];
  const env = new Map((deployment?.spec?.template.spec?.containers[0]?.env ?? []).map((variable) => [variable.name, variable.value]));
  const value = (name: string) => {
    const found = env.get(name);
    if (!found) throw new Error(`the operator Deployment of ${release.name} sets no ${name}`);
    return found;
  };
  return {
    tlsSecret: value("DDCRED_TLS_SECRET_NAME"),
    configuration: value("DDCRED_WEBHOOK_CONFIGURATION_NAME"),
    // The name the API server verifies when it calls the Service.
    serverName: `${value("DDCRED_WEBHOOK_SERVICE_NAME")}.${release.namespace}.svc`,
  };
}

interface OperatorPod {
  readonly name: string;
  readonly ip: string;
  readonly webhookPort: number;
  readonly metricsPort: number;
}

async function operatorPods(admin: KubeConfig, release: DrilledRelease): Promise<OperatorPod[]> {
  const pods = (await admin.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: release.namespace, labelSelector: operatorSelector(release) })).items.filter(isReady);
  return pods.map((pod) => {
    const ports = pod.spec?.containers[0]?.ports ?? [];
    const port = (name: string) => ports.find((p) => p.name === name)?.containerPort ?? Number.NaN;
    return { name: pod.metadata!.name!, ip: pod.status!.podIP!, webhookPort: port("webhook"), metricsPort: port("metrics") };
  });
}

/** Each replica's metrics, by pod name. */
async function replicaMetrics(pods: readonly OperatorPod[]): Promise<Map<string, string>> {
  return new Map(await Promise.all(pods.map(async (pod) => [pod.name, await (await fetch(`http://${pod.ip}:${pod.metricsPort}/metrics`)).text()] as const)));
}

/** Rotations the replicas wrote so far, by reason; notWritten sums conflicts and failures. */
function rotationCounts(metrics: ReadonlyMap<string, string>): RotationCounts {
  const sum = (labels: Record<string, string>) => [...metrics.values()].reduce((total, text) => total + sumMetric(text, "ddcred_webhook_certificate_rotations_total", labels), 0);
  const counts = Object.fromEntries(ROTATION_REASONS.map((reason) => [reason, sum({ reason, result: "written" })]));
  return { ...counts, notWritten: sum({}) - sum({ result: "written" }) } as RotationCounts;
}

/** Serving certificates a replica has loaded (its HTTPS server reloads each one). */
function loads(metrics: string): number {
  return sumMetric(metrics, "ddcred_webhook_certificate_loads_total");
}
