// What a Service gives the API server in a real cluster, emulated on
// loopback: the test API server has no kube-proxy, so the webhook is
// registered by URL, and with two replicas this TCP balancer stands where the
// Service's virtual IP would.
//   - Endpoints: every backend's /readyz (the operator's health port) is
//     polled every pollIntervalMs, as readiness reaches EndpointSlices and
//     every kube-proxy. A backend that fails it gets no new connections.
//   - kube-proxy: each new TCP connection goes to the next ready backend
//     (round robin, like IPVS rr; iptables picks at random); connections
//     already open stay on their backend until either side closes them, as
//     conntrack keeps them. TLS passes through untouched: the API server
//     verifies the replica's own certificate.
//   - No ready backend, or a backend that refuses the connection: the client
//     connection is reset, as kube-proxy's REJECT rule and a dead pod IP do.
// It is optimistic in one way: a real cluster takes a readiness probe period
// (the chart: 5 s) plus endpoint propagation to notice a dead replica, where
// this takes one poll interval. A terminating pod leaves the endpoints as soon
// as it is deleted, which the poll of /readyz (it fails from SIGTERM on) models.
import { connect, createServer, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface BalancedBackend {
  readonly name: string;
  readonly port: number;
  /** Readiness URL (the operator's /readyz). */
  readonly readyUrl: string;
}

export interface ReadinessChange {
  readonly backend: string;
  readonly ready: boolean;
  /** performance.now() when the balancer saw it. */
  readonly at: number;
}

export interface BalancerStats {
  /** New connections per backend. */
  readonly connections: Readonly<Record<string, number>>;
  /** Connections reset because no backend was ready. */
  readonly noReadyBackend: number;
  /** Connections reset because the chosen backend refused or failed before connecting. */
  readonly backendRefused: number;
}

export interface EndpointBalancer {
  readonly port: number;
  stats(): BalancerStats;
  readinessChanges(): readonly ReadinessChange[];
  /** Waits until the named backends (default all) are ready in the balancer's view. */
  waitReady(names?: readonly string[], timeoutMs?: number): Promise<void>;
  /** Adds or replaces a backend (a restarted replica). */
  setBackend(backend: BalancedBackend): void;
  stop(): Promise<void>;
}

export async function startEndpointBalancer(backends: readonly BalancedBackend[], pollIntervalMs = 150): Promise<EndpointBalancer> {
  const pool = new Map<string, { backend: BalancedBackend; ready: boolean }>();
  for (const backend of backends) pool.set(backend.name, { backend, ready: false });
  const changes: ReadinessChange[] = [];
  const connections: Record<string, number> = {};
  const counters = { noReadyBackend: 0, backendRefused: 0 };
  const open = new Set<Socket>();
  let next = 0;
  let stopped = false;

  const probe = async (name: string, url: string) => {
    let ready = false;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      ready = response.status === 200;
      await response.body?.cancel();
    } catch {
      ready = false;
    }
    const entry = pool.get(name);
    if (!entry || entry.backend.readyUrl !== url || entry.ready === ready) return;
    entry.ready = ready;
    changes.push({ backend: name, ready, at: performance.now() });
  };
  const polling = (async () => {
    while (!stopped) {
      await Promise.all([...pool.values()].map(({ backend }) => probe(backend.name, backend.readyUrl)));
      await sleep(pollIntervalMs);
    }
  })();

  const server = createServer({ allowHalfOpen: true }, (client) => {
    open.add(client);
    client.once("close", () => open.delete(client));
    const ready = [...pool.values()].filter((entry) => entry.ready);
    if (ready.length === 0) {
      counters.noReadyBackend += 1;
      client.resetAndDestroy();
      return;
    }
    const { backend } = ready[next++ % ready.length]!;
    connections[backend.name] = (connections[backend.name] ?? 0) + 1;
    const upstream = connect({ host: "127.0.0.1", port: backend.port, allowHalfOpen: true });
    open.add(upstream);
    upstream.once("close", () => open.delete(upstream));
    let connected = false;
    upstream.once("connect", () => {
      connected = true;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    // A reset on one side is a reset on the other; a clean close is passed on by pipe().
    upstream.on("error", () => {
      if (!connected) counters.backendRefused += 1;
      if (!client.destroyed) client.resetAndDestroy();
    });
    client.on("error", () => {
      if (!upstream.destroyed) upstream.resetAndDestroy();
    });
    upstream.once("close", () => client.destroySoon());
    client.once("close", () => upstream.destroySoon());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("the balancer has no address");

  return {
    port: address.port,
    stats: () => ({ connections: { ...connections }, ...counters }),
    readinessChanges: () => [...changes],
    async waitReady(names = [...pool.keys()], timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!names.every((name) => pool.get(name)?.ready)) {
        if (Date.now() > deadline) throw new Error(`balancer backends ${names.join(", ")} not ready after ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    setBackend(backend) {
      pool.set(backend.name, { backend, ready: false });
    },
    async stop() {
      stopped = true;
      await polling;
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
