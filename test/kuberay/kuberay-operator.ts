// KubeRay's real operator (ray-operator v1.5.0, built by
// scripts/build-go-tools.sh --kuberay) against the suite's shared API server:
// its CRDs from the Go module cache, the binary as a tied child process that
// watches only the namespaces it is given.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { request } from "node:https";
import type { ClusterInfo } from "../harness/cluster.js";
import { eventually } from "../harness/kube.js";
import { freePort, spawnTied, waitFor, type TiedProcess } from "../harness/process.js";
import { toolPaths } from "../harness/tools.js";
import { apiRequest } from "../chart/api.js";

export const KUBERAY_VERSION = "1.5.0";
const CRD_FILES = ["ray.io_rayclusters.yaml", "ray.io_rayjobs.yaml", "ray.io_rayservices.yaml"];

function moduleCache(): string {
  try {
    return execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
  } catch {
    return join(process.env.GOPATH ?? join(homedir(), "go"), "pkg", "mod");
  }
}

function crdDirectory(): string {
  const dir = join(moduleCache(), `github.com/ray-project/kuberay/ray-operator@v${KUBERAY_VERSION}/config/crd/bases`);
  if (!existsSync(dir)) throw new Error(`KubeRay's CRDs are not in ${dir}: run scripts/build-go-tools.sh --kuberay`);
  return dir;
}

/**
 * Installs RayCluster, RayJob and RayService (the operator refuses to start
 * without all three) by server-side apply of each YAML file as it is: the API
 * server parses it, so no client model can drop schema keys, and nearly 1 MB
 * of schema is not parsed in JavaScript first. Cluster-scoped and idempotent;
 * they stay for the rest of the run, like the suite's own CRD.
 */
export async function installKubeRayCrds(cluster: ClusterInfo): Promise<void> {
  const dir = crdDirectory();
  await Promise.all(
    CRD_FILES.map(async (file) => {
      // ray.io_rayjobs.yaml holds rayjobs.ray.io
      const name = file.replace(/^(.*)_(.*)\.yaml$/, "$2.$1");
      const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=ddcred-kuberay-test&force=true`;
      const response = await applyYaml(cluster, path, readFileSync(join(dir, file)));
      if (response.status >= 300) throw new Error(`installing ${file} failed (${response.status}): ${response.text.slice(0, 500)}`);
    }),
  );
  await eventually("KubeRay's CRDs to be served", async () => {
    const discovery = await apiRequest(cluster, "GET", "/apis/ray.io/v1");
    const served = new Set((discovery.body?.resources ?? []).map((r: { name: string }) => r.name));
    return ["rayclusters", "rayjobs", "rayservices"].every((name) => served.has(name));
  });
}

/** Server-side apply of YAML text with the admin token (test/chart/api.ts sends JSON only). */
function applyYaml(cluster: ClusterInfo, path: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const call = request(
      `${cluster.server}${path}`,
      {
        method: "PATCH",
        ca: readFileSync(cluster.caFile),
        headers: { authorization: `Bearer ${cluster.adminToken}`, "content-type": "application/apply-patch+yaml", "content-length": body.length },
        timeout: 60_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    call.on("timeout", () => call.destroy(new Error(`applying ${path} timed out`)));
    call.on("error", reject);
    call.end(body);
  });
}

export interface KubeRayProcess {
  readonly process: TiedProcess;
  stop(): Promise<void>;
}

/**
 * Starts KubeRay's operator with the admin kubeconfig. Flags:
 * --watch-namespace: its informers (RayClusters, pods, services, Jobs) see
 *   only these namespaces, so other test files' objects are never touched;
 * --enable-leader-election=false: one replica, nothing to elect;
 * --metrics-addr / --health-probe-bind-address: free loopback ports;
 * ENABLE_WEBHOOKS unset: KubeRay's own RayCluster validating webhook stays
 *   off (it needs serving certificates and a ValidatingWebhookConfiguration;
 *   nothing here depends on it).
 * Once a RayJob runs, KubeRay polls the Ray dashboard through the head
 * Service's DNS name. On the test bed's node (a cluster with `dnsResolvConf`)
 * it resolves that name through the node's cluster DNS: it runs in a mount
 * namespace of its own where that file is bound over /etc/resolv.conf, so the
 * host's resolver stays as it is. On an API server alone there is no DNS or
 * Ray: KubeRay logs the errors, and the submitter Job is created before that
 * point.
 */
export async function startKubeRay(cluster: ClusterInfo & { readonly dnsResolvConf?: string }, namespaces: readonly string[], env: Record<string, string> = {}): Promise<KubeRayProcess> {
  const binary = toolPaths().kuberayOperator;
  if (!existsSync(binary)) throw new Error(`KubeRay's operator is not at ${binary}: run scripts/build-go-tools.sh --kuberay`);
  const [metricsPort, probePort] = [await freePort(), await freePort()];
  const flags = [
    `--kubeconfig=${cluster.adminKubeconfig}`,
    `--watch-namespace=${namespaces.join(",")}`,
    "--enable-leader-election=false",
    `--metrics-addr=127.0.0.1:${metricsPort}`,
    `--health-probe-bind-address=127.0.0.1:${probePort}`,
    "--log-stdout-encoder=console",
  ];
  // unshare execs in place (no fork), as does the shell: the tied PID stays KubeRay's.
  const [command, args] = cluster.dnsResolvConf
    ? ["unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', cluster.dnsResolvConf, binary, ...flags]]
    : [binary, flags];
  const child = spawnTied(
    "kuberay-operator",
    command,
    args,
    // The log lives (and goes) with the cluster's own temp dir.
    { logFile: join(cluster.dir, `kuberay-operator-${probePort}.log`), env: { PATH: process.env.PATH, HOME: cluster.dir, ...env } },
  );
  await waitFor("KubeRay's operator /readyz", async () => ((await fetch(`http://127.0.0.1:${probePort}/readyz`)).ok ? true : undefined), {
    timeoutMs: 60_000,
    process: child,
  });
  return { process: child, stop: () => child.stop() };
}
