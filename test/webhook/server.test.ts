// The admission server over real HTTPS on loopback, with a certificate that
// rotates mid-run.
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import type { TLSSocket } from "node:tls";
import { join } from "node:path";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { Grant } from "../../src/shared/grant.js";
import { MUTATE_PODS_PATH } from "../../src/webhook/paths.js";
import { parseGoDurationMs, startAdmissionServer, type AdmissionServer, type CertificateSource, type ServingCertificate } from "../../src/webhook/server.js";
import { settings, StaticGrantCache } from "./support/fixtures.js";
import { selfSignedCertificate, type SelfSignedCertificate } from "./support/self-signed.js";

const root = join(import.meta.dirname, "../..");
const workerReview = readFileSync(join(root, "webhook/samples/kuberay-worker-create.json"), "utf8");
const grants = parseAllDocuments(readFileSync(join(root, "test/golden/grants.yaml"), "utf8")).map((d) => d.toJS() as Grant);
const MAX_BODY_BYTES = 64 * 1024;

class RotatingCertificate implements CertificateSource {
  private readonly listeners = new Set<(certificate: ServingCertificate) => void>();
  constructor(private certificate: ServingCertificate) {}
  current(): ServingCertificate {
    return this.certificate;
  }
  onChange(listener: (certificate: ServingCertificate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  rotate(certificate: ServingCertificate): void {
    this.certificate = certificate;
    for (const listener of this.listeners) listener(certificate);
  }
}

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly fingerprint: string;
  readonly reusedSocket: boolean;
}

let first: SelfSignedCertificate;
let second: SelfSignedCertificate;
let certificates: RotatingCertificate;
let server: AdmissionServer;
const cache = new StaticGrantCache(grants);
const registry = new Registry();
const logLines: Record<string, unknown>[] = [];

function call(path: string, options: { method?: string; body?: string; agent?: Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: server.port,
        path,
        method: options.method ?? (options.body === undefined ? "GET" : "POST"),
        ca: [first.cert, second.cert],
        agent: options.agent ?? false,
        headers: options.body === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        // Read now: a keep-alive socket goes back to its pool once the body ends.
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), fingerprint, reusedSocket: req.reusedSocket }),
        );
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

const admit = (body: string, agent?: Agent) => call(`${MUTATE_PODS_PATH}?timeout=10s`, { body, ...(agent ? { agent } : {}) });

async function counter(result: string): Promise<number> {
  const metric = await registry.getSingleMetric("ddcred_admission_requests_total")?.get();
  return metric?.values.find((v) => v.labels.result === result)?.value ?? 0;
}

beforeAll(async () => {
  first = selfSignedCertificate("ddcred-webhook-first");
  second = selfSignedCertificate("ddcred-webhook-second");
  certificates = new RotatingCertificate(first);
  const logger = pino({ level: "info" }, { write: (line: string) => void logLines.push(JSON.parse(line)) });
  server = await startAdmissionServer({
    certificates,
    grants: cache,
    settings,
    logger,
    registry,
    host: "127.0.0.1",
    port: 0,
    maxBodyBytes: MAX_BODY_BYTES,
  });
});

afterAll(async () => {
  await server?.close();
});

describe("admission server", () => {
  it("answers a KubeRay worker's AdmissionReview over HTTPS with its uid and a JSON patch", async () => {
    const reply = await admit(workerReview);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).response).toMatchObject({ uid: "705ab4f5-6393-11e8-b7cc-42010a800002", allowed: true, patchType: "JSONPatch" });
  });

  it("answers healthz, and readyz only once the grant cache has synced", async () => {
    expect((await call("/healthz")).status).toBe(200);
    cache.synced = false;
    try {
      expect((await call("/readyz")).status).toBe(503);
    } finally {
      cache.synced = true;
    }
    expect((await call("/readyz")).status).toBe(200);
  });

  it("answers a body that is not JSON with 400 and a reason, then serves the next request", async () => {
    const bad = await admit("{ not json");
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/^NotJson: /);
    expect((await admit(workerReview)).status).toBe(200);
  });

  it("answers a body over the size limit with 400 and stays up", async () => {
    const huge = JSON.stringify({ padding: "x".repeat(MAX_BODY_BYTES) });
    const reply = await admit(huge);
    expect(reply.status).toBe(400);
    expect(reply.body).toMatch(/^BodyTooLarge: /);
    expect((await admit(workerReview)).status).toBe(200);
  });

  it("answers an unknown path with 404 and a GET on the admission path with 405", async () => {
    expect((await call("/mutate")).status).toBe(404);
    expect((await call(MUTATE_PODS_PATH)).status).toBe(405);
  });

  it("serves consecutive admissions on one keep-alive connection", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await admit(workerReview, agent);
      expect((await admit(workerReview, agent)).reusedSocket).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it("presents a rotated certificate to new connections while open ones keep working", async () => {
    const open = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await admit(workerReview, open)).fingerprint).toBe(first.fingerprint256);
      certificates.rotate(second);
      const fresh = await admit(workerReview);
      expect(fresh).toMatchObject({ status: 200, fingerprint: second.fingerprint256 });
      expect(await admit(workerReview, open)).toMatchObject({ status: 200, fingerprint: first.fingerprint256, reusedSocket: true });
    } finally {
      open.destroy();
      certificates.rotate(first);
    }
  });

  it("counts admissions by result in the registry it was given", async () => {
    const [injected, badRequests] = [await counter("injected"), await counter("bad_request")];
    await admit(workerReview);
    await admit("[]");
    expect(await counter("injected")).toBe(injected + 1);
    expect(await counter("bad_request")).toBe(badRequests + 1);
    expect(await registry.getSingleMetric("ddcred_admission_duration_seconds")?.get()).toBeDefined();
  });

  it("logs one line per decision with the pod, namespace, grant and reason, and nothing of the pod's spec", async () => {
    const body = JSON.parse(workerReview);
    body.request.uid = "11111111-2222-4333-8444-555555555555";
    await admit(JSON.stringify(body));
    const lines = logLines.filter((line) => line.uid === body.request.uid);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      namespace: "ray-jobs",
      pod: "raycluster-etl-cpu-group-worker-*",
      grant: "ray-etl",
      reason: "Injected",
      result: "injected",
    });
    expect(JSON.stringify(lines[0])).not.toMatch(/RAY_ADDRESS|rayproject\/ray|arn:aws/);
  });
});

