// Turns what the AWS SDK throws into a typed failure with a message that says
// what to do. The SDK names service errors after the STS error code and
// attaches the HTTP status in $metadata; transport errors carry a Node code.
import { failure, type Failure, type FailureReason } from "../credentials.js";

interface SdkErrorShape {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly $fault?: "client" | "server";
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $retryable?: { readonly throttling?: boolean };
}

const THROTTLING = new Set(["Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException"]);
const UNAUTHORIZED = new Set([
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "IncompleteSignature",
  "UnrecognizedClientException",
  "InvalidAccessKeyId",
]);
const FORBIDDEN = new Set(["AccessDenied", "AccessDeniedException", "RegionDisabledException"]);
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED"]);

const ADVICE: Partial<Record<FailureReason, string>> = {
  Unauthorized: "the agent's base AWS identity was rejected; check the pod's IRSA / Pod Identity setup",
  Forbidden: "the base identity may not assume the role; check the role's trust policy and the external ID",
  Throttled: "STS is throttling; retrying with backoff",
  InvalidRequest: "check the grant's aws settings (role ARN, session duration within the role's maximum)",
  NoBaseIdentity: "give the pod an AWS identity (IRSA, EKS Pod Identity, instance profile or env)",
};

export function stsFailure(error: unknown, action: string): Failure {
  const e = (typeof error === "object" && error !== null ? error : {}) as SdkErrorShape;
  const name = e.name ?? "";
  const status = e.$metadata?.httpStatusCode;
  const reason = stsFailureReason(e);
  const transport = e.code !== undefined && (NETWORK_CODES.has(e.code) || e.code === "ETIMEDOUT");
  const detail = [transport || !name || name === "Error" ? e.code : name, status ? `HTTP ${status}` : undefined, e.message ?? String(error)]
    .filter(Boolean)
    .join(": ");
  const advice = ADVICE[reason];
  return failure(reason, `${action} failed (${detail})${advice ? `; ${advice}` : ""}`);
}

export function stsFailureReason(e: SdkErrorShape): FailureReason {
  const name = e.name ?? "";
  const status = e.$metadata?.httpStatusCode;
  if (name === "CredentialsProviderError") return "NoBaseIdentity";
  if (THROTTLING.has(name) || e.$retryable?.throttling === true || status === 429) return "Throttled";
  if (UNAUTHORIZED.has(name)) return "Unauthorized";
  if (FORBIDDEN.has(name) || status === 403) return "Forbidden";
  if (name === "ValidationError" || name === "MalformedPolicyDocument" || name === "PackedPolicyTooLarge") return "InvalidRequest";
  // The SDK renames transport errors such as ECONNRESET to TimeoutError (to retry them): the code says what happened.
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return "Network";
  if (name === "TimeoutError" || e.code === "ETIMEDOUT" || name === "AbortError") return "Timeout";
  if (e.$fault === "server" || (status !== undefined && status >= 500)) return "ServerError";
  if (status === 401) return "Unauthorized";
  if (status !== undefined) return "BadResponse";
  return "Network";
}

/** AWS refuses DurationSeconds over an hour for a role assumed with role-session credentials (role chaining). */
export function isRoleChainingLimit(error: unknown): boolean {
  const e = (typeof error === "object" && error !== null ? error : {}) as SdkErrorShape;
  return e.name === "ValidationError" && /role chaining/i.test(e.message ?? "");
}
