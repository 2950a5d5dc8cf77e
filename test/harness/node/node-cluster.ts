// A one-node Kubernetes cluster on this machine, for the tests about pods
// that really run: etcd and kube-apiserver on the node address, containerd
// (with runc and the CNI bridge plugin) from Debian, and kubelet,
// kube-controller-manager, kube-scheduler and kube-proxy from the project's
// multi-call Kubernetes binary (tools/kube). Images come from OCI archives
// built by scripts/build-images.sh and are imported without a registry.
//
// Network (every address is on this machine): the node address lives on lo;
// pods get a /24 behind the bridge, with routes to the Service range and the
// node address only, so no default route and no NAT: a pod can reach the API
// server (through the `kubernetes` Service, by kube-proxy's DNAT), the test's
// STS and Datadog stand-ins listening on the node address, and other pods;
// nothing else. The API server calls webhook Services at their endpoints.
// Pods resolve Service names through the node's cluster DNS (cluster-dns.ts,
// on the node address); host processes that must resolve them too (KubeRay's
// operator) get `dnsResolvConf` to bind over /etc/resolv.conf in a mount
// namespace of their own.
//
// The node changes the host (see host.ts); startNodeCluster records the host
// first and stop() restores it, as does the next start after a crash.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { adminKubeConfig, kubeconfigYaml, startCluster, type Cluster, type ClusterInfo } from "../cluster.js";
import { freePort, spawnTied, waitFor, type TiedProcess } from "../process.js";
import { toolPaths } from "../tools.js";
import { REPO_ROOT } from "../paths.js";
import { leftoverRecord, NODE_NETWORK, NODE_STATE_DIR, removeRecord, restoreHost, takeHostSnapshot, writeRecord } from "./host.js";
import { readImageIndex, type ImageIndex } from "./images.js";
import { apiServiceLookup, CLUSTER_DOMAIN, startClusterDns, type ClusterDns } from "./cluster-dns.js";

/** What tests need to use the node cluster; plain data, passed between vitest processes. */
export interface NodeClusterInfo extends ClusterInfo {
  readonly nodeName: string;
  /** Where processes of the test (STS, Datadog stand-ins) listen so that pods reach them. */
  readonly nodeAddress: string;
  readonly images: ImageIndex;
  /** The containerd socket, for `ctr`/crictl-like checks. */
  readonly containerdSocket: string;
  /** A resolv.conf naming the node's cluster DNS, for host processes that resolve Service names. */
  readonly dnsResolvConf: string;
}

export interface NodeCluster extends NodeClusterInfo {
  /** Stops every component and restores the host; throws if something could not be restored. */
  stop(): Promise<void>;
}

const KUBELET_PORT = 10250;

