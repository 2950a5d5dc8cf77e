// Verifies a delegated proof the way Datadog must: shape and signed org
// header first (proof-checks.ts), then the org must be one this service
// serves, then STS itself confirms the signature by answering the replayed
// GetCallerIdentity, and finally the identity STS reports must be mapped in
// that org.
import type { Decoded } from "./proof-decoding.js";
import { checkProof } from "./proof-checks.js";
import { isMapped, type OrgMapping } from "./identities.js";
import { reject } from "./rejections.js";
import { replayGetCallerIdentity } from "./sts-replay.js";

export interface VerificationSettings {
  readonly stsUrl: string;
  readonly orgs: readonly OrgMapping[];
  readonly nowMs: number;
  readonly maxProofAgeSeconds: number;
  readonly maxFutureSkewSeconds: number;
  readonly stsTimeoutMs: number;
}

export interface VerifiedIdentity {
  readonly orgUuid: string;
  readonly arn: string;
}

export async function verifyDelegatedProof(proof: string, settings: VerificationSettings): Promise<Decoded<VerifiedIdentity>> {
  const checked = checkProof(proof, {
    nowMs: settings.nowMs,
    maxAgeMs: settings.maxProofAgeSeconds * 1000,
    maxFutureSkewMs: settings.maxFutureSkewSeconds * 1000,
  });
  if (!checked.ok) return checked;
  const { orgUuid } = checked.value;
  const org = settings.orgs.find((o) => o.uuid === orgUuid);
  if (org === undefined) return reject(403, "UnknownOrg", `org ${orgUuid} is not served here: check the org UUID and the Datadog site`);
  const identity = await replayGetCallerIdentity(settings.stsUrl, checked.value, settings.stsTimeoutMs);
  if (!identity.ok) return identity;
  if (!isMapped(identity.value.arn, org.roleArns)) {
    return reject(403, "IdentityNotMapped", `AWS identity ${identity.value.arn} is not mapped to a user in org ${orgUuid}: map its role in that org`);
  }
  return { ok: true, value: { orgUuid, arn: identity.value.arn } };
}
