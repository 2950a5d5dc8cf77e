// Every reason the token service refuses a request, with the HTTP status it
// answers: 401 for a proof that does not prove anything (missing, malformed,
// unsigned org, no session token, stale, tampered, an STS host that does not
// exist or a region that is not the host's), 403 for a proven identity that
// the org does not map (the meaning Datadog's own API documents for
// /api/v2/intake-key), 502 when the STS emulator cannot be reached.

export type RejectionCode =
  | "MissingProof"
  | "MalformedProof"
  | "NotGetCallerIdentity"
  | "StsHostNotAllowed"
  | "HostMismatch"
  | "OrgHeaderMissing"
  | "OrgHeaderNotSigned"
  | "SessionTokenMissing"
  | "ProofStale"
  | "ProofFromFuture"
  | "StsRejected"
  | "StsUnavailable"
  | "UnknownOrg"
  | "IdentityNotMapped";

export interface Rejection {
  readonly status: 401 | 403 | 502;
  readonly code: RejectionCode;
  readonly message: string;
}

export function reject(status: Rejection["status"], code: RejectionCode, message: string): { ok: false; rejection: Rejection } {
  return { ok: false, rejection: { status, code, message } };
}

const TITLES: Record<Rejection["status"], string> = { 401: "Unauthorized", 403: "Forbidden", 502: "Bad Gateway" };

/** JSON:API error body, the shape Datadog answers with (the Agent quotes title/detail). */
export function rejectionBody(rejection: Rejection): string {
  return JSON.stringify({
    errors: [{ status: String(rejection.status), code: rejection.code, title: TITLES[rejection.status], detail: rejection.message }],
  });
}
