// The HTTPS admission server: a thin shell around reviewPodAdmission. It
// bounds what a request may cost (body size, time), keeps connections alive
// for the API server, reloads its certificate when it rotates, and writes one
// log line and one metric sample per admission request.
import { once } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { reviewPodAdmission, type AdmissionDecision, type AdmissionHandlerDependencies } from "./admission-handler.js";
import { admissionMetrics, type AdmissionMetrics } from "./metrics.js";
import { HEALTHZ_PATH, MUTATE_PODS_PATH, READYZ_PATH } from "./paths.js";
import { RecentDecisions } from "./recent-decisions.js";
import { unredactedChild } from "../shared/logger.js";

export interface ServingCertificate {
  /** PEM certificate chain. */
  readonly cert: string | Buffer;
  /** PEM private key. */
  readonly key: string | Buffer;
}

/** The serving certificate, which rotates: the server reloads it on every change. */
export interface CertificateSource {
  current(): ServingCertificate;
  /** Calls `listener` with each new certificate; returns a function that stops that. */
  onChange(listener: (certificate: ServingCertificate) => void): () => void;
}

export interface AdmissionServerOptions extends AdmissionHandlerDependencies {
  readonly certificates: CertificateSource;
  readonly logger: Logger;
  /** Registry the admission metrics are registered on. */
  readonly registry: Registry;
  /** Default: every address, IPv6 and IPv4 (the Service reaches the pod IP); tests use 127.0.0.1. */
  readonly host?: string;
  /** Default 0: a free port, reported by `port`. */
  readonly port?: number;
  /** Largest AdmissionReview accepted; the API server caps objects at 3 MiB. */
  readonly maxBodyBytes?: number;
  /** Time for a whole request to arrive. */
  readonly requestTimeoutMs?: number;
}

export interface AdmissionServer {
  readonly port: number;
  /**
   * Keeps admitting, but every answer from now on closes its connection, so
   * keep-alive clients move to other replicas one request at a time.
   */
  startDraining(): void;
  /** Stops listening, lets in-flight requests finish (each closing its connection), then closes what is left. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/**
 * Longer than the API server's idle-connection timeout (Go's 90 s), so the
 * API server, not us, closes idle connections: a server-side close racing a
 * new request fails that admission call, and a POST is not retried.
 */
const KEEP_ALIVE_TIMEOUT_MS = 95_000;
const CLOSE_GRACE_MS = 5_000;

export async function startAdmissionServer(options: AdmissionServerOptions): Promise<AdmissionServer> {
  const { logger, certificates } = options;
  const metrics = admissionMetrics(options.registry);
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const drain = new ConnectionDrain();
  const decisionLog = unredactedChild(logger);
  const handlerDeps = { ...options, recentDecisions: options.recentDecisions ?? new RecentDecisions() };
  const server = createServer({ ...certificates.current(), minVersion: "TLSv1.2" }, (req, res) => {
    route(req, res, handlerDeps, metrics, decisionLog, drain).catch((error: unknown) => {
      logger.error({ err: error }, "admission server failed to answer a request");
      if (!res.headersSent) sendText(res, drain, 500, "internal error");
      else res.destroy();
    });
  });
  server.requestTimeout = requestTimeout;
  server.headersTimeout = Math.min(requestTimeout, 5_000);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.on("tlsClientError", (error) => logger.debug({ err: error }, "TLS handshake failed"));

  const stopWatching = certificates.onChange((certificate) => reloadCertificate(server, certificate, logger));
  server.listen(options.port ?? 0, options.host);
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, path: MUTATE_PODS_PATH }, "admission server listening");

  return {
    port,
    startDraining: () => drain.start(),
    async close() {
      stopWatching();
      drain.start();
      const closed = once(server, "close");
      server.close();
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      await closed;
      clearTimeout(force);
    },
  };
}

/**
 * A keep-alive client (the API server) goes on sending requests over the
 * connections it has open to a replica that left the endpoints, even after
 * that replica stops listening; closing them then cuts whichever request is
 * in flight, a failed admission the API server does not retry. Once
 * draining, every answer, including those being worked on, says
 * `Connection: close`, so each open connection ends cleanly after its current
 * request and the client opens the next one to another replica.
 *
 * Every answer goes out through sendText or sendJson, which look at the drain
 * as they write the answer's head: that covers the answers being worked on
 * when draining starts without keeping track of each one. (A set of the
 * unanswered responses, each removed on its "close", cost some 30 µs of CPU
 * per admission under load: with it, V8 ran a full garbage collection every
 * 800 or so admissions instead of every few thousand.)
 */
class ConnectionDrain {
  #draining = false;
  get draining(): boolean {
    return this.#draining;
  }
  start(): void {
    this.#draining = true;
  }
}

function reloadCertificate(server: Server, certificate: ServingCertificate, logger: Logger): void {
  try {
    // New handshakes use it; open connections keep the one they agreed on.
    server.setSecureContext({ cert: certificate.cert, key: certificate.key, minVersion: "TLSv1.2" });
    logger.info("serving certificate reloaded");
  } catch (error) {
    logger.error({ err: error }, "new serving certificate rejected; still serving the previous one");
  }
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  options: AdmissionServerOptions,
  metrics: AdmissionMetrics,
  decisionLog: Logger,
  drain: ConnectionDrain,
): Promise<void> {
  const target = req.url ?? "/";
  const queryAt = target.indexOf("?");
  const pathname = queryAt < 0 ? target : target.slice(0, queryAt);
  switch (pathname) {
    case HEALTHZ_PATH:
      return sendText(res, drain, 200, "ok");
    case READYZ_PATH:
      return options.grants.hasSynced() ? sendText(res, drain, 200, "ok") : sendText(res, drain, 503, "grant cache not synced yet");
    case MUTATE_PODS_PATH:
      if (req.method !== "POST") return sendText(res, drain, 405, `use POST for ${MUTATE_PODS_PATH}`);
      return admit(req, res, queryAt < 0 ? "" : target.slice(queryAt + 1), options, metrics, decisionLog, drain);
    default:
      return sendText(res, drain, 404, "not found");
  }
}

