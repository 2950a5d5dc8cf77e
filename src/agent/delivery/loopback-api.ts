// The loopback API app containers read credentials from. Every credential
// route needs the per-pod secret; health routes do not (probes carry none).
import type { IncomingMessage, RequestListener } from "node:http";
import { AGENT_PATHS } from "../../shared/names.js";
import type { AwsSessionCredentials } from "../credentials.js";
import type { Current, Refresher } from "../refresh/refresher.js";
import { renderContainerCredentials } from "./credential-files.js";
import { HEALTHY, json, readinessReply, requestPath, send, type Readiness, type Reply } from "./http-reply.js";

export interface CredentialSources {
  /** Absent when the grant does not expose AWS credentials to the workload. */
  readonly aws?: Refresher<AwsSessionCredentials>;
  readonly datadogToken?: Refresher<string>;
  readonly datadogIntakeKey?: Refresher<string>;
}

export interface LoopbackApiOptions {
  readonly authorize: (authorization: string | undefined) => boolean;
  readonly sources: CredentialSources;
  readonly roleArn: string;
  readonly site: string;
  readonly orgUuid: string;
  readonly readiness: () => Readiness;
  readonly requestServed: (path: string, code: number) => void;
  /** How long a request without valid credentials waits for an in-flight fetch before 503. */
  readonly waitForFetchMs?: number;
}

const KNOWN_PATHS: ReadonlySet<string> = new Set([
  AGENT_PATHS.awsCredentials,
  AGENT_PATHS.datadogToken,
  AGENT_PATHS.datadogIntakeKey,
  AGENT_PATHS.healthz,
  AGENT_PATHS.readyz,
]);

export function createLoopbackApi(options: LoopbackApiOptions): RequestListener {
  return (req, res) => {
    const path = requestPath(req);
    void route(options, req, path)
      .catch((error: unknown) => json(500, { message: `internal error: ${error instanceof Error ? error.message : String(error)}` }))
      .then((reply) => {
        options.requestServed(KNOWN_PATHS.has(path) ? path : "other", reply.status);
        send(res, reply);
      });
  };
}

async function route(options: LoopbackApiOptions, req: IncomingMessage, path: string): Promise<Reply> {
  if (req.method !== "GET" && req.method !== "HEAD") return { ...json(405, { message: "only GET" }), headers: { Allow: "GET, HEAD" } };
  if (path === AGENT_PATHS.healthz) return HEALTHY;
  if (path === AGENT_PATHS.readyz) return readinessReply(options.readiness());
  if (!KNOWN_PATHS.has(path)) return json(404, { message: "not found" });
  // No detail on a wrong or missing secret: nothing to learn by probing.
  if (!options.authorize(req.headers.authorization)) return { status: 401 };
  const { sources, site, orgUuid } = options;
  if (path === AGENT_PATHS.awsCredentials) {
    return credentialReply(sources.aws, "AWS credentials are not exposed to this pod (grant spec.aws.exposeToWorkload is false)", options, (held) =>
      renderContainerCredentials(held.value, held.expiresAt, options.roleArn),
    );
  }
  if (path === AGENT_PATHS.datadogToken) {
    return credentialReply(sources.datadogToken, "this pod's grant does not ask for a Datadog API token", options, (held) =>
      JSON.stringify({ token: held.value, expiresAt: new Date(held.expiresAt).toISOString(), site, orgUuid }),
    );
  }
  return credentialReply(sources.datadogIntakeKey, "this pod's grant does not ask for a Datadog intake key", options, (held) =>
    // Datadog's intake keys carry no expiry: expiresAt is then null.
    JSON.stringify({ apiKey: held.value, expiresAt: Number.isFinite(held.expiresAt) ? new Date(held.expiresAt).toISOString() : null, site, orgUuid }),
  );
}

async function credentialReply<T>(
  source: Refresher<T> | undefined,
  notGranted: string,
  options: LoopbackApiOptions,
  render: (held: { value: T; expiresAt: number }) => string,
): Promise<Reply> {
  if (source === undefined) return json(404, { message: notGranted });
  const current = await withinMs(source.get(), options.waitForFetchMs ?? 2_000, () => source.current());
  if (!current.ok) return json(503, { message: current.message, reason: current.reason }, { "Retry-After": "1" });
  return { status: 200, body: render(current.held), contentType: "application/json" };
}

async function withinMs<T>(promise: Promise<Current<T>>, ms: number, fallback: () => Current<T>): Promise<Current<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Current<T>>((resolve) => {
    timer = setTimeout(() => resolve(fallback()), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
