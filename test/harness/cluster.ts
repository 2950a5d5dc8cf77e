// A real Kubernetes control plane on loopback, the way envtest gives one to
// Go operators: Debian's etcd plus a kube-apiserver built from the
// k8s.io/kubernetes module (scripts/build-go-tools.sh). RBAC on, service
// account tokens signed, admission webhooks called over real TLS. No
// controller-manager, scheduler or kubelet here: pods are stored, never run,
// which keeps most tests fast. test/harness/node/ adds a real node.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { toolPaths } from "./tools.js";
import { freePort, spawnTied, waitFor, type TiedProcess } from "./process.js";

/** What a test needs to reach a cluster; plain data so vitest can pass it between processes. */
export interface ClusterInfo {
  readonly server: string;
  readonly caFile: string;
  readonly adminToken: string;
  readonly adminKubeconfig: string;
  readonly dir: string;
}

export interface Cluster extends ClusterInfo {
  /** Tokens of options.identities, by the names given there. */
  readonly identityTokens: Readonly<Record<string, string>>;
  readonly saKeyFile: string;
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Extra kube-apiserver flags, e.g. --admission-control-config-file. */
  readonly apiServerArgs?: readonly string[];
  /** Keep the temp dir after stop (debugging). */
  readonly keep?: boolean;
  /** The API server's bind and advertise address (a node cluster uses the node's). Default 127.0.0.1. */
  readonly address?: string;
  /** Default ["RBAC"]; a cluster with a kubelet adds "Node". */
  readonly authorizationModes?: readonly string[];
  /** More static token identities: token-file lines after the token, i.e. "user,uid,group1,group2". */
  readonly identities?: Readonly<Record<string, string>>;
  /** Where to keep the cluster's files; default a new temp dir. */
  readonly dir?: string;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "ddcred-cluster-"));
  const pki = join(dir, "pki");
  mkdirSync(pki, { recursive: true });
  const adminToken = randomBytes(24).toString("hex");
  const tokenLines = [`${adminToken},ddcred-test-admin,ddcred-test-admin,system:masters`];
  const identityTokens: Record<string, string> = {};
  for (const [name, identity] of Object.entries(options.identities ?? {})) {
    identityTokens[name] = randomBytes(24).toString("hex");
    tokenLines.push(`${identityTokens[name]},${identity}`);
  }
  writeFileSync(join(dir, "tokens.csv"), `${tokenLines.join("\n")}\n`, { mode: 0o600 });
  const address = options.address ?? "127.0.0.1";
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(join(pki, "sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  writeFileSync(join(pki, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));

  const [etcdPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcd = spawnTied(
    "etcd",
    "etcd",
    [
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
      "--log-level=warn",
      "--quota-backend-bytes=2147483648",
    ],
    { logFile: join(dir, "etcd.log") },
  );

  const server = `https://${address}:${apiPort}`;
  const caFile = join(pki, "apiserver.crt");
  const apiServerArgs = [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    `--secure-port=${apiPort}`,
    `--cert-dir=${pki}`,
    `--token-auth-file=${join(dir, "tokens.csv")}`,
    `--authorization-mode=${(options.authorizationModes ?? ["RBAC"]).join(",")}`,
    `--service-account-key-file=${join(pki, "sa.pub")}`,
    `--service-account-signing-key-file=${join(pki, "sa.key")}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    "--api-audiences=https://kubernetes.default.svc.cluster.local",
    "--service-cluster-ip-range=10.96.0.0/24",
    "--allow-privileged=true",
    "--profiling=false",
    "--enable-priority-and-fairness=false",
    ...(options.apiServerArgs ?? []),
  ];
  let apiServer: TiedProcess | undefined;

  const startApiServer = async () => {
    apiServer = spawnTied("kube-apiserver", toolPaths().kube, ["kube-apiserver", ...apiServerArgs], {
      logFile: join(dir, "kube-apiserver.log"),
    });
    const started = apiServer;
    await waitFor(
      "kube-apiserver /readyz",
      async () => {
        // The serving certificate (with its CA) is written at first start.
        const status = await httpsStatus(`${server}/readyz`, caFile, adminToken);
        return status === 200 ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, process: started },
    );
  };

  const adminKubeconfig = join(dir, "admin.kubeconfig");
  await startApiServer();
  writeFileSync(adminKubeconfig, kubeconfigYaml({ server, caFile, token: adminToken, user: "admin" }), { mode: 0o600 });

  return {
    server,
    caFile,
    adminToken,
    identityTokens,
    saKeyFile: join(pki, "sa.key"),
    adminKubeconfig,
    dir,
    startApiServer,
    async stopApiServer() {
      await apiServer?.stop();
    },
    async stop() {
      await apiServer?.stop();
      await etcd.stop();
      if (!options.keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function httpsStatus(url: string, caFile: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpsGet(url, { ca: readFileSync(caFile), headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on("timeout", () => request.destroy(new Error("timeout")));
    request.on("error", reject);
  });
}

export function kubeconfigYaml(options: { server: string; caFile: string; token: string; user: string; namespace?: string }): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "ddcred-test", cluster: { server: options.server, "certificate-authority": options.caFile } }],
    users: [{ name: options.user, user: { token: options.token } }],
    contexts: [
      {
        name: "ddcred-test",
        context: { cluster: "ddcred-test", user: options.user, ...(options.namespace ? { namespace: options.namespace } : {}) },
      },
    ],
    "current-context": "ddcred-test",
  });
}

export function adminKubeConfig(cluster: ClusterInfo): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.adminKubeconfig);
  return kc;
}

/**
 * A kubeconfig holding a TokenRequest token for a ServiceAccount, so code can
 * run with exactly the permissions RBAC gives that account (as in a pod).
 */
export async function serviceAccountKubeconfig(
  cluster: ClusterInfo,
  namespace: string,
  serviceAccount: string,
  expirationSeconds = 3600,
): Promise<{ path: string; token: string; kubeConfig: KubeConfig }> {
  const core = adminKubeConfig(cluster).makeApiClient(CoreV1Api);
  const request = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: ["https://kubernetes.default.svc.cluster.local"], expirationSeconds } },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`no token issued for ${namespace}/${serviceAccount}`);
  const path = join(cluster.dir, `sa-${namespace}-${serviceAccount}-${randomBytes(4).toString("hex")}.kubeconfig`);
  writeFileSync(path, kubeconfigYaml({ server: cluster.server, caFile: cluster.caFile, token, user: serviceAccount, namespace }), {
    mode: 0o600,
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  return { path, token, kubeConfig };
}

export function readCaBundle(cluster: ClusterInfo): string {
  return readFileSync(cluster.caFile, "utf8");
}
