// What the test bed's node changes on the host, how to read it, and how to
// put it back. A kubelet, containerd, the CNI bridge plugin and kube-proxy
// each change something outside their own directory:
//   sysctls      kubelet: vm.overcommit_memory, vm.panic_on_oom, kernel.panic,
//                kernel.panic_on_oops, kernel.keys.*; bridge plugin: net.ipv4.ip_forward
//   iptables     kubelet: KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT
//                and jumps to them; kube-proxy: KUBE-SERVICES and the rest
//   network      the bridge, the node address on lo, pod network namespaces
//   mounts       tmpfs of memory volumes and projected tokens, container rootfs
//                overlays, network namespace bind mounts
//   cgroups      kubepods (kubelet) and k8s.io (containerd) in every hierarchy
//   paths        /var/lib/kubelet/device-plugins (fixed in the kubelet),
//                /var/lib/cni (CNI result cache), /run/containerd (the shim)
// A snapshot of all of it is recorded before the node starts, in a fixed
// place, so a run that finds the record of a crashed run restores the host
// first; teardown restores it and compares a new snapshot with the record.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Addresses of the node network; all on this machine (lo, the bridge, the pods' namespaces). */
export const NODE_NETWORK = {
  nodeName: "ddcred-node",
  /** The node's address, on lo: the kubelet rejects loopback addresses. */
  nodeAddress: "10.250.0.1",
  bridge: "ddcred0",
  podSubnet: "10.250.1.0/24",
  serviceSubnet: "10.96.0.0/24",
  /** The first address of the Service range: the `kubernetes` Service. */
  apiServiceAddress: "10.96.0.1",
} as const;

export const WATCHED_SYSCTLS = [
  "vm.overcommit_memory",
  "vm.panic_on_oom",
  "kernel.panic",
  "kernel.panic_on_oops",
  "kernel.keys.root_maxkeys",
  "kernel.keys.root_maxbytes",
  "net.ipv4.ip_forward",
  "net.ipv4.conf.all.forwarding",
  "net.ipv4.conf.all.route_localnet",
  "net.ipv6.conf.all.forwarding",
  "net.netfilter.nf_conntrack_max",
  "net.netfilter.nf_conntrack_tcp_timeout_established",
  "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
] as const;

/** The test bed's own directory: fixed, since one node runs per host and a crashed run's leftovers must be found. */
export const NODE_STATE_DIR = "/var/tmp/ddcred-testbed";

/** Paths the node creates outside its own directory. */
export const FIXED_PATHS = ["/var/lib/kubelet", "/var/lib/cni", "/run/containerd", "/usr/libexec/kubernetes"] as const;

const CGROUP_ROOT = "/sys/fs/cgroup";
const NODE_CGROUPS = ["kubepods", "kubepods.slice", "k8s.io"];

export interface HostSnapshot {
  readonly sysctls: Record<string, string | null>;
  readonly links: string[];
  readonly loAddresses: string[];
  /** "ipv4 nat/KUBE-SERVICES" for every user chain. */
  readonly iptablesChains: string[];
  /** Rules in built-in chains that jump to a user chain, e.g. "ipv4 filter -A INPUT -j KUBE-FIREWALL". */
  readonly iptablesJumps: string[];
  readonly mounts: string[];
  readonly paths: Record<string, boolean>;
  /** "memory/kubepods" for each node cgroup that exists. */
  readonly cgroups: string[];
}

function run(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function tryRun(command: string, args: readonly string[]): string | undefined {
  try {
    return run(command, args);
  } catch {
    return undefined;
  }
}

function readSysctl(name: string): string | null {
  try {
    return readFileSync(`/proc/sys/${name.replaceAll(".", "/")}`, "utf8").trim();
  } catch {
    return null;
  }
}

function writeSysctl(name: string, value: string): void {
  writeFileSync(`/proc/sys/${name.replaceAll(".", "/")}`, value);
}

const FAMILIES = [
  ["ipv4", "iptables-save", "iptables"],
  ["ipv6", "ip6tables-save", "ip6tables"],
] as const;

interface IptablesState {
  chains: string[];
  jumps: string[];
}

/** Parses iptables-save output into user chains and the built-in-chain rules that jump to user chains. */
export function parseIptablesSave(family: string, text: string): IptablesState {
  const chains: string[] = [];
  const jumps: string[] = [];
  const builtIn = new Set(["INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"]);
  let table = "";
  for (const line of text.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1).trim();
    const chain = /^:(\S+) (\S+)/.exec(line);
    if (chain && chain[2] === "-") chains.push(`${family} ${table}/${chain[1]}`);
    const rule = /^-A (\S+) .*-j (\S+)/.exec(line);
    if (rule && builtIn.has(rule[1]!) && !builtIn.has(rule[2]!) && /^[A-Z0-9-]+$/.test(rule[2]!) && !["ACCEPT", "DROP", "RETURN", "REJECT", "MASQUERADE", "DNAT", "SNAT", "MARK", "LOG"].includes(rule[2]!)) {
      jumps.push(`${family} ${table} ${line}`);
    }
  }
  return { chains, jumps };
}

