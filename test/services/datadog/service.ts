// The project's stand-in for Datadog's delegated-auth endpoints, faithful to
// what Datadog and STS check (verification.ts) and answering in the shapes of
// Datadog's API spec, plus two protected routes that accept only live
// credentials, so a test can prove a token really works:
//   POST /api/v2/delegated-token   Authorization: Delegated <proof> -> bearer token
//        {data: {type: "token", id, attributes: {access_token, expires: RFC 3339 date-time}}}
//   POST /api/v2/intake-key        Authorization: Delegated <proof> -> the org's API key
//        {data: {type: "intake_api_key", id, attributes: {api_key, org_id}}}  (no expiry)
//   GET  /api/v2/users             Authorization: Bearer <token>  (UsersApi.list_users)
//   GET  /api/v1/validate          DD-API-KEY: <key>              (AuthenticationApi.validate)
// and a control API under /_test/ (control-api.ts) for faults, TTLs and counters.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { handleControl, CONTROL_PREFIX } from "./control-api.js";
import type { FaultEndpoint, ServiceStats } from "./control-types.js";
import { IntakeKeyStore, TokenStore, type IntakeKey, type Issued } from "./credential-store.js";
import { FaultInjector } from "./faults.js";
import { authorizationCredential, sendJson, sendRaw } from "./http-io.js";
import type { OrgMapping } from "./identities.js";
import { rejectionBody, type Rejection, type RejectionCode } from "./rejections.js";
import { verifyDelegatedProof } from "./verification.js";

export interface DatadogTokenServiceOptions {
  /** The STS emulator proofs are replayed against (moto). */
  readonly stsUrl: string;
  readonly orgs: readonly OrgMapping[];
  /** Default 900 (Datadog's clients assume 15 minutes). */
  readonly tokenTtlSeconds?: number;
  /** How long each org's intake key lives before the service rotates it (the old one is refused from then on); default 3600. */
  readonly intakeKeyTtlSeconds?: number;
  /** Proofs signed longer ago are refused; default 300. */
  readonly maxProofAgeSeconds?: number;
  /** Proofs dated further ahead are refused; default 60. */
  readonly maxFutureSkewSeconds?: number;
  readonly stsTimeoutMs?: number;
  /** Serve /_test/ (default true). */
  readonly controlApi?: boolean;
  readonly now?: () => number;
  /** One structured event per decision; never carries a proof, token or key. */
  readonly log?: (event: Record<string, unknown>) => void;
}