/** A grant cache that has not synced: admissions wait in waitForSync until open() is called. */
class GatedGrantCache extends StaticGrantCache {
  readonly asked: Promise<void>;
  #asked!: () => void;
  #open!: (synced: boolean) => void;
  readonly #opened = new Promise<boolean>((resolve) => (this.#open = resolve));
  constructor(grants: readonly Grant[]) {
    super(grants, { synced: false });
    this.asked = new Promise((resolve) => (this.#asked = resolve));
  }
  override async waitForSync(): Promise<boolean> {
    this.#asked();
    return this.#opened;
  }
  open(): void {
    this.synced = true;
    this.#open(true);
  }
}

interface DrainReply {
  readonly status: number;
  readonly connection: string | undefined;
  readonly reusedSocket: boolean;
  readonly socketClosed: Promise<unknown>;
}

function postReview(port: number, agent: Agent): Promise<DrainReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: `${MUTATE_PODS_PATH}?timeout=10s`, method: "POST", ca: first.cert, agent }, (res) => {
      const socketClosed = once(res.socket, "close");
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, reusedSocket: req.reusedSocket, socketClosed }));
    });
    req.on("error", reject);
    req.end(workerReview);
  });
}

function startServerWith(grantCache: StaticGrantCache): Promise<AdmissionServer> {
  return startAdmissionServer({
    certificates: new RotatingCertificate(first),
    grants: grantCache,
    settings,
    logger: pino({ level: "silent" }),
    registry: new Registry(),
    host: "127.0.0.1",
    port: 0,
  });
}

describe("admission server draining", () => {
  it("keeps admitting once draining starts, each answer closing its connection so the client reconnects", async () => {
    const draining = await startServerWith(new StaticGrantCache(grants));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await postReview(draining.port, agent)).toMatchObject({ status: 200, connection: "keep-alive" });
      draining.startDraining();
      const onOpenConnection = await postReview(draining.port, agent);
      expect(onOpenConnection).toMatchObject({ status: 200, connection: "close", reusedSocket: true });
      await onOpenConnection.socketClosed;
      expect(await postReview(draining.port, agent)).toMatchObject({ status: 200, connection: "close", reusedSocket: false });
    } finally {
      agent.destroy();
      await draining.close();
    }
  });

  it("answers a request it was working on when it closed with Connection: close, and closes that connection", async () => {
    const gate = new GatedGrantCache(grants);
    const closing = await startServerWith(gate);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const answered = postReview(closing.port, agent);
      await gate.asked; // the admission is in flight, waiting for the cache
      const closed = closing.close();
      gate.open();
      const reply = await answered;
      expect(reply).toMatchObject({ status: 200, connection: "close" });
      await reply.socketClosed;
      await closed;
    } finally {
      gate.open();
      agent.destroy();
    }
  });
});

describe("parseGoDurationMs", () => {
  it("reads the Go durations the API server sends as ?timeout=", () => {
    expect(parseGoDurationMs("10s")).toBe(10_000);
    expect(parseGoDurationMs("1m30s")).toBe(90_000);
    expect(parseGoDurationMs("2.5s")).toBe(2_500);
  });

  it("ignores a missing or malformed timeout", () => {
    expect(parseGoDurationMs(null)).toBeUndefined();
    expect(parseGoDurationMs("ten")).toBeUndefined();
    expect(parseGoDurationMs("10sx")).toBeUndefined();
  });
});