export async function startNodeCluster(): Promise<NodeCluster> {
  const leftover = leftoverRecord();
  if (leftover) {
    const remaining = restoreHost(leftover);
    if (remaining.length > 0) throw new Error(`could not clean up a crashed test bed node:\n${remaining.join("\n")}`);
    removeRecord();
  }
  const images = readImageIndex();
  const dir = NODE_STATE_DIR;
  const before = takeHostSnapshot();
  writeRecord({ dir, startedAt: new Date().toISOString(), pid: process.pid, before });
  const processes: TiedProcess[] = [];
  const controllers: TiedProcess[] = [];
  let cluster: Cluster | undefined;
  let dns: ClusterDns | undefined;
  const stop = async () => {
    // Controllers first, so nothing recreates pods; then pods, while the
    // kubelet is up, so volumes unmount and CNI DEL runs.
    for (const child of controllers) await child.stop(15_000);
    if (cluster) await deleteAllPods(adminKubeConfig(cluster)).catch(() => undefined);
    // Reverse start order; the API server must be gone before etcd stops.
    for (const child of [...processes].reverse()) await child.stop(15_000);
    await dns?.stop();
    await cluster?.stop();
    const remaining = restoreHost({ dir, before });
    removeRecord();
    if (remaining.length > 0) throw new Error(`the test bed left the host changed:\n${remaining.join("\n")}`);
  };
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync("ip", ["addr", "add", `${NODE_NETWORK.nodeAddress}/32`, "dev", "lo"]);
    writeKubeletClientCertificates(join(dir, "pki"));
    cluster = await startCluster({
      dir: join(dir, "control-plane"),
      address: NODE_NETWORK.nodeAddress,
      authorizationModes: ["Node", "RBAC"],
      identities: {
        kubelet: `system:node:${NODE_NETWORK.nodeName},system:node:${NODE_NETWORK.nodeName},system:nodes`,
        controllerManager: "system:kube-controller-manager,system:kube-controller-manager",
        scheduler: "system:kube-scheduler,system:kube-scheduler",
        proxy: "system:kube-proxy,system:kube-proxy",
      },
      apiServerArgs: [
        "--kubelet-preferred-address-types=InternalIP",
        // Webhook Services are called at their endpoints' pod IPs.
        "--enable-aggregator-routing=true",
        `--kubelet-client-certificate=${join(dir, "pki/apiserver-kubelet-client.crt")}`,
        `--kubelet-client-key=${join(dir, "pki/apiserver-kubelet-client.key")}`,
        "--service-account-extend-token-expiration=false",
      ],
    });
    const kubeconfigFor = (name: string) => {
      const path = join(dir, `${name}.kubeconfig`);
      writeFileSync(path, kubeconfigYaml({ server: cluster!.server, caFile: cluster!.caFile, token: cluster!.identityTokens[name]!, user: name }), { mode: 0o600 });
      return path;
    };
    dns = await startClusterDns({ address: NODE_NETWORK.nodeAddress, lookup: apiServiceLookup(adminKubeConfig(cluster)) });
    const dnsResolvConf = join(dir, "resolv.conf");
    writeFileSync(dnsResolvConf, `nameserver ${NODE_NETWORK.nodeAddress}\n`);
    const { kube } = toolPaths();
    const containerd = await startContainerd(dir, images, processes);
    controllers.push(
      spawnTied("kube-controller-manager", kube, [
        "kube-controller-manager",
        `--kubeconfig=${kubeconfigFor("controllerManager")}`,
        "--use-service-account-credentials",
        `--service-account-private-key-file=${cluster.saKeyFile}`,
        `--root-ca-file=${cluster.caFile}`,
        "--leader-elect=false",
        "--controllers=*",
        // No HTTPS health endpoint: nothing here reads it, and a port picked ahead could be taken meanwhile.
        "--secure-port=0",
        `--flex-volume-plugin-dir=${join(dir, "flexvolume")}`,
        `--service-cluster-ip-range=${NODE_NETWORK.serviceSubnet}`,
        "--concurrent-deployment-syncs=2",
      ], { logFile: join(dir, "kube-controller-manager.log") }),
      spawnTied("kube-scheduler", kube, [
        "kube-scheduler",
        `--kubeconfig=${kubeconfigFor("scheduler")}`,
        `--authentication-kubeconfig=${kubeconfigFor("scheduler")}`,
        `--authorization-kubeconfig=${kubeconfigFor("scheduler")}`,
        "--leader-elect=false",
        // No HTTPS health endpoint: nothing here reads it, and a port picked ahead could be taken meanwhile.
        "--secure-port=0",
      ], { logFile: join(dir, "kube-scheduler.log") }),
    );
    const kubelet = spawnTied("kubelet", kube, [
      "kubelet",
      `--config=${await writeKubeletConfig(dir, containerd)}`,
      `--kubeconfig=${kubeconfigFor("kubelet")}`,
      `--root-dir=${join(dir, "kubelet")}`,
      `--cert-dir=${join(dir, "kubelet/pki")}`,
      `--volume-plugin-dir=${join(dir, "kubelet/volume-plugins")}`,
      `--hostname-override=${NODE_NETWORK.nodeName}`,
      `--node-ip=${NODE_NETWORK.nodeAddress}`,
    ], { logFile: join(dir, "kubelet.log") });
    processes.push(kubelet);
    processes.push(
      spawnTied("kube-proxy", kube, ["kube-proxy", `--config=${await writeKubeProxyConfig(dir, kubeconfigFor("proxy"))}`], {
        logFile: join(dir, "kube-proxy.log"),
      }),
    );
    const admin = adminKubeConfig(cluster);
    await waitForNodeReady(admin, kubelet);
    await waitFor(
      "the default ServiceAccount (kube-controller-manager)",
      async () => ((await admin.makeApiClient(CoreV1Api).listNamespacedServiceAccount({ namespace: "default" })).items.length > 0 ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 200, process: controllers[0] },
    );
    const { server, caFile, adminToken, adminKubeconfig } = cluster;
    return {
      server,
      caFile,
      adminToken,
      adminKubeconfig,
      dir,
      nodeName: NODE_NETWORK.nodeName,
      nodeAddress: NODE_NETWORK.nodeAddress,
      images,
      containerdSocket: containerd,
      dnsResolvConf,
      stop,
    };
  } catch (error) {
    await stop().catch((stopError: unknown) => console.error(String(stopError)));
    throw error;
  }
}

