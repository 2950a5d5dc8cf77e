// Why a Datadog credential exchange failed, in words a platform engineer can
// act on. Only server-authored title/detail fields are quoted (as the Datadog
// Agent does), never a raw body, so nothing secret can leak into a message.

export type DatadogFailureReason =
  | "Unauthorized"
  | "Forbidden"
  | "Throttled"
  | "ServerError"
  | "Timeout"
  | "Network"
  | "BadResponse";

export interface FailureFacts {
  readonly what: string;
  readonly url: string;
  readonly orgUuid: string;
  readonly status?: number;
  readonly detail?: string;
  readonly retryAfterMs?: number;
  readonly cause?: string;
  readonly timeoutMs?: number;
}

const MAX_DETAIL_CHARS = 300;

export function describeFailure(reason: DatadogFailureReason, facts: FailureFacts): string {
  const http = facts.status === undefined ? "" : `HTTP ${facts.status}`;
  const said = facts.detail ? `: ${facts.detail}` : "";
  switch (reason) {
    case "Unauthorized":
      return (
        `Datadog did not accept the AWS proof for org ${facts.orgUuid} (${http}${said}). ` +
        "Check that the AWS role is mapped to a Datadog user in that org, that the pod's AWS credentials are valid, " +
        "and that the node's clock is in sync."
      );
    case "Forbidden":
      return (
        `Datadog org ${facts.orgUuid} does not map this AWS identity to a user (${http}${said}). ` +
        "Map the AWS role to a Datadog user or service account in that org (Datadog cloud authentication), " +
        "or fix datadog.orgUuid / datadog.site in the grant."
      );
    case "Throttled":
      return `Datadog is rate-limiting requests for a ${facts.what} (${http}${said}); will retry${retryIn(facts.retryAfterMs)}.`;
    case "ServerError":
      return `Datadog answered ${http} to the request for a ${facts.what} at ${facts.url}${said}; will retry${retryIn(facts.retryAfterMs)}.`;
    case "Timeout":
      return (
        `No answer from ${facts.url} for a ${facts.what}` +
        `${facts.timeoutMs === undefined ? "" : ` within ${facts.timeoutMs} ms`}${http ? ` (${http})` : ""}; will retry. ` +
        "Check egress from the pod to the Datadog site (proxy, NetworkPolicy)."
      );
    case "Network":
      return (
        `Could not reach ${facts.url} for a ${facts.what} (${facts.cause ?? "network error"}). ` +
        "Check DNS and egress from the pod to the Datadog site (proxy, NetworkPolicy) and datadog.site in the grant."
      );
    case "BadResponse":
      return (
        `Unexpected answer from ${facts.url} for a ${facts.what} (${facts.cause ?? http}${said}). ` +
        "Check that datadog.site (or the operator's Datadog API URL) points at the Datadog API and not a proxy or portal."
      );
  }
}

function retryIn(ms: number | undefined): string {
  return ms === undefined ? "" : ` in ${Math.ceil(ms / 1000)} s`;
}

/** title/detail of a JSON:API error body (or v1's {"errors": ["..."]}); "" when there are none. */
export function serverDetail(body: string): string {
  let errors: unknown;
  try {
    errors = (JSON.parse(body) as { errors?: unknown } | null)?.errors;
  } catch {
    return "";
  }
  if (!Array.isArray(errors)) return "";
  const messages = errors
    .map((e: unknown) => {
      if (typeof e === "string") return e;
      const { detail, title } = (e ?? {}) as { detail?: unknown; title?: unknown };
      return typeof detail === "string" && detail !== "" ? detail : typeof title === "string" ? title : "";
    })
    .filter((m) => m !== "");
  const text = messages.join("; ");
  return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS)}…` : text;
}

/** Retry-After (delay-seconds or HTTP-date), else Datadog's X-RateLimit-Reset (seconds until the window resets). */
export function parseRetryAfterMs(headers: { get(name: string): string | null | undefined }, nowMs: number): number | undefined {
  const retryAfter = headers.get("retry-after")?.trim();
  if (retryAfter) {
    if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const at = Date.parse(retryAfter);
    if (Number.isFinite(at)) return Math.max(0, at - nowMs);
  }
  const reset = headers.get("x-ratelimit-reset")?.trim();
  if (reset && /^\d+$/.test(reset)) return Number(reset) * 1000;
  return undefined;
}
