// The test bed node's cluster DNS: what CoreDNS's `kubernetes` plugin answers
// for Services, and nothing else. Pods (the kubelet's clusterDNS points here)
// and host processes that talk to pods (KubeRay's operator, through a
// resolv.conf of their own) resolve
//
//   <service>.<namespace>.svc.<cluster domain>   A: the ClusterIP, or for a
//       headless Service the addresses of its EndpointSlices (ready ones, or
//       all when the Service publishes not-ready addresses)
//
// with a 5 s TTL, read from the API server at each query (no cache to go
// stale). Every other name under the cluster domain is NXDOMAIN; a known name
// has no AAAA (NOERROR, no answer), as in a single-stack IPv4 cluster; names
// outside the cluster domain are REFUSED, since pods have no route out and
// this server forwards nowhere. UDP only: an answer of a few addresses never
// needs truncation.
import { createSocket, type Socket } from "node:dgram";
import { CoreV1Api, DiscoveryV1Api, type KubeConfig } from "@kubernetes/client-node";
import { apiError } from "../../../src/shared/kube/client.js";

export const CLUSTER_DOMAIN = "cluster.local";
const TTL_SECONDS = 5;
const TYPE_A = 1;
const CLASS_IN = 1;
export const RCODE = { noError: 0, formatError: 1, serverFailure: 2, nameError: 3, notImplemented: 4, refused: 5 } as const;

export interface Question {
  readonly id: number;
  /** The query's flags, of which the answer keeps the opcode and RD. */
  readonly flags: number;
  /** Lower case, no trailing dot. */
  readonly name: string;
  readonly type: number;
  readonly class: number;
  /** The question section's bytes, echoed in the answer. */
  readonly section: Buffer;
}

/** The one question of a standard query, or undefined when the message is not one this server answers. */
export function parseQuery(message: Buffer): Question | { readonly id: number; readonly flags: number; readonly error: number } | undefined {
  if (message.length < 12) return undefined;
  const id = message.readUInt16BE(0);
  const flags = message.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // an answer, not a query: never reply to it
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return { id, flags, error: RCODE.notImplemented };
  if (message.readUInt16BE(4) !== 1) return { id, flags, error: RCODE.formatError };
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    if (offset >= message.length) return { id, flags, error: RCODE.formatError };
    const length = message[offset]!;
    offset += 1;
    if (length === 0) break;
    // A query's name has no compression pointers (0xC0) or extended labels.
    if (length > 63 || offset + length > message.length) return { id, flags, error: RCODE.formatError };
    labels.push(message.toString("latin1", offset, offset + length).toLowerCase());
    offset += length;
  }
  if (offset + 4 > message.length) return { id, flags, error: RCODE.formatError };
  const type = message.readUInt16BE(offset);
  const klass = message.readUInt16BE(offset + 2);
  return { id, flags, name: labels.join("."), type, class: klass, section: message.subarray(12, offset + 4) };
}

/** An answer to `question` (or to a message that could not be read: no question section then). */
export function encodeAnswer(question: Question | { readonly id: number; readonly flags: number }, rcode: number, addresses: readonly string[] = []): Buffer {
  const section = "section" in question ? question.section : Buffer.alloc(0);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(question.id, 0);
  // QR, the query's opcode, AA, the query's RD; RA clear (no recursion here).
  header.writeUInt16BE(0x8000 | (question.flags & 0x7800) | 0x0400 | (question.flags & 0x0100) | (rcode & 0xf), 2);
  header.writeUInt16BE(section.length > 0 ? 1 : 0, 4);
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((address) => {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    record.writeUInt16BE(TYPE_A, 2);
    record.writeUInt16BE(CLASS_IN, 4);
    record.writeUInt32BE(TTL_SECONDS, 6);
    record.writeUInt16BE(4, 10);
    address.split(".").forEach((octet, index) => record.writeUInt8(Number(octet), 12 + index));
    return record;
  });
  return Buffer.concat([header, section, ...records]);
}

/** `<service>.<namespace>` when `name` is a Service's name under the cluster domain; null when it is under the domain but no Service name; undefined when outside it. */
export function serviceOf(name: string, domain = CLUSTER_DOMAIN): { readonly service: string; readonly namespace: string } | null | undefined {
  if (name !== domain && !name.endsWith(`.${domain}`)) return undefined;
  const labels = name.slice(0, Math.max(0, name.length - domain.length - 1)).split(".");
  if (labels.length !== 3 || labels[2] !== "svc" || !labels[0] || !labels[1]) return null;
  return { service: labels[0], namespace: labels[1] };
}

/** The A records of a Service: its ClusterIP, or its endpoints' addresses when headless; undefined when there is no such Service. */
export type ServiceLookup = (namespace: string, service: string) => Promise<readonly string[] | undefined>;

export function apiServiceLookup(admin: KubeConfig): ServiceLookup {
  const core = admin.makeApiClient(CoreV1Api);
  const discovery = admin.makeApiClient(DiscoveryV1Api);
  return async (namespace, name) => {
    let service;
    try {
      service = await core.readNamespacedService({ name, namespace });
    } catch (error) {
      if (apiError(error)?.code === 404) return undefined;
      throw error;
    }
    const clusterIP = service.spec?.clusterIP;
    if (clusterIP && clusterIP !== "None") return [clusterIP];
    const everyAddress = service.spec?.publishNotReadyAddresses === true;
    const slices = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${name}` });
    const addresses = new Set<string>();
    for (const slice of slices.items) {
      if (slice.addressType !== "IPv4") continue;
      for (const endpoint of slice.endpoints ?? []) {
        if (everyAddress || endpoint.conditions?.ready !== false) for (const address of endpoint.addresses) addresses.add(address);
      }
    }
    return [...addresses].sort();
  };
}

/** What this server answers to one question. */
export async function resolve(question: Question, lookup: ServiceLookup, domain = CLUSTER_DOMAIN): Promise<{ rcode: number; addresses: readonly string[] }> {
  const target = serviceOf(question.name, domain);
  if (target === undefined) return { rcode: RCODE.refused, addresses: [] };
  if (question.class !== CLASS_IN || target === null) return { rcode: RCODE.nameError, addresses: [] };
  const addresses = await lookup(target.namespace, target.service);
  if (addresses === undefined) return { rcode: RCODE.nameError, addresses: [] };
  // A known name: A records for A queries; NOERROR and no answer for AAAA and other types.
  return { rcode: RCODE.noError, addresses: question.type === TYPE_A ? addresses : [] };
}

export interface ClusterDns {
  readonly address: string;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startClusterDns(options: { address: string; port?: number; lookup: ServiceLookup; domain?: string }): Promise<ClusterDns> {
  const socket: Socket = createSocket("udp4");
  socket.on("message", (message, peer) => {
    const query = parseQuery(message);
    if (!query) return;
    const reply = (answer: Buffer) => socket.send(answer, peer.port, peer.address);
    if ("error" in query) {
      reply(encodeAnswer(query, query.error));
      return;
    }
    resolve(query, options.lookup, options.domain)
      .then(({ rcode, addresses }) => reply(encodeAnswer(query, rcode, addresses)))
      // The API server unreachable: SERVFAIL, so the client retries rather than caching a negative answer.
      .catch(() => reply(encodeAnswer(query, RCODE.serverFailure)));
  });
  await new Promise<void>((done, fail) => {
    socket.once("error", fail);
    socket.bind(options.port ?? 53, options.address, () => {
      socket.off("error", fail);
      done();
    });
  });
  return {
    address: options.address,
    port: socket.address().port,
    stop: () => new Promise<void>((done) => socket.close(() => done())),
  };
}
