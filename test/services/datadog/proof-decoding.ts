// Reads a delegated proof the way Datadog's backend must: four '|'-separated
// parts, base64(body) | base64(headers JSON) | method | base64(url), where the
// headers JSON is Go's http.Header shape ({"Name": ["value", ...]}). Written
// independently of src/agent/datadog/proof.ts on purpose: a verifier that
// shared the builder's code would share its bugs.
import type { Rejection } from "./rejections.js";
import { reject } from "./rejections.js";

export interface DecodedProof {
  readonly body: string;
  /** Lower-cased header name -> values joined with "," (SigV4's canonical form). */
  readonly headers: ReadonlyMap<string, string>;
  readonly method: string;
  readonly url: string;
}

export interface SigV4Authorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly rejection: Rejection };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function decodeProof(proof: string): Decoded<DecodedProof> {
  const parts = proof.split("|");
  if (parts.length !== 4) {
    return reject(401, "MalformedProof", `a delegated proof has 4 '|'-separated parts, this one has ${parts.length}`);
  }
  const [bodyPart = "", headersPart = "", method = "", urlPart = ""] = parts;
  for (const [name, part] of [["body", bodyPart], ["headers", headersPart], ["url", urlPart]] as const) {
    if (!BASE64.test(part) || part.length % 4 !== 0) return reject(401, "MalformedProof", `the proof's ${name} part is not base64`);
  }
  let headerJson: unknown;
  try {
    headerJson = JSON.parse(fromBase64(headersPart));
  } catch {
    return reject(401, "MalformedProof", "the proof's headers part is not JSON");
  }
  const headers = headerMap(headerJson);
  if (headers === undefined) {
    return reject(401, "MalformedProof", 'the proof\'s headers must be a JSON object of header name to a list of strings, as {"Host": ["..."]}');
  }
  return { ok: true, value: { body: fromBase64(bodyPart), headers, method, url: fromBase64(urlPart) } };
}

function headerMap(json: unknown): Map<string, string> | undefined {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  const merged = new Map<string, string[]>();
  for (const [name, values] of Object.entries(json)) {
    if (!Array.isArray(values) || !values.every((v) => typeof v === "string")) return undefined;
    const key = name.toLowerCase();
    merged.set(key, [...(merged.get(key) ?? []), ...(values as string[])]);
  }
  return new Map([...merged].map(([name, values]) => [name, values.join(",")]));
}

function fromBase64(part: string): string {
  return Buffer.from(part, "base64").toString("utf8");
}

/** "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/sts/aws4_request, SignedHeaders=a;b, Signature=hex" */
export function parseSigV4Authorization(header: string): Decoded<SigV4Authorization> {
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(
      header.trim(),
    );
  if (!match) {
    return reject(401, "MalformedProof", "the proof's Authorization header is not an AWS4-HMAC-SHA256 (SigV4) authorization");
  }
  const [, accessKeyId = "", date = "", region = "", service = "", signedHeaders = "", signature = ""] = match;
  return { ok: true, value: { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(";"), signature } };
}
