// Datadog credentials for the grant's org: prove the ASSUMED role's identity
// (Datadog must see the granted role, not the pod's base identity), then
// exchange the proof for a bearer token or an intake key. Each fetch asks the
// AWS refresher for valid credentials, waiting on its in-flight refresh.
import type { CredentialKind } from "../shared/names.js";
import type { DatadogExchangeInput, DatadogResult } from "./datadog/client.js";
import { failure, type AwsSessionCredentials, type FetchResult } from "./credentials.js";
import { errorText, type Current } from "./refresh/refresher.js";

export interface DatadogExchangeSettings {
  readonly apiUrl: string;
  readonly orgUuid: string;
  /** AWS signing region of the proof. */
  readonly region: string;
  /** The STS URL the proof is signed for: the public regional endpoint Datadog replays it to. */
  readonly stsUrl: string;
  readonly timeoutMs?: number;
}

export interface AwsCredentialSource {
  get(): Promise<Current<AwsSessionCredentials>>;
}

export type DatadogKind = Exclude<CredentialKind, "aws">;

/**
 * The signing and exchange modules load on first use, on a later turn of the
 * event loop: at start they are evaluated while AssumeRole is on the wire,
 * instead of before it is sent.
 */
let exchangeModules: Promise<readonly [typeof import("./datadog/proof.js"), typeof import("./datadog/client.js")]> | undefined;
function loadExchangeModules() {
  exchangeModules ??= new Promise((resolve) => setImmediate(resolve)).then(() =>
    Promise.all([import("./datadog/proof.js"), import("./datadog/client.js")]),
  );
  return exchangeModules;
}

function exchangeFor(kind: DatadogKind, client: typeof import("./datadog/client.js")): (input: DatadogExchangeInput) => Promise<DatadogResult> {
  return kind === "datadog_token" ? client.requestDatadogToken : client.requestIntakeKey;
}

export function createDatadogFetcher(
  kind: DatadogKind,
  aws: AwsCredentialSource,
  settings: DatadogExchangeSettings,
): () => Promise<FetchResult<string>> {
  return async () => {
    const modules = loadExchangeModules();
    const credentials = await aws.get();
    if (!credentials.ok) {
      return failure("AwsUnavailable", `no valid AWS credentials to prove the role's identity to Datadog: ${credentials.message}`);
    }
    const { accessKeyId, secretAccessKey, sessionToken } = credentials.held.value;
    const [{ buildDelegatedProof }, client] = await modules;
    let proof: string;
    try {
      proof = await buildDelegatedProof({
        credentials: { accessKeyId, secretAccessKey, sessionToken },
        region: settings.region,
        orgUuid: settings.orgUuid,
        stsUrl: settings.stsUrl,
      });
    } catch (error) {
      return failure("Internal", `could not sign the delegated proof: ${errorText(error)}`);
    }
    const result = await exchangeFor(kind, client)({
      apiUrl: settings.apiUrl,
      proof,
      orgUuid: settings.orgUuid,
      ...(settings.timeoutMs === undefined ? {} : { timeoutMs: settings.timeoutMs }),
    });
    if (!result.ok) return failure(result.reason, result.message, result.retryAfterMs);
    return {
      ok: true,
      value: result.value,
      expiresAt: result.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY,
      expiry: result.expiry,
      ...(result.expiryNote === undefined ? {} : { expiryNote: result.expiryNote }),
    };
  };
}
