// The test bed node's cluster DNS (test/harness/node/cluster-dns.ts), asked by
// Node's own DNS client (c-ares, as a pod's resolver would ask) on loopback,
// with Services and EndpointSlices from the suite's real API server.
import { Resolver } from "node:dns/promises";
import { createSocket } from "node:dgram";
import { CoreV1Api, DiscoveryV1Api, type KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { adminKubeConfig } from "../harness/cluster.js";
import { createNamespace } from "../harness/kube.js";
import { apiServiceLookup, encodeAnswer, parseQuery, RCODE, serviceOf, startClusterDns, type ClusterDns } from "../harness/node/cluster-dns.js";

let admin: KubeConfig;
let dns: ClusterDns;
let resolver: Resolver;
let namespace: string;

beforeAll(async () => {
  admin = adminKubeConfig(inject("cluster"));
  namespace = await createNamespace(admin, { prefix: "dns" });
  const core = admin.makeApiClient(CoreV1Api);
  const port = (name: string) => [{ name, port: 80, protocol: "TCP" }];
  await core.createNamespacedService({ namespace, body: { metadata: { name: "web" }, spec: { ports: port("http"), selector: { app: "web" } } } });
  await core.createNamespacedService({ namespace, body: { metadata: { name: "ray-head" }, spec: { clusterIP: "None", ports: port("dashboard"), selector: { app: "ray" } } } });
  await core.createNamespacedService({
    namespace,
    body: { metadata: { name: "peers" }, spec: { clusterIP: "None", publishNotReadyAddresses: true, ports: port("peer"), selector: { app: "peer" } } },
  });
  const discovery = admin.makeApiClient(DiscoveryV1Api);
  const slice = (service: string, endpoints: { ip: string; ready: boolean }[]) =>
    discovery.createNamespacedEndpointSlice({
      namespace,
      body: {
        metadata: { name: `${service}-a`, labels: { "kubernetes.io/service-name": service } },
        addressType: "IPv4",
        ports: [{ name: "p", port: 80 }],
        endpoints: endpoints.map(({ ip, ready }) => ({ addresses: [ip], conditions: { ready } })),
      },
    });
  await slice("ray-head", [{ ip: "10.250.1.7", ready: true }, { ip: "10.250.1.9", ready: false }]);
  await slice("peers", [{ ip: "10.250.1.20", ready: true }, { ip: "10.250.1.21", ready: false }]);
  dns = await startClusterDns({ address: "127.0.0.1", port: 0, lookup: apiServiceLookup(admin) });
  resolver = new Resolver({ timeout: 5_000, tries: 1 });
  resolver.setServers([`127.0.0.1:${dns.port}`]);
});

afterAll(async () => {
  await dns?.stop();
  if (namespace) await admin.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
});

describe("the node's cluster DNS", () => {
  it("answers a Service's name with its ClusterIP, in any letter case", async () => {
    const service = await admin.makeApiClient(CoreV1Api).readNamespacedService({ name: "web", namespace });
    expect(service.spec!.clusterIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await resolver.resolve4(`web.${namespace}.svc.cluster.local`)).toEqual([service.spec!.clusterIP]);
    expect(await resolver.resolve4(`WEB.${namespace.toUpperCase()}.svc.Cluster.Local`)).toEqual([service.spec!.clusterIP]);
  });

  it("answers a headless Service with its ready endpoints, or all of them when it publishes not-ready addresses", async () => {
    expect(await resolver.resolve4(`ray-head.${namespace}.svc.cluster.local`)).toEqual(["10.250.1.7"]);
    expect((await resolver.resolve4(`peers.${namespace}.svc.cluster.local`)).sort()).toEqual(["10.250.1.20", "10.250.1.21"]);
  });

  it("says a name exists but has no AAAA record, as a single-stack cluster does", async () => {
    await expect(resolver.resolve6(`web.${namespace}.svc.cluster.local`)).rejects.toMatchObject({ code: "ENODATA" });
  });

  it("answers NXDOMAIN for a missing Service and for a name a resolver's search list made up", async () => {
    await expect(resolver.resolve4(`missing.${namespace}.svc.cluster.local`)).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(resolver.resolve4(`web.${namespace}.svc.cluster.local.${namespace}.svc.cluster.local`)).rejects.toMatchObject({ code: "ENOTFOUND" });
  });

  it("refuses names outside the cluster domain: it forwards nowhere", async () => {
    await expect(resolver.resolve4("sts.amazonaws.com")).rejects.toMatchObject({ code: "EREFUSED" });
  });

  it("answers a malformed query with FORMERR and ignores a message that is an answer", async () => {
    const socket = createSocket("udp4");
    try {
      const replies: Buffer[] = [];
      socket.on("message", (message) => replies.push(message));
      await new Promise<void>((done) => socket.bind(0, "127.0.0.1", done));
      // An answer (QR set) first, then a query whose name runs past the end of the message.
      socket.send(Buffer.from([0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0]), dns.port, "127.0.0.1");
      socket.send(Buffer.from([0, 2, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, 0x61]), dns.port, "127.0.0.1");
      const deadline = Date.now() + 10_000;
      while (replies.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(replies).toHaveLength(1);
      expect(replies[0]!.readUInt16BE(0)).toBe(2);
      expect(replies[0]!.readUInt16BE(2) & 0xf).toBe(RCODE.formatError);
    } finally {
      socket.close();
    }
  });
});

describe("its pure parts", () => {
  it("reads a Service's name and namespace only from <service>.<namespace>.svc.<domain>", () => {
    expect(serviceOf("web.team.svc.cluster.local")).toEqual({ service: "web", namespace: "team" });
    expect(serviceOf("web.svc.cluster.local")).toBeNull();
    expect(serviceOf("pod.team.pod.cluster.local")).toBeNull();
    expect(serviceOf("cluster.local")).toBeNull();
    expect(serviceOf("example.com")).toBeUndefined();
    expect(serviceOf("evilcluster.local")).toBeUndefined();
  });

  it("echoes the id, question and recursion-desired flag, and points each record's name at the question", () => {
    const query = Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from("\x01a\x01b\x03svc\x05local\x00\x00\x01\x00\x01", "latin1")]);
    const question = parseQuery(query);
    expect(question).toMatchObject({ id: 0x1234, name: "a.b.svc.local", type: 1, class: 1 });
    const answer = encodeAnswer(question as Exclude<typeof question, undefined | { error: number }>, RCODE.noError, ["10.0.0.1"]);
    expect(answer.readUInt16BE(0)).toBe(0x1234);
    expect(answer.readUInt16BE(2)).toBe(0x8000 | 0x0400 | 0x0100);
    expect(answer.subarray(12, query.length)).toEqual(query.subarray(12));
    expect([...answer.subarray(query.length)]).toEqual([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1]);
  });
});
