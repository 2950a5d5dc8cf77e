// What can be decided about a proof before asking STS: is it a signed
// GetCallerIdentity for an allowed STS endpoint, recent, and is the org header
// both present and covered by the signature? (Unsigned, anyone holding a proof
// could re-point it at another org.) Pure: a decoded proof and a clock in, a
// replayable request or a rejection out.
import { decodeProof, parseSigV4Authorization, type Decoded, type DecodedProof } from "./proof-decoding.js";
import { reject } from "./rejections.js";

export const ORG_ID_HEADER = "x-ddog-org-id";

export interface ProofCheckContext {
  readonly nowMs: number;
  /** The STS emulator the service replays against; proofs may target it directly. */
  readonly stsEmulatorUrl: string;
  readonly maxAgeMs: number;
  readonly maxFutureSkewMs: number;
}

/** The signed request exactly as it must be sent to STS. */
export interface StsReplay {
  readonly orgUuid: string;
  readonly body: string;
  /** Lower-cased names, values as signed; includes host. */
  readonly headers: ReadonlyMap<string, string>;
  readonly path: string;
  /** Who signed it (access key id), for logs and stats; not a secret. */
  readonly accessKeyId: string;
}

// Real STS endpoints: global, regional, FIPS, and the China partition. Any of
// them is routed to the emulator with its signed Host header intact, which is
// how a proof from the official clients (they target real AWS) is verified here.
const AWS_STS_HOST = /^sts(-fips)?(\.[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2})?\.amazonaws\.com(\.cn)?$/;

export function checkProof(proof: string, context: ProofCheckContext): Decoded<StsReplay> {
  const decoded = decodeProof(proof);
  if (!decoded.ok) return decoded;
  const { body, headers, method, url } = decoded.value;
  if (method !== "POST") return reject(401, "NotGetCallerIdentity", `the proof's method must be POST, got ${JSON.stringify(method)}`);
  if (!isGetCallerIdentity(body)) {
    return reject(401, "NotGetCallerIdentity", "the proof's body must be the STS GetCallerIdentity call (Action=GetCallerIdentity&Version=2011-06-15)");
  }
  const target = allowedStsTarget(url, context.stsEmulatorUrl);
  if (!target.ok) return target;
  return checkSignedHeaders(decoded.value, target.value, context);
}

function checkSignedHeaders(proof: DecodedProof, path: string, context: ProofCheckContext): Decoded<StsReplay> {
  const { headers } = proof;
  const authorization = parseSigV4Authorization(headers.get("authorization") ?? "");
  if (!authorization.ok) return authorization;
  const { service, signedHeaders, accessKeyId } = authorization.value;
  if (service !== "sts") return reject(401, "NotGetCallerIdentity", `the proof is signed for service ${service}, not sts`);
  const urlHost = new URL(proof.url).host;
  if (headers.get("host") !== urlHost || !signedHeaders.includes("host")) {
    return reject(401, "HostMismatch", `the proof's signed Host header must name the host of its URL (${urlHost})`);
  }
  const orgUuid = headers.get(ORG_ID_HEADER);
  if (orgUuid === undefined || orgUuid === "") {
    return reject(401, "OrgHeaderMissing", `the proof has no ${ORG_ID_HEADER} header: sign the GetCallerIdentity request with the Datadog org UUID in ${ORG_ID_HEADER}`);
  }
  if (!signedHeaders.includes(ORG_ID_HEADER)) {
    return reject(401, "OrgHeaderNotSigned", `the proof's ${ORG_ID_HEADER} header is not among its SigV4 SignedHeaders, so it proves nothing about the org`);
  }
  const freshness = checkFreshness(headers.get("x-amz-date"), signedHeaders, context);
  if (!freshness.ok) return freshness;
  return { ok: true, value: { orgUuid, body: proof.body, headers, path, accessKeyId } };
}

function checkFreshness(amzDate: string | undefined, signedHeaders: readonly string[], context: ProofCheckContext): Decoded<void> {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate ?? "");
  if (!match || !signedHeaders.includes("x-amz-date")) {
    return reject(401, "MalformedProof", "the proof needs a signed X-Amz-Date header (YYYYMMDDTHHMMSSZ)");
  }
  const [, y, mo, d, h, mi, s] = match.map(Number);
  const signedAt = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  const ageMs = context.nowMs - signedAt;
  if (ageMs > context.maxAgeMs) {
    return reject(401, "ProofStale", `the proof was signed ${Math.round(ageMs / 1000)} s ago; proofs older than ${context.maxAgeMs / 1000} s are refused (sign a new one, and check the clock)`);
  }
  if (-ageMs > context.maxFutureSkewMs) {
    return reject(401, "ProofFromFuture", `the proof is dated ${Math.round(-ageMs / 1000)} s in the future; check the signer's clock`);
  }
  return { ok: true, value: undefined };
}

function isGetCallerIdentity(body: string): boolean {
  const params = new URLSearchParams(body);
  const keys = [...params.keys()].sort();
  return keys.join(",") === "Action,Version" && params.get("Action") === "GetCallerIdentity" && params.get("Version") === "2011-06-15";
}

/** The request path to replay, if the URL is the emulator or a real AWS STS endpoint; never anything else (SSRF). */
function allowedStsTarget(rawUrl: string, emulatorUrl: string): Decoded<string> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return reject(401, "StsHostNotAllowed", "the proof's URL is not a URL");
  }
  const emulator = new URL(emulatorUrl);
  const isEmulator = url.origin === emulator.origin;
  const isAwsSts = url.protocol === "https:" && url.port === "" && AWS_STS_HOST.test(url.hostname);
  if (!isEmulator && !isAwsSts) {
    return reject(401, "StsHostNotAllowed", `the proof's URL ${url.origin} is not an AWS STS endpoint`);
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "" || url.username !== "") {
    return reject(401, "StsHostNotAllowed", "the proof's URL must be the STS endpoint itself, with no path or query");
  }
  return { ok: true, value: "/" };
}
