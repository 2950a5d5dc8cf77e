// The delegated-auth proof Datadog exchanges for a token: a SigV4-signed
// sts:GetCallerIdentity request that Datadog replays against AWS to learn who
// we are. Same shape as Datadog's own clients (datadog-api-client-go
// api/datadog/aws.go, datadog-api-client-python aws.py):
//   base64(body) | base64(JSON of header name -> [values]) | POST | base64(STS URL)
// x-ddog-org-id is a signed header, so the org a proof is for cannot be
// swapped without breaking the signature.
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

export const ORG_ID_HEADER = "x-ddog-org-id";
export const GET_CALLER_IDENTITY_BODY = "Action=GetCallerIdentity&Version=2011-06-15";
const FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8";
const DEFAULT_USER_AGENT = "ddcred-agent";

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface DelegatedProofInput {
  readonly credentials: AwsCredentials;
  /** Signing region; also picks the regional STS endpoint when stsUrl is not given. */
  readonly region: string;
  readonly orgUuid: string;
  /** STS endpoint the proof targets, e.g. from AWS_ENDPOINT_URL_STS; default: stsEndpointUrl(region). */
  readonly stsUrl?: string;
  /** Signing time; default now. */
  readonly now?: Date;
  readonly userAgent?: string;
}

/** The regional STS endpoint, by partition: China regions live under amazonaws.com.cn. */
export function stsEndpointUrl(region: string): string {
  return `https://sts.${region}.${stsDnsSuffix(region)}`;
}

export function stsDnsSuffix(region: string): string {
  return region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
}

export async function buildDelegatedProof(input: DelegatedProofInput): Promise<string> {
  const { credentials, region, orgUuid } = input;
  if (orgUuid === "" || region === "" || credentials.accessKeyId === "" || credentials.secretAccessKey === "") {
    throw new TypeError("buildDelegatedProof needs an org UUID, a region and AWS credentials");
  }
  const url = new URL(input.stsUrl ?? stsEndpointUrl(region));
  const body = GET_CALLER_IDENTITY_BODY;
  const signer = new SignatureV4({
    service: "sts",
    region,
    credentials,
    sha256: Sha256,
    // STS does not use x-amz-content-sha256; Datadog's clients do not send it.
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: "POST",
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port === "" ? {} : { port: Number(url.port) }),
      path: url.pathname,
      query: {},
      headers: {
        "Content-Length": String(Buffer.byteLength(body)),
        "Content-Type": FORM_CONTENT_TYPE,
        [ORG_ID_HEADER]: orgUuid,
        host: url.host,
      },
      body,
    },
    { signingDate: input.now ?? new Date() },
  );
  const header = (name: string): string => {
    const value = signed.headers[name];
    if (value === undefined) throw new Error(`SigV4 signer did not set ${name}`);
    return value;
  };
  // Key names and order as the Python client writes them; values are arrays
  // because Datadog decodes the JSON into Go's http.Header.
  const headers: Record<string, string[]> = {
    "Content-Length": [header("Content-Length")],
    "Content-Type": [header("Content-Type")],
    "X-Amz-Date": [header("x-amz-date")],
    [ORG_ID_HEADER]: [orgUuid],
    ...(credentials.sessionToken ? { "X-Amz-Security-Token": [header("x-amz-security-token")] } : {}),
    host: [url.host],
    Authorization: [header("authorization")],
    "User-Agent": [input.userAgent ?? DEFAULT_USER_AGENT],
  };
  return [
    base64(body),
    base64(JSON.stringify(headers)),
    "POST",
    // Like the official clients: "https://sts.us-east-1.amazonaws.com", no trailing slash.
    base64(url.origin + (url.pathname === "/" ? "" : url.pathname)),
  ].join("|");
}

function base64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}