/** The client certificate the API server presents to the kubelet (logs, exec), and the CA the kubelet trusts for it. */
function writeKubeletClientCertificates(pki: string): void {
  mkdirSync(pki, { recursive: true });
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl("req", "-x509", ...ec, "-keyout", join(pki, "kubelet-client-ca.key"), "-out", join(pki, "kubelet-client-ca.crt"), "-days", "7", "-subj", "/CN=ddcred-testbed-kubelet-client-ca");
  openssl("req", ...ec, "-keyout", join(pki, "apiserver-kubelet-client.key"), "-out", join(pki, "apiserver-kubelet-client.csr"), "-subj", "/O=system:masters/CN=kube-apiserver-kubelet-client");
  writeFileSync(join(pki, "client.ext"), "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n");
  openssl("x509", "-req", "-in", join(pki, "apiserver-kubelet-client.csr"), "-CA", join(pki, "kubelet-client-ca.crt"), "-CAkey", join(pki, "kubelet-client-ca.key"),
    "-CAcreateserial", "-out", join(pki, "apiserver-kubelet-client.crt"), "-days", "7", "-extfile", join(pki, "client.ext"));
}

async function startContainerd(dir: string, images: ImageIndex, processes: TiedProcess[]): Promise<string> {
  const base = join(dir, "containerd");
  const socket = join(base, "containerd.sock");
  const cniConf = join(dir, "cni/net.d");
  mkdirSync(cniConf, { recursive: true });
  writeFileSync(join(cniConf, "10-ddcred-testbed.conflist"), JSON.stringify(cniConfig(join(dir, "cni/ipam")), null, 2));
  const config = `version = 2
root = "${base}/root"
state = "${base}/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${images.pause.ref}"
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails with
  # "runc create failed: ... can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniConf}"
`;
  mkdirSync(base, { recursive: true });
  writeFileSync(join(base, "config.toml"), config);
  const containerd = spawnTied("containerd", "containerd", ["--config", join(base, "config.toml"), "--log-level", "warn"], {
    logFile: join(dir, "containerd.log"),
  });
  processes.push(containerd);
  await waitFor("containerd to serve", async () => (execFileSync("ctr", ["-a", socket, "version"], { stdio: "ignore" }), true), {
    timeoutMs: 30_000,
    intervalMs: 100,
    process: containerd,
  });
  // Every image pods run (the index lists no build stage).
  for (const image of Object.values(images)) {
    execFileSync("ctr", ["-a", socket, "-n", "k8s.io", "images", "import", image.archive], { stdio: ["ignore", "ignore", "pipe"] });
  }
  return socket;
}

export function cniConfig(ipamDir: string): object {
  return {
    cniVersion: "1.0.0",
    name: "ddcred-testbed",
    plugins: [
      {
        type: "bridge",
        bridge: NODE_NETWORK.bridge,
        isGateway: true,
        isDefaultGateway: false,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: NODE_NETWORK.podSubnet }]],
          // Only the Service range and the node address: no default route.
          routes: [{ dst: NODE_NETWORK.serviceSubnet }, { dst: `${NODE_NETWORK.nodeAddress}/32` }],
          dataDir: ipamDir,
        },
      },
      { type: "loopback" },
    ],
  };
}