function iptablesState(): IptablesState {
  const state: IptablesState = { chains: [], jumps: [] };
  for (const [family, save] of FAMILIES) {
    const text = tryRun(save, []);
    if (text === undefined) continue;
    const parsed = parseIptablesSave(family, text);
    state.chains.push(...parsed.chains);
    state.jumps.push(...parsed.jumps);
  }
  return state;
}

function mountPoints(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => line.split(" ")[4]!.replace(/\\040/g, " "));
}

function cgroupHierarchies(): string[] {
  try {
    return readdirSync(CGROUP_ROOT).filter((name) => statSync(join(CGROUP_ROOT, name)).isDirectory());
  } catch {
    return [];
  }
}

function nodeCgroups(): string[] {
  const found: string[] = [];
  for (const hierarchy of cgroupHierarchies()) {
    for (const name of NODE_CGROUPS) if (existsSync(join(CGROUP_ROOT, hierarchy, name))) found.push(`${hierarchy}/${name}`);
  }
  return found;
}

export function takeHostSnapshot(): HostSnapshot {
  const links = (tryRun("ip", ["-o", "link", "show"]) ?? "")
    .split("\n")
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1])
    .filter((name): name is string => Boolean(name))
    .sort();
  const loAddresses = (tryRun("ip", ["-o", "addr", "show", "dev", "lo"]) ?? "")
    .split("\n")
    .map((line) => /inet6? (\S+)/.exec(line)?.[1])
    .filter((address): address is string => Boolean(address))
    .sort();
  const iptables = iptablesState();
  return {
    sysctls: Object.fromEntries(WATCHED_SYSCTLS.map((name) => [name, readSysctl(name)])),
    links,
    loAddresses,
    iptablesChains: iptables.chains.sort(),
    iptablesJumps: iptables.jumps.sort(),
    mounts: [...new Set(mountPoints())].sort(),
    paths: Object.fromEntries(FIXED_PATHS.map((path) => [path, existsSync(path)])),
    cgroups: nodeCgroups().sort(),
  };
}

/** Every way `after` differs from `before`, as sentences; empty when the host is as it was. */
export function compareHostSnapshots(before: HostSnapshot, after: HostSnapshot): string[] {
  const differences: string[] = [];
  for (const [name, value] of Object.entries(before.sysctls)) {
    if (after.sysctls[name] !== value) differences.push(`sysctl ${name} is ${after.sysctls[name]}, was ${value}`);
  }
  const listDifference = (what: string, was: readonly string[], now: readonly string[]) => {
    const wasSet = new Set(was);
    const nowSet = new Set(now);
    for (const item of now) if (!wasSet.has(item)) differences.push(`${what} added: ${item}`);
    for (const item of was) if (!nowSet.has(item)) differences.push(`${what} removed: ${item}`);
  };
  listDifference("network link", before.links, after.links);
  listDifference("address on lo", before.loAddresses, after.loAddresses);
  listDifference("iptables chain", before.iptablesChains, after.iptablesChains);
  listDifference("iptables jump", before.iptablesJumps, after.iptablesJumps);
  // Mounts: only where the node mounts (other tools, e.g. an image build, mount elsewhere meanwhile).
  const nodeMount = (mount: string) => [...FIXED_PATHS, "/run/netns", "/var/run/netns", NODE_STATE_DIR].some((path) => mount === path || mount.startsWith(`${path}/`));
  listDifference("mount", before.mounts.filter(nodeMount), after.mounts.filter(nodeMount));
  listDifference("cgroup", before.cgroups, after.cgroups);
  for (const [path, existed] of Object.entries(before.paths)) {
    if (after.paths[path] !== existed) differences.push(`${path} ${existed ? "was removed" : "was left behind"}`);
  }
  return differences;
}

/** PIDs in the node's cgroups (containers, even orphaned by a crashed containerd). */
function podProcesses(): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    try {
      for (const pid of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n")) if (pid) pids.add(Number(pid));
    } catch {
      // not a cgroup directory
    }
    for (const entry of entries) {
      const path = join(dir, entry);
      try {
        if (statSync(path).isDirectory()) walk(path);
      } catch {
        // removed meanwhile
      }
    }
  };
  for (const cgroup of nodeCgroups()) walk(join(CGROUP_ROOT, cgroup));
  return [...pids];
}

/** PIDs whose command line mentions the test bed's directory (containerd, its shims, the node's components). */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(dir)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

