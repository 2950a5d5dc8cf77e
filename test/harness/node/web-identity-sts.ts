// The STS stand-in pods on the node call: moto behind a small front that does
// what moto does not, AssumeRoleWithWebIdentity as AWS does it for IRSA. The
// front verifies the projected ServiceAccount token (RS256 signature against
// the API server's own JWKS, issuer, audience sts.amazonaws.com, expiry) and
// the role's trust (which ServiceAccounts may assume it), then issues moto
// session credentials for the role, so everything signed with them afterwards
// is checked by moto as usual. Every other request goes to moto untouched,
// Host header included, so SigV4 signatures stay valid. Each exchange is
// recorded for the tests to read.
import { createPublicKey, createVerify, randomUUID, type JsonWebKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import type { MotoServer } from "../moto.js";
import type { ClusterInfo } from "../cluster.js";

export const IRSA_AUDIENCE = "sts.amazonaws.com";

export interface WebIdentityExchange {
  readonly roleArn: string;
  readonly subject: string;
  readonly audience: string;
  readonly result: "issued" | "rejected";
  readonly reason?: string;
}

export interface WebIdentitySts {
  /** The endpoint pods use (AWS_ENDPOINT_URL_STS). */
  readonly url: string;
  /** The test's control API, on 127.0.0.1. */
  readonly controlUrl: string;
  exchanges(): Promise<readonly WebIdentityExchange[]>;
  /** Adds to a role's trust policy: the ServiceAccount subject (system:serviceaccount:NS:NAME) may assume it. */
  trust(roleArn: string, subject: string): Promise<void>;
  stop(): Promise<void>;
}

export interface WebIdentityStsOptions {
  readonly moto: MotoServer;
  readonly cluster: ClusterInfo;
  readonly host: string;
}

interface VerifiedToken {
  readonly subject: string;
  readonly audience: string;
}

export async function startWebIdentitySts(options: WebIdentityStsOptions): Promise<WebIdentitySts> {
  const keys = await fetchJwks(options.cluster);
  const issuer = "https://kubernetes.default.svc.cluster.local";
  const sts = new STSClient({ endpoint: options.moto.url, region: "us-east-1", credentials: options.moto.baseCredentials, maxAttempts: 1 });
  const exchanges: WebIdentityExchange[] = [];
  const trusted = new Map<string, Set<string>>();
  const moto = new URL(options.moto.url);

  const answerWebIdentity = async (params: URLSearchParams, response: ServerResponse) => {
    const roleArn = params.get("RoleArn") ?? "";
    const verified = verifyToken(params.get("WebIdentityToken") ?? "", keys, issuer);
    if (!verified.ok) {
      exchanges.push({ roleArn, subject: "", audience: "", result: "rejected", reason: verified.reason });
      return stsError(response, 400, "InvalidIdentityToken", verified.reason);
    }
    const { subject, audience } = verified.token;
    if (!trusted.get(roleArn)?.has(subject)) {
      exchanges.push({ roleArn, subject, audience, result: "rejected", reason: "not trusted" });
      return stsError(response, 403, "AccessDenied", `Not authorized to perform sts:AssumeRoleWithWebIdentity: ${subject} is not trusted by ${roleArn}`);
    }
    const assumed = await sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: params.get("RoleSessionName") ?? "web-identity",
        DurationSeconds: Number(params.get("DurationSeconds") ?? 3600),
      }),
    );
    exchanges.push({ roleArn, subject, audience, result: "issued" });
    const c = assumed.Credentials!;
    response.writeHead(200, { "content-type": "text/xml" }).end(`<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>${xml(subject)}</SubjectFromWebIdentityToken>
    <Audience>${xml(audience)}</Audience>
    <AssumedRoleUser><Arn>${xml(assumed.AssumedRoleUser!.Arn!)}</Arn><AssumedRoleId>${xml(assumed.AssumedRoleUser!.AssumedRoleId!)}</AssumedRoleId></AssumedRoleUser>
    <Credentials><AccessKeyId>${xml(c.AccessKeyId!)}</AccessKeyId><SecretAccessKey>${xml(c.SecretAccessKey!)}</SecretAccessKey><SessionToken>${xml(c.SessionToken!)}</SessionToken><Expiration>${c.Expiration!.toISOString()}</Expiration></Credentials>
    <Provider>${xml(issuer)}</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`);
  };

  const forward = (incoming: IncomingMessage, body: Buffer, response: ServerResponse) => {
    const upstream = request(
      { host: moto.hostname, port: moto.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on("error", (error) => stsError(response, 502, "ServiceUnavailable", String(error)));
    upstream.end(body);
  };

  const server: Server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => {
      const body = Buffer.concat(chunks);
      const params = new URLSearchParams(incoming.method === "POST" ? body.toString("utf8") : (incoming.url ?? "").split("?")[1] ?? "");
      if (params.get("Action") === "AssumeRoleWithWebIdentity") {
        answerWebIdentity(params, response).catch((error: unknown) => stsError(response, 500, "InternalFailure", String(error)));
      } else {
        forward(incoming, body, response);
      }
    });
  });
  const trust = (roleArn: string, subject: string) => void trusted.set(roleArn, (trusted.get(roleArn) ?? new Set()).add(subject));
  // The test's control API, on loopback: out of every pod's reach.
  const control: Server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => {
      if (incoming.method === "POST" && incoming.url === "/trust") {
        const { roleArn, subject } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { roleArn: string; subject: string };
        trust(roleArn, subject);
        response.writeHead(204).end();
      } else if (incoming.method === "GET" && incoming.url === "/exchanges") {
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(exchanges));
      } else {
        response.writeHead(404).end();
      }
    });
  });
  const url = `http://${options.host}:${await listen(server, options.host)}`;
  const controlUrl = `http://127.0.0.1:${await listen(control, "127.0.0.1")}`;
  return {
    url,
    controlUrl,
    exchanges: async () => [...exchanges],
    trust: async (roleArn, subject) => trust(roleArn, subject),
    stop: async () => {
      await Promise.all([server, control].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("the STS stand-in has no address");
  return address.port;
}

/** The STS front of another process (the run's shared stack), through its control API. */
export function webIdentityStsClient(url: string, controlUrl: string): Omit<WebIdentitySts, "stop"> {
  return {
    url,
    controlUrl,
    async exchanges() {
      const response = await fetch(`${controlUrl}/exchanges`);
      return (await response.json()) as WebIdentityExchange[];
    },
    async trust(roleArn, subject) {
      const response = await fetch(`${controlUrl}/trust`, { method: "POST", body: JSON.stringify({ roleArn, subject }) });
      if (!response.ok) throw new Error(`trusting ${subject} for ${roleArn} failed: ${response.status}`);
    },
  };
}

async function fetchJwks(cluster: ClusterInfo): Promise<JsonWebKey[]> {
  const body = await new Promise<string>((resolve, reject) => {
    const request = httpsGet(
      `${cluster.server}/openid/v1/jwks`,
      { ca: readFileSync(cluster.caFile), headers: { authorization: `Bearer ${cluster.adminToken}` } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => (response.statusCode === 200 ? resolve(Buffer.concat(chunks).toString("utf8")) : reject(new Error(`GET /openid/v1/jwks: ${response.statusCode}`))));
      },
    );
    request.on("error", reject);
  });
  return (JSON.parse(body) as { keys: JsonWebKey[] }).keys;
}

type Verification = { ok: true; token: VerifiedToken } | { ok: false; reason: string };

/** Verifies a ServiceAccount token as STS verifies an OIDC token: signature, issuer, audience, time. */
function verifyToken(jwt: string, keys: readonly JsonWebKey[], issuer: string, now = Date.now()): Verification {
  const parts = jwt.split(".");
  if (parts.length !== 3) return { ok: false, reason: "the token is not a JWT" };
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  let header: { alg?: string; kid?: string };
  let claims: { iss?: string; aud?: string | string[]; exp?: number; nbf?: number; sub?: string };
  try {
    header = JSON.parse(Buffer.from(headerPart, "base64url").toString("utf8"));
    claims = JSON.parse(Buffer.from(payloadPart, "base64url").toString("utf8"));
  } catch {
    return { ok: false, reason: "the token's header or claims are not JSON" };
  }
  if (header.alg !== "RS256") return { ok: false, reason: `unsupported algorithm ${String(header.alg)}` };
  const key = keys.find((k) => (k as { kid?: string }).kid === header.kid);
  if (!key) return { ok: false, reason: "no key of the issuer signed this token" };
  const verifier = createVerify("RSA-SHA256");
  verifier.update(`${headerPart}.${payloadPart}`);
  if (!verifier.verify(createPublicKey({ key, format: "jwk" }), Buffer.from(signaturePart, "base64url"))) {
    return { ok: false, reason: "the token's signature is invalid" };
  }
  if (claims.iss !== issuer) return { ok: false, reason: `issuer ${String(claims.iss)} is not trusted` };
  const audiences = typeof claims.aud === "string" ? [claims.aud] : (claims.aud ?? []);
  if (!audiences.includes(IRSA_AUDIENCE)) return { ok: false, reason: `the token's audience is not ${IRSA_AUDIENCE}` };
  const seconds = now / 1000;
  if (typeof claims.exp !== "number" || claims.exp < seconds) return { ok: false, reason: "the token has expired" };
  if (typeof claims.nbf === "number" && claims.nbf > seconds + 60) return { ok: false, reason: "the token is not valid yet" };
  return { ok: true, token: { subject: claims.sub ?? "", audience: IRSA_AUDIENCE } };
}

function stsError(response: ServerResponse, status: number, code: string, message: string): void {
  if (response.headersSent) return void response.end();
  response.writeHead(status, { "content-type": "text/xml" }).end(
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
