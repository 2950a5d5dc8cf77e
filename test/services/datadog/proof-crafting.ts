// Proofs a well-behaved client would never send, for the service's refusal
// tests: validly signed GetCallerIdentity requests that leave the org header
// out or unsigned, and surgical edits of a good proof's parts.
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

export interface CraftedProofInput {
  /** Without a sessionToken the proof is signed with long-term keys and carries no X-Amz-Security-Token. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Default https://sts.amazonaws.com, the global endpoint. */
  readonly stsUrl?: string;
  /** The credential scope's region; default us-east-1. */
  readonly region?: string;
  readonly signingDate?: Date;
  /** Omitted: the proof carries no x-ddog-org-id at all. */
  readonly orgUuid?: string;
  /** Carry x-ddog-org-id without covering it by the signature. */
  readonly leaveOrgHeaderUnsigned?: boolean;
  readonly body?: string;
}

/** A SigV4-signed request that STS itself would accept, shaped by the input. */
export async function craftProof(input: CraftedProofInput): Promise<string> {
  const url = new URL(input.stsUrl ?? "https://sts.amazonaws.com");
  const body = input.body ?? "Action=GetCallerIdentity&Version=2011-06-15";
  const signer = new SignatureV4({ service: "sts", region: input.region ?? "us-east-1", credentials: input.credentials, sha256: Sha256, applyChecksum: false });
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded; charset=utf-8",
    "content-length": String(Buffer.byteLength(body)),
    host: url.host,
    ...(input.orgUuid === undefined ? {} : { "x-ddog-org-id": input.orgUuid }),
  };
  const signed = await signer.sign(
    { method: "POST", protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: "/", query: {}, headers, body },
    {
      ...(input.leaveOrgHeaderUnsigned ? { unsignableHeaders: new Set(["x-ddog-org-id"]) } : {}),
      ...(input.signingDate ? { signingDate: input.signingDate } : {}),
    },
  );
  const json = Object.fromEntries(Object.entries(signed.headers).map(([name, value]) => [name, [value]]));
  return encodeProof({ body, headers: json, method: "POST", url: url.origin });
}

export interface ProofParts {
  body: string;
  headers: Record<string, string[]>;
  method: string;
  url: string;
}

export function decodeProofParts(proof: string): ProofParts {
  const [body = "", headers = "", method = "", url = ""] = proof.split("|");
  const text = (part: string) => Buffer.from(part, "base64").toString("utf8");
  return { body: text(body), headers: JSON.parse(text(headers)) as Record<string, string[]>, method, url: text(url) };
}

export function encodeProof(parts: ProofParts): string {
  const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
  return [b64(parts.body), b64(JSON.stringify(parts.headers)), parts.method, b64(parts.url)].join("|");
}

/** The proof with some parts replaced; everything else, signature included, untouched. */
export function tamper(proof: string, edit: (parts: ProofParts) => ProofParts): string {
  return encodeProof(edit(decodeProofParts(proof)));
}