function waitGone(pids: readonly number[], timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  const alive = () => pids.filter((pid) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z "));
  while (alive().length > 0 && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
}

function removeCgroupTree(path: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(path);
  } catch {
    return;
  }
  for (const entry of entries) {
    const child = join(path, entry);
    try {
      if (statSync(child).isDirectory()) removeCgroupTree(child);
    } catch {
      // removed meanwhile
    }
  }
  // rmdir, not rm -r: cgroup directories hold only kernel files.
  tryRun("rmdir", [path]);
}

export interface RestoreOptions {
  /** The test bed's own directory: every mount under it goes, and it is removed. */
  readonly dir: string;
  readonly before: HostSnapshot;
}

/**
 * Puts the host back as `before` recorded it: kills what still runs of the
 * node, unmounts, removes links, addresses, chains, cgroups and paths the node
 * added, restores sysctls. Safe after a crash and safe to run twice. Returns
 * the differences that remain (empty on success).
 */
export function restoreHost({ dir, before }: RestoreOptions): string[] {
  // Processes first: containers (by cgroup), then containerd, shims and the components.
  killAll(podProcesses());
  const ours = processesUsing(dir);
  killAll(ours);
  waitGone([...ours, ...podProcesses()], 10_000);

  const addedPaths = FIXED_PATHS.filter((path) => !before.paths[path]);
  const underOurs = (mount: string) => mount.startsWith(`${dir}/`) || addedPaths.some((path) => mount.startsWith(`${path}/`) || mount === path);
  const beforeMounts = new Set(before.mounts);
  for (const mount of mountPoints().filter((m) => underOurs(m) && !beforeMounts.has(m)).sort((a, b) => b.length - a.length)) {
    if (tryRun("umount", [mount]) === undefined) tryRun("umount", ["-l", mount]);
  }

  const now = takeHostSnapshot();
  for (const link of now.links.filter((l) => !before.links.includes(l))) tryRun("ip", ["link", "delete", link]);
  for (const address of now.loAddresses.filter((a) => !before.loAddresses.includes(a))) tryRun("ip", ["addr", "del", address, "dev", "lo"]);

  for (const jump of now.iptablesJumps.filter((j) => !before.iptablesJumps.includes(j))) {
    const [family, table, ...rule] = jump.split(" ");
    const command = family === "ipv6" ? "ip6tables" : "iptables";
    tryRun(command, ["-w", "-t", table!, "-D", ...rule.slice(1).join(" ").match(/"[^"]*"|\S+/g)!.map((word) => word.replace(/^"|"$/g, ""))]);
  }
  const addedChains = now.iptablesChains.filter((c) => !before.iptablesChains.includes(c));
  // Flush every added chain before deleting any: they may jump to each other.
  for (const chain of addedChains) {
    const [family, path] = chain.split(" ");
    const [table, name] = path!.split("/");
    tryRun(family === "ipv6" ? "ip6tables" : "iptables", ["-w", "-t", table!, "-F", name!]);
  }
  for (const chain of addedChains) {
    const [family, path] = chain.split(" ");
    const [table, name] = path!.split("/");
    tryRun(family === "ipv6" ? "ip6tables" : "iptables", ["-w", "-t", table!, "-X", name!]);
  }

  for (const cgroup of nodeCgroups().filter((c) => !before.cgroups.includes(c))) removeCgroupTree(join(CGROUP_ROOT, cgroup));

  for (const [name, value] of Object.entries(before.sysctls)) {
    if (value !== null && readSysctl(name) !== value) {
      try {
        writeSysctl(name, value);
      } catch {
        // reported by the comparison below
      }
    }
  }

  for (const path of addedPaths) rmSync(path, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  return compareHostSnapshots(before, takeHostSnapshot());
}


/** Where a running test bed records the host as it found it; fixed, so the next run finds a crashed run's record. */
export const RECORD_PATH = "/run/ddcred-testbed/record.json";

export interface TestBedRecord {
  readonly dir: string;
  readonly startedAt: string;
  readonly pid: number;
  readonly before: HostSnapshot;
}

/** The record of a test bed that did not tear down (its process is gone), if any. */
export function leftoverRecord(): TestBedRecord | undefined {
  let record: TestBedRecord;
  try {
    record = JSON.parse(readFileSync(RECORD_PATH, "utf8")) as TestBedRecord;
  } catch {
    return undefined;
  }
  if (record.pid !== process.pid && existsSync(`/proc/${record.pid}`)) {
    throw new Error(`a test bed node started by PID ${record.pid} at ${record.startedAt} is still running (${record.dir}); only one node can run on a host`);
  }
  return record;
}

export function writeRecord(record: TestBedRecord): void {
  mkdirSync("/run/ddcred-testbed", { recursive: true });
  writeFileSync(RECORD_PATH, JSON.stringify(record, null, 2));
}

export function removeRecord(): void {
  rmSync("/run/ddcred-testbed", { recursive: true, force: true });
}