async function admit(
  req: IncomingMessage,
  res: ServerResponse,
  query: string,
  options: AdmissionServerOptions,
  metrics: AdmissionMetrics,
  decisionLog: Logger,
  drain: ConnectionDrain,
): Promise<void> {
  const started = process.hrtime.bigint();
  const elapsedSeconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  const { logger } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;

  let body: string | undefined;
  try {
    body = await readBody(req, maxBodyBytes);
  } catch (error) {
    // The client went away mid-body: there is no one left to answer.
    logger.debug({ err: error }, "admission request aborted");
    return;
  }
  if (body === undefined) {
    metrics.observe("bad_request", elapsedSeconds());
    logger.warn({ reason: "BodyTooLarge", limit: maxBodyBytes }, "admission request rejected");
    // The rest of an oversized body is not worth reading: close after replying.
    res.setHeader("connection", "close");
    return sendText(res, drain, 400, `BodyTooLarge: an AdmissionReview must not exceed ${maxBodyBytes} bytes`);
  }
  let reply;
  try {
    reply = await reviewPodAdmission(body, options, requestTimeoutMs(query));
  } catch (error) {
    metrics.observe("error", elapsedSeconds());
    logger.error({ err: error }, "admission failed");
    return sendText(res, drain, 500, "internal error while deciding on the pod; see the webhook's log");
  }
  if (reply.statusCode === 400) {
    metrics.observe("bad_request", elapsedSeconds());
    logger.warn({ reason: reply.problem.reason }, `admission request rejected: ${reply.problem.message}`);
    return sendText(res, drain, 400, `${reply.problem.reason}: ${reply.problem.message}`);
  }
  if (reply.serialized) sendJson(res, drain, 200, reply.serialized.json, reply.serialized.byteLength);
  else sendJson(res, drain, 200, JSON.stringify(reply.review));
  const seconds = elapsedSeconds();
  metrics.observe(reply.decision.result, seconds);
  logDecision(decisionLog, reply.decision, seconds);
}

function logDecision(logger: Logger, decision: AdmissionDecision, seconds: number): void {
  const { outcome } = decision;
  // The decision's fields but its outcome, spelled out: a copy without a key costs more than the line's other work.
  const line = {
    uid: decision.uid,
    namespace: decision.namespace,
    pod: decision.pod,
    dryRun: decision.dryRun,
    result: decision.result,
    patchOperations: decision.patchOperations,
    warnings: decision.warnings,
    grant: outcome?.grant,
    reason: outcome?.reason ?? "GrantCacheNotSynced",
    durationMs: Math.round(seconds * 1e6) / 1e3,
  };
  const message = outcome?.message ?? "refused: grant cache not synced yet";
  if (decision.result === "not_ready" || decision.result === "refused") logger.warn(line, message);
  else logger.info(line, message);
}

/** The body as text, or undefined once it exceeds `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  if (Number(req.headers["content-length"] ?? 0) > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    req.on("data", (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        settled = true;
        resolve(undefined);
      } else {
        chunks.push(chunk);
      }
    });
    req.on("end", () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, size).toString("utf8"));
    });
    req.on("close", () => {
      if (settled) return;
      settled = true;
      reject(new Error("client closed the connection before the body was complete"));
    });
  });
}

const GO_DURATION = /^(?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns))+$/;
const GO_DURATION_PART = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g;
const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 1e-3, µs: 1e-3, ns: 1e-6 };

/** The last query string seen and its timeout: the API server sends the same one with every call. */
let lastQuery: { readonly query: string; readonly timeoutMs: number | undefined } = { query: "", timeoutMs: undefined };

/** The request's own deadline, from its query string (`?timeout=10s`). */
function requestTimeoutMs(query: string): number | undefined {
  if (query !== lastQuery.query) lastQuery = { query, timeoutMs: parseGoDurationMs(new URLSearchParams(query).get("timeout")) };
  return lastQuery.timeoutMs;
}

/** The API server's `?timeout=10s` (a Go duration) in milliseconds. */
export function parseGoDurationMs(text: string | null): number | undefined {
  if (!text || !GO_DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(GO_DURATION_PART)) total += Number(amount) * (UNIT_MS[unit as string] as number);
  return total > 0 ? total : undefined;
}

function sendText(res: ServerResponse, drain: ConnectionDrain, statusCode: number, text: string): void {
  send(res, drain, statusCode, "text/plain; charset=utf-8", text, Buffer.byteLength(text));
}

function sendJson(res: ServerResponse, drain: ConnectionDrain, statusCode: number, json: string, byteLength = Buffer.byteLength(json)): void {
  send(res, drain, statusCode, "application/json", json, byteLength);
}

function send(res: ServerResponse, drain: ConnectionDrain, statusCode: number, contentType: string, body: string, byteLength: number): void {
  if (drain.draining) res.setHeader("connection", "close");
  res.writeHead(statusCode, { "content-type": contentType, "content-length": byteLength });
  res.end(body);
}