export interface DatadogTokenService {
  readonly server: Server;
  /** Starts listening (default 127.0.0.1, a free port) and resolves to the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/** Mutable state the control API adjusts. */
export interface ServiceState {
  orgs: readonly OrgMapping[];
  tokenTtlSeconds: number;
  intakeKeyTtlSeconds: number;
  readonly faults: FaultInjector;
  readonly counters: Omit<ServiceStats, "rejected" | "recentRejections" | "faultsApplied" | "tokenTtlSeconds" | "intakeKeyTtlSeconds" | "orgs">;
  readonly rejected: Partial<Record<RejectionCode, number>>;
  readonly recentRejections: Array<{ code: RejectionCode; message: string }>;
}

type Counter = keyof ServiceState["counters"];

export function createDatadogTokenService(options: DatadogTokenServiceOptions): DatadogTokenService {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const state: ServiceState = {
    orgs: options.orgs,
    tokenTtlSeconds: options.tokenTtlSeconds ?? 900,
    intakeKeyTtlSeconds: options.intakeKeyTtlSeconds ?? 3600,
    faults: new FaultInjector(),
    counters: { tokensIssued: 0, intakeKeysIssued: 0, bearerAccepted: 0, bearerRefused: 0, bearerExpired: 0, apiKeyAccepted: 0, apiKeyRefused: 0 },
    rejected: {},
    recentRejections: [],
  };
  const tokens = new TokenStore(now);
  const intakeKeys = new IntakeKeyStore();
  let intakeKeysRotatedAt = now();
  /** Rotates the orgs' intake keys once they have lived their TTL. */
  const rotateDueIntakeKeys = () => {
    if (now() - intakeKeysRotatedAt < state.intakeKeyTtlSeconds * 1000) return;
    intakeKeys.rotate();
    intakeKeysRotatedAt = now();
  };
  const count = (counter: Counter) => {
    (state.counters as Record<Counter, number>)[counter] += 1;
  };

  const refuse = (res: ServerResponse, rejection: Rejection) => {
    state.rejected[rejection.code] = (state.rejected[rejection.code] ?? 0) + 1;
    state.recentRejections.unshift({ code: rejection.code, message: rejection.message });
    state.recentRejections.length = Math.min(state.recentRejections.length, 20);
    log({ event: "proof_rejected", code: rejection.code, status: rejection.status, message: rejection.message });
    sendRaw(res, rejection.status, rejectionBody(rejection));
  };

  async function exchange(req: IncomingMessage, res: ServerResponse, endpoint: FaultEndpoint): Promise<void> {
    if (await applyFault(res, endpoint)) return;
    const proof = authorizationCredential(req, "Delegated");
    if (proof === undefined || proof === "") {
      return refuse(res, { status: 401, code: "MissingProof", message: "send the proof as 'Authorization: Delegated <proof>'" });
    }
    const verified = await verifyDelegatedProof(proof, {
      stsUrl: options.stsUrl,
      orgs: state.orgs,
      nowMs: now(),
      maxProofAgeSeconds: options.maxProofAgeSeconds ?? 300,
      maxFutureSkewSeconds: options.maxFutureSkewSeconds ?? 60,
      stsTimeoutMs: options.stsTimeoutMs ?? 5_000,
    });
    if (!verified.ok) return refuse(res, verified.rejection);
    const { orgUuid, arn } = verified.value;
    if (endpoint === "delegated-token") {
      const token = tokens.issue(orgUuid, arn, state.tokenTtlSeconds);
      count("tokensIssued");
      log({ event: "token_issued", orgUuid, identity: arn, expiresAt: new Date(token.expiresAtMs).toISOString() });
      sendJson(res, 200, tokenBody(token));
    } else {
      rotateDueIntakeKeys();
      const key = intakeKeys.keyOf(orgUuid);
      count("intakeKeysIssued");
      log({ event: "intake_key_issued", orgUuid, identity: arn });
      sendJson(res, 200, intakeKeyBody(key, state.orgs.find((o) => o.uuid === orgUuid)));
    }
  }

  /** True when a fault answered the request. */
  async function applyFault(res: ServerResponse, endpoint: FaultEndpoint): Promise<boolean> {
    const fault = state.faults.take(endpoint);
    if (fault === undefined) return false;
    log({ event: "fault_applied", endpoint, fault });
    if (fault.delayMs !== undefined) await sleep(fault.delayMs);
    if (res.destroyed) return true;
    if (fault.status === undefined && fault.body === undefined) return false;
    const status = fault.status ?? 200;
    const body = fault.body ?? JSON.stringify({ errors: [{ status: String(status), title: `Injected HTTP ${status}`, detail: "fault injected by the test" }] });
    sendRaw(res, status, body, fault.retryAfter === undefined ? {} : { "retry-after": fault.retryAfter });
    return true;
  }

  async function users(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (await applyFault(res, "users")) return;
    const token = tokens.lookup(authorizationCredential(req, "Bearer") ?? "");
    if (token.state !== "live") {
      count("bearerRefused");
      if (token.state === "expired") count("bearerExpired");
      return sendJson(res, 401, { errors: ["Unauthorized"] });
    }
    count("bearerAccepted");
    sendJson(res, 200, usersBody(token.issued));
  }

  function validateApiKey(req: IncomingMessage, res: ServerResponse): void {
    rotateDueIntakeKeys();
    const header = req.headers["dd-api-key"];
    const key = intakeKeys.lookup(typeof header === "string" ? header : "");
    if (key === undefined) {
      count("apiKeyRefused");
      return sendJson(res, 403, { errors: ["Forbidden"] });
    }
    count("apiKeyAccepted");
    sendJson(res, 200, { valid: true });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://service").pathname;
    const key = `${req.method} ${path}`;
    if (key === "POST /api/v2/delegated-token") return exchange(req, res, "delegated-token");
    if (key === "POST /api/v2/intake-key") return exchange(req, res, "intake-key");
    if (key === "GET /api/v2/users") return users(req, res);
    if (key === "GET /api/v1/validate") return validateApiKey(req, res);
    if (key === "GET /healthz") return sendJson(res, 200, { ok: true });
    if (options.controlApi !== false && path.startsWith(CONTROL_PREFIX)) return handleControl(req, res, path, state);
    sendJson(res, 404, { errors: ["Not found"] });
  }

  const inFlight = new WeakMap<Socket, ServerResponse>();
  const server = createServer((req, res) => {
    inFlight.set(req.socket, res);
    route(req, res).catch((error: unknown) => {
      log({ event: "internal_error", message: (error as Error).message });
      if (!res.headersSent) sendJson(res, 500, { errors: ["Internal Server Error"] });
      else res.destroy();
    });
  });
  // datadog-api-client (Python) posts to /api/v2/delegated-token with
  // "Content-Length: 0" but writes json.dumps("") == '""' as the body. Node
  // would answer those two stray bytes with a 400 before our answer to the
  // request itself; Datadog's front end evidently does not. Finish the
  // request in flight, then close the connection.
  server.on("clientError", (error: Error, socket: Socket) => {
    const pending = inFlight.get(socket);
    if (pending !== undefined && !pending.writableFinished) {
      log({ event: "trailing_bytes_ignored", message: error.message });
      pending.once("finish", () => socket.end());
    } else if (socket.writable) {
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    } else {
      socket.destroy();
    }
  });

  return {
    server,
    listen(port = 0, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          const address = server.address() as AddressInfo;
          resolve(`http://${host.includes(":") ? `[${host}]` : host}:${address.port}`);
        });
      });
    },
    close() {
      return new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

/** DelegatedTokenResponse: `expires` is a date-time in Datadog's spec (the generated clients' models parse it as one). */
function tokenBody(token: Issued) {
  return {
    data: { type: "token", id: randomUUID(), attributes: { access_token: token.value, expires: new Date(token.expiresAtMs).toISOString() } },
  };
}

/** IntakeAPIKeyResponse: the org's key and numeric org id, with no expiry. */
function intakeKeyBody(key: IntakeKey, org: OrgMapping | undefined) {
  return { data: { type: "intake_api_key", id: key.id, attributes: { api_key: key.value, org_id: org?.orgId ?? numericOrgId(key.orgUuid) } } };
}

/** A stable numeric org id for an org configured without one. */
function numericOrgId(orgUuid: string): number {
  return Number.parseInt(orgUuid.replace(/-/g, "").slice(0, 12), 16);
}

/** The smallest UsersResponse datadog-api-client deserializes: the identity the token was issued to. */
function usersBody(token: Issued) {
  return {
    data: [
      {
        type: "users",
        id: randomUUID(),
        attributes: { name: "ddcred delegated identity", handle: token.identityArn, email: "ddcred@example.invalid", status: "Active", disabled: false, service_account: true },
      },
    ],
    meta: { page: { total_count: 1, total_filtered_count: 1 } },
  };
}
