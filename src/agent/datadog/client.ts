// Exchanges a delegated proof (proof.ts) for Datadog credentials:
//   POST {apiUrl}/api/v2/delegated-token  -> data.attributes.access_token, expires
//   POST {apiUrl}/api/v2/intake-key       -> data.attributes.api_key (and org_id; no expiry)
// both with an empty body and `Authorization: Delegated <proof>`, as
// datadog-api-client (delegated_auth) and the Datadog Agent send them.
// Expected failures come back as values with a reason and a message that says
// what to do; nothing here throws for them. No secret (proof, token, key) is
// ever put in a message.
import { readExpiry, type ExpiryReading } from "./expiry.js";
import { describeFailure, parseRetryAfterMs, serverDetail, type DatadogFailureReason } from "./failures.js";
import { post, PostError, type PostResult } from "./http-post.js";

export type { DatadogFailureReason } from "./failures.js";

export const DELEGATED_TOKEN_PATH = "/api/v2/delegated-token";
export const INTAKE_KEY_PATH = "/api/v2/intake-key";
/** What the official clients assume when a token response carries no readable `expires`. */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 15 * 60;
export const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;

export type DatadogResult =
  | {
      readonly ok: true;
      /** The bearer token or the intake API key. Secret: never log it. */
      readonly value: string;
      /**
       * `reported`: expiresAt is the server's. `assumed`: the answer had no
       * readable `expires` and expiresAt is the official clients' default
       * (`expiryNote` says what was wrong). `none`: the credential carries no
       * expiry (Datadog's intake keys) and expiresAt is undefined.
       */
      readonly expiry: ExpiryReading["expiry"];
      readonly expiresAt: Date | undefined;
      readonly expiryNote?: string;
    }
  | {
      readonly ok: false;
      readonly reason: DatadogFailureReason;
      readonly message: string;
      readonly status?: number;
      /** From Retry-After (or X-RateLimit-Reset) on 429/503. */
      readonly retryAfterMs?: number;
    };

export interface DatadogExchangeInput {
  /** e.g. https://api.datadoghq.com (no trailing path). */
  readonly apiUrl: string;
  readonly proof: string;
  /** Named in messages only. */
  readonly orgUuid: string;
  readonly timeoutMs?: number;
  /** Caller cancellation (shutdown); reported as Network. */
  readonly signal?: AbortSignal;
  readonly now?: () => number;
}

export function requestDatadogToken(input: DatadogExchangeInput): Promise<DatadogResult> {
  return exchange(input, {
    path: DELEGATED_TOKEN_PATH,
    what: "Datadog API token",
    valueField: "access_token",
    withoutExpiry: { assumeSeconds: DEFAULT_TOKEN_LIFETIME_SECONDS },
  });
}

export function requestIntakeKey(input: DatadogExchangeInput): Promise<DatadogResult> {
  return exchange(input, {
    path: INTAKE_KEY_PATH,
    what: "Datadog intake API key",
    valueField: "api_key",
    withoutExpiry: "none",
  });
}

interface Endpoint {
  readonly path: string;
  readonly what: string;
  readonly valueField: string;
  /** A token without a readable expiry gets the clients' default lifetime; an intake key has none. */
  readonly withoutExpiry: { readonly assumeSeconds: number } | "none";
}

async function exchange(input: DatadogExchangeInput, endpoint: Endpoint): Promise<DatadogResult> {
  const url = `${input.apiUrl.replace(/\/+$/, "")}${endpoint.path}`;
  const timeoutMs = input.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const context = { what: endpoint.what, url, orgUuid: input.orgUuid };
  let response: PostResult;
  try {
    // Redirects are not followed (node:http never does): a proof goes only where it was sent.
    response = await post(url, {
      headers: { "content-type": "application/json", accept: "application/json", authorization: `Delegated ${input.proof}` },
      body: "",
      timeoutMs,
      ...(input.signal ? { signal: input.signal } : {}),
      maxBytes: MAX_RESPONSE_BYTES,
    });
  } catch (error) {
    if (error instanceof PostError && error.kind === "timeout") return failure("Timeout", context, { timeoutMs });
    return failure("Network", context, { cause: error instanceof Error ? error.message : String(error) });
  }
  if (response.status !== 200) {
    return failure(reasonForStatus(response.status), context, {
      status: response.status,
      detail: serverDetail(response.text),
      // Only a throttle or an unavailable server asks us to wait; a Retry-After
      // or rate-limit header on any other answer says nothing about when to retry.
      ...(response.status === 429 || response.status === 503
        ? { retryAfterMs: parseRetryAfterMs(response.headers, input.now?.() ?? Date.now()) }
        : {}),
    });
  }
  return parseSuccess(response.text, endpoint, context, input.now?.() ?? Date.now());
}

function parseSuccess(
  text: string,
  endpoint: Endpoint,
  context: { what: string; url: string; orgUuid: string },
  nowMs: number,
): DatadogResult {
  let attributes: Record<string, unknown> | undefined;
  try {
    const parsed = JSON.parse(text) as { data?: { attributes?: Record<string, unknown> } } | null;
    attributes = parsed?.data?.attributes;
  } catch {
    return failure("BadResponse", context, { cause: "the response body is not JSON" });
  }
  const value = attributes?.[endpoint.valueField];
  if (typeof value !== "string" || value === "") {
    return failure("BadResponse", context, { cause: `the response has no data.attributes.${endpoint.valueField}` });
  }
  const reading = readExpiry(attributes?.expires, endpoint.withoutExpiry, nowMs);
  return { ok: true, value, ...reading };
}

function reasonForStatus(status: number): DatadogFailureReason {
  if (status === 401) return "Unauthorized";
  if (status === 403) return "Forbidden";
  if (status === 429) return "Throttled";
  if (status === 408) return "Timeout";
  if (status >= 500) return "ServerError";
  return "BadResponse";
}

function failure(
  reason: DatadogFailureReason,
  context: { what: string; url: string; orgUuid: string },
  facts: { status?: number; detail?: string; retryAfterMs?: number; cause?: string; timeoutMs?: number },
): DatadogResult {
  return {
    ok: false,
    reason,
    message: describeFailure(reason, { ...context, ...facts }),
    ...(facts.status === undefined ? {} : { status: facts.status }),
    ...(facts.retryAfterMs === undefined ? {} : { retryAfterMs: facts.retryAfterMs }),
  };
}
