// A small HTTP proxy in front of a test peer (moto's STS) that can break on
// demand: drop connections (the peer is down), answer with a canned error
// (throttling, a validation error), or stall. Requests pass through byte for
// byte with their Host header, so SigV4 signatures still verify behind it.
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";

export type ProxyFault =
  /** Close the connection without an answer, as a peer that is down. */
  | { readonly kind: "drop" }
  /** Answer with this instead of forwarding. */
  | { readonly kind: "respond"; readonly status: number; readonly body: string; readonly headers?: Readonly<Record<string, string>> };

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

export interface FaultRule {
  readonly fault: ProxyFault;
  /** Which requests the fault applies to; default all. */
  readonly match?: (request: ProxiedRequest) => boolean;
  /** Apply to this many requests, then clear itself; default until cleared. */
  readonly times?: number;
}

export interface FaultProxy {
  readonly url: string;
  setFault(rule: FaultRule | undefined): void;
  /** Requests seen so far, and which of them a fault answered. */
  stats(): { readonly forwarded: number; readonly faulted: number };
  stop(): Promise<void>;
}

/** An STS (AWS Query protocol) error document, as AWS sends it with a 400 or 403. */
export function stsErrorXml(code: string, message: string): string {
  return [
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">',
    `<Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error>`,
    "<RequestId>00000000-0000-0000-0000-000000000000</RequestId>",
    "</ErrorResponse>",
  ].join("");
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  let rule: FaultRule | undefined;
  let remaining = Infinity;
  const counts = { forwarded: 0, faulted: 0 };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const seen: ProxiedRequest = { method: req.method ?? "GET", path: req.url ?? "/", body: body.toString("utf8") };
      const active = rule;
      if (active !== undefined && (active.match?.(seen) ?? true)) {
        remaining -= 1;
        if (remaining <= 0) rule = undefined;
        counts.faulted += 1;
        if (active.fault.kind === "drop") {
          req.socket.destroy();
          return;
        }
        res.writeHead(active.fault.status, { "content-type": "text/xml", ...active.fault.headers });
        res.end(active.fault.body);
        return;
      }
      counts.forwarded += 1;
      const upstream = request(
        { host: target.hostname, port: target.port, method: seen.method, path: seen.path, headers: forwardable(req.headers) },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("fault proxy has no address");

  return {
    url: `http://127.0.0.1:${address.port}`,
    setFault(next) {
      rule = next;
      remaining = next?.times ?? Infinity;
    },
    stats: () => ({ ...counts }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const { connection: _connection, "keep-alive": _keepAlive, ...rest } = headers;
  return rest;
}
