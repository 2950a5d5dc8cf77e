// What can be decided about a proof before asking STS: is it a signed
// GetCallerIdentity for an STS endpoint that exists, scoped to that endpoint's
// region, recent, signed with session credentials, and is the org header both
// present and covered by the signature? (Unsigned, anyone holding a proof
// could re-point it at another org.) Pure: a decoded proof and a clock in, a
// replayable request or a rejection out.
//
// Some of these are STS's own checks that the emulator behind the service
// does not make (moto takes the region from the signature, whatever the host);
// they answer as STS would, so a test sees what production would see.
import { decodeProof, parseSigV4Authorization, type Decoded, type DecodedProof, type SigV4Authorization } from "./proof-decoding.js";
import { reject, type Rejection } from "./rejections.js";
import { signingRegionOfStsHost } from "./sts-hosts.js";

export const ORG_ID_HEADER = "x-ddog-org-id";

export interface ProofCheckContext {
  readonly nowMs: number;
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

/** STS refuses signatures older than this, whatever the verifier's own window. */
const STS_MAX_SIGNATURE_AGE_MS = 15 * 60_000;

export function checkProof(proof: string, context: ProofCheckContext): Decoded<StsReplay> {
  const decoded = decodeProof(proof);
  if (!decoded.ok) return decoded;
  const { body, headers, method, url } = decoded.value;
  if (method !== "POST") return reject(401, "NotGetCallerIdentity", `the proof's method must be POST, got ${JSON.stringify(method)}`);
  if (!isGetCallerIdentity(body)) {
    return reject(401, "NotGetCallerIdentity", "the proof's body must be the STS GetCallerIdentity call (Action=GetCallerIdentity&Version=2011-06-15)");
  }
  const target = allowedStsTarget(url);
  if (!target.ok) return target;
  return checkSignedHeaders(decoded.value, target.value, context);
}

function checkSignedHeaders(proof: DecodedProof, target: StsTarget, context: ProofCheckContext): Decoded<StsReplay> {
  const { headers } = proof;
  const authorization = parseSigV4Authorization(headers.get("authorization") ?? "");
  if (!authorization.ok) return authorization;
  const { service, signedHeaders, accessKeyId } = authorization.value;
  if (service !== "sts") return reject(401, "NotGetCallerIdentity", `the proof is signed for service ${service}, not sts`);
  if (headers.get("host") !== target.host || !signedHeaders.includes("host")) {
    return reject(401, "HostMismatch", `the proof's signed Host header must name the host of its URL (${target.host})`);
  }
  if (authorization.value.region !== target.signingRegion) {
    return stsRefuses("SignatureDoesNotMatch", `Credential should be scoped to a valid region, not '${authorization.value.region}'.`);
  }
  const orgUuid = headers.get(ORG_ID_HEADER);
  if (orgUuid === undefined || orgUuid === "") {
    return reject(401, "OrgHeaderMissing", `the proof has no ${ORG_ID_HEADER} header: sign the GetCallerIdentity request with the Datadog org UUID in ${ORG_ID_HEADER}`);
  }
  if (!signedHeaders.includes(ORG_ID_HEADER)) {
    return reject(401, "OrgHeaderNotSigned", `the proof's ${ORG_ID_HEADER} header is not among its SigV4 SignedHeaders, so it proves nothing about the org`);
  }
  if (!headers.get("x-amz-security-token") || !signedHeaders.includes("x-amz-security-token")) {
    return reject(
      401,
      "SessionTokenMissing",
      "the proof carries no signed X-Amz-Security-Token: sign it with temporary credentials (an assumed role's or the pod identity's session), not long-term access keys",
    );
  }
  const freshness = checkFreshness(headers.get("x-amz-date"), authorization.value, context);
  if (!freshness.ok) return freshness;
  return { ok: true, value: { orgUuid, body: proof.body, headers, path: "/", accessKeyId } };
}

function checkFreshness(amzDate: string | undefined, authorization: SigV4Authorization, context: ProofCheckContext): Decoded<void> {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate ?? "");
  if (!match || !authorization.signedHeaders.includes("x-amz-date")) {
    return reject(401, "MalformedProof", "the proof needs a signed X-Amz-Date header (YYYYMMDDTHHMMSSZ)");
  }
  if (authorization.date !== amzDate!.slice(0, 8)) {
    return stsRefuses("SignatureDoesNotMatch", `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${authorization.date}' != '${amzDate!.slice(0, 8)}'`);
  }
  const [, y, mo, d, h, mi, s] = match.map(Number);
  const signedAt = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  const ageMs = context.nowMs - signedAt;
  if (ageMs > STS_MAX_SIGNATURE_AGE_MS) {
    return stsRefuses("SignatureDoesNotMatch", `Signature expired: ${amzDate} is now earlier than the time STS accepts (15 minutes ago)`);
  }
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

interface StsTarget {
  readonly host: string;
  readonly signingRegion: string;
}

/** The STS endpoint a proof names, if it is one that exists; never anything else (SSRF). */
function allowedStsTarget(rawUrl: string): Decoded<StsTarget> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return reject(401, "StsHostNotAllowed", "the proof's URL is not a URL");
  }
  const signingRegion = url.protocol === "https:" && url.port === "" ? signingRegionOfStsHost(url.hostname) : undefined;
  if (signingRegion === undefined) {
    return reject(401, "StsHostNotAllowed", `the proof's URL ${url.origin} is not an AWS STS endpoint`);
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "" || url.username !== "") {
    return reject(401, "StsHostNotAllowed", "the proof's URL must be the STS endpoint itself, with no path or query");
  }
  return { ok: true, value: { host: url.host, signingRegion } };
}

/** A refusal STS itself would give, in the words the replay reports STS's answers with. */
function stsRefuses(code: string, message: string): { ok: false; rejection: Rejection } {
  return reject(401, "StsRejected", `AWS STS refused the proof's signed GetCallerIdentity: ${code} (${message})`);
}