async function writeKubeletConfig(dir: string, containerdSocket: string): Promise<string> {
  const path = join(dir, "kubelet-config.json");
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      failCgroupV1: false,
      cgroupDriver: "cgroupfs",
      cgroupsPerQOS: true,
      enforceNodeAllocatable: ["pods"],
      failSwapOn: false,
      containerRuntimeEndpoint: `unix://${containerdSocket}`,
      podLogsDir: join(dir, "pod-logs"),
      address: NODE_NETWORK.nodeAddress,
      port: KUBELET_PORT,
      readOnlyPort: 0,
      // 0: no healthz listener (nothing reads it; a port picked ahead could be taken meanwhile).
      healthzPort: 0,
      // Only the API server (its client certificate) may use the kubelet's API.
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: false },
        x509: { clientCAFile: join(dir, "pki/kubelet-client-ca.crt") },
      },
      authorization: { mode: "AlwaysAllow" },
      // Pods (dnsPolicy ClusterFirst) resolve Service names through the node's
      // cluster DNS; the host's resolver is never handed to a pod.
      resolvConf: "",
      clusterDNS: [NODE_NETWORK.nodeAddress],
      clusterDomain: CLUSTER_DOMAIN,
      evictionHard: {},
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      serializeImagePulls: false,
      // Status reaches the API server quickly, so tests see what happened without long polls.
      nodeStatusUpdateFrequency: "4s",
      syncFrequency: "10s",
      fileCheckFrequency: "10s",
      volumeStatsAggPeriod: "0s",
    }),
  );
  return path;
}

async function writeKubeProxyConfig(dir: string, kubeconfig: string): Promise<string> {
  const path = join(dir, "kube-proxy-config.json");
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      clientConnection: { kubeconfig },
      mode: "iptables",
      hostnameOverride: NODE_NETWORK.nodeName,
      bindAddress: NODE_NETWORK.nodeAddress,
      healthzBindAddress: `127.0.0.1:${await freePort()}`,
      metricsBindAddress: `127.0.0.1:${await freePort()}`,
      nodePortAddresses: [`${NODE_NETWORK.nodeAddress}/32`],
      // Leave the host's conntrack sysctls alone.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
    }),
  );
  return path;
}

async function waitForNodeReady(admin: KubeConfig, kubelet: TiedProcess): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  await waitFor(
    `node ${NODE_NETWORK.nodeName} to be Ready`,
    async () => {
      const node = await core.readNode({ name: NODE_NETWORK.nodeName });
      return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? true : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250, process: kubelet },
  );
}

/** Deletes every pod and waits until the kubelet has torn each down (a pod with a grace period stays listed until then). */
async function deleteAllPods(admin: KubeConfig): Promise<void> {
  const core = admin.makeApiClient(CoreV1Api);
  const namespaces = (await core.listNamespace()).items.map((n) => n.metadata!.name!);
  for (const namespace of namespaces) await core.deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 1 });
  await waitFor("every pod to be gone from the node", async () => ((await core.listPodForAllNamespaces()).items.length === 0 ? true : undefined), {
    timeoutMs: 60_000,
    intervalMs: 250,
  }).catch(() => undefined);
}

/** vitest options whose value is the next argument (`-t pattern`), not a file filter. */
const OPTIONS_WITH_VALUES = new Set(["-t", "--testNamePattern", "-c", "--config", "--reporter", "--outputFile", "--project", "--root", "-r", "--dir", "--shard", "--maxWorkers"]);

/**
 * true, or why this run starts no node: it needs root (network, mounts,
 * cgroups); DDCRED_NODE=off skips it, and so does a run whose file filters
 * (vitest's positional arguments) select no file under test/node.
 */
export function nodeClusterWanted(argv: readonly string[] = process.argv): true | string {
  if (process.env.DDCRED_NODE === "off") return "DDCRED_NODE=off";
  const args = argv.slice(argv.indexOf("run") + 1);
  // File filters: the arguments that are neither options nor an option's value.
  const filters = args.filter((arg, index) => !arg.startsWith("-") && !OPTIONS_WITH_VALUES.has(args[index - 1] ?? ""));
  const nodeFiles = [
    ...readdirSync(join(REPO_ROOT, "test/node"), { recursive: true, encoding: "utf8" }).map((file) => `test/node/${file}`),
    // The demo test runs the node demo on the run's node.
    "test/demo/demo.test.ts",
  ];
  if (argv.includes("run") && filters.length > 0 && !filters.some((filter) => nodeFiles.some((file) => file.includes(filter)))) {
    return "no test file of this run needs it";
  }
  if (process.getuid?.() !== 0) return "the node needs root (it configures the network, mounts and cgroups)";
  return true;
}
