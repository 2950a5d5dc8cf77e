// Sends a proof's signed GetCallerIdentity, byte for byte, to the STS
// emulator, and reads back who signed it. The connection always goes to the
// configured emulator, whatever host the proof names (proof-checks.ts has
// already allowed that host), and the signed Host header travels unchanged so
// the signature still verifies. node:http rather than fetch: fetch will not
// send a Host header different from the URL's.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Decoded } from "./proof-decoding.js";
import type { StsReplay } from "./proof-checks.js";
import { reject } from "./rejections.js";

export interface CallerIdentity {
  readonly arn: string;
  readonly account: string;
  readonly userId: string;
}

// Hop-by-hop or framing headers are the transport's business, not the signature's.
const NOT_FORWARDED = new Set(["content-length", "connection", "keep-alive", "transfer-encoding", "upgrade", "expect"]);

export async function replayGetCallerIdentity(emulatorUrl: string, replay: StsReplay, timeoutMs: number): Promise<Decoded<CallerIdentity>> {
  const target = new URL(replay.path, emulatorUrl);
  const headers: Record<string, string> = { "content-length": String(Buffer.byteLength(replay.body)) };
  for (const [name, value] of replay.headers) if (!NOT_FORWARDED.has(name)) headers[name] = value;
  let response: { status: number; body: string };
  try {
    response = await send(target, headers, replay.body, timeoutMs);
  } catch (error) {
    return reject(502, "StsUnavailable", `could not reach STS to verify the proof (${(error as Error).message}); try again`);
  }
  if (response.status !== 200) {
    const code = xmlText(response.body, "Code") ?? `HTTP ${response.status}`;
    const message = xmlText(response.body, "Message");
    return reject(401, "StsRejected", `AWS STS refused the proof's signed GetCallerIdentity: ${code}${message ? ` (${message})` : ""}`);
  }
  const arn = xmlText(response.body, "Arn");
  if (arn === undefined) return reject(502, "StsUnavailable", "STS answered GetCallerIdentity without an Arn");
  return { ok: true, value: { arn, account: xmlText(response.body, "Account") ?? "", userId: xmlText(response.body, "UserId") ?? "" } };
}

function send(url: URL, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

// STS answers a fixed, flat XML document; one element's text is all we need,
// so a regular expression is enough and no XML parser is pulled in.
function xmlText(xml: string, element: string): string | undefined {
  const match = new RegExp(`<${element}>([^<]*)</${element}>`).exec(xml);
  return match?.[1]?.replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">");
}
