// Small node:http helpers for the service: JSON answers and bounded bodies.
import type { IncomingMessage, ServerResponse } from "node:http";

const MAX_BODY_BYTES = 64 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendRaw(res, status, typeof body === "string" ? body : JSON.stringify(body), headers);
}

export function sendRaw(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) throw new Error(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The credential after `scheme ` in Authorization, if the header uses that scheme. */
export function authorizationCredential(req: IncomingMessage, scheme: string): string | undefined {
  const header = req.headers.authorization ?? "";
  const prefix = `${scheme} `;
  return header.slice(0, prefix.length).toLowerCase() === prefix.toLowerCase() ? header.slice(prefix.length).trim() : undefined;
}
