// What to do with the TLS Secret at a given moment: a pure function of what
// the Secret holds, the clock and the policy, so every replica reaches the
// same decision and tests can walk a certificate's whole life.
//
// The life of the material:
//   - a serving certificate is reissued (same CA) once less than a third of
//     its lifetime is left, or at once when it is unusable (expired, missing
//     a name, signed by no CA in the bundle);
//   - the CA is rotated once less than a third of its lifetime is left: a new
//     CA goes in front of the bundle (it signs from then on) while the old one
//     stays trusted. The serving certificate moves to the new CA only after
//     the bundle holding it has had time to reach the webhook configuration
//     (publicationDelayMs), so the API server trusts it before any replica
//     serves it. An old CA leaves the bundle when it expires, and with it the
//     last certificate it signed (serving certificates never outlive their CA);
//   - a Secret that disappears (deleted by hand, as the runbook's "renew at
//     once" does) or turns unusable is rebuilt from what the replica still
//     serves, not from nothing: the API server keeps trusting the bundle it
//     holds until a replica patches the webhook configuration, and replicas
//     keep serving what they loaded until they see the new Secret, so a new CA
//     alone (and a serving certificate from it) would leave a moment where the
//     API server trusts nothing a replica serves. The new CA goes in front of
//     the CAs served so far, the served certificate stays, and it moves to the
//     new CA after the publication delay, as in a CA rotation. Only a replica
//     that serves nothing usable (a first start) starts from nothing.
import { namesCovered, unionOfNames, type SubjectNames } from "./serving-names.js";
import type { AuthorityFacts, CertificateFacts, Reading, TlsMaterial } from "./tls-material.js";

export interface CertificatePolicy {
  readonly names: SubjectNames;
  readonly servingLifetimeMs: number;
  readonly authorityLifetimeMs: number;
}

export type ObservedSecret =
  | { readonly exists: false }
  | {
      readonly exists: true;
      readonly reading: Reading<TlsMaterial>;
      /** When the first CA of the bundle was put there (epoch ms), from the Secret's annotation. */
      readonly authorityAddedAt: number | undefined;
    };

export type RotationReason =
  | "SecretMissing"
  | "SecretUnreadable"
  | "AuthorityExpired"
  | "AuthorityExpiring"
  | "ServingCertificateExpired"
  | "ServingCertificateUntrusted"
  | "ServingNamesMissing"
  | "ServingCertificateExpiring"
  | "AuthorityPublished"
  | "OldAuthorityExpired";

export interface SecretChange {
  readonly reason: RotationReason;
  readonly message: string;
  /** keep the signing CA; add a new one in front of the bundle; replace the whole bundle with a new one. */
  readonly authority: "keep" | "add" | "replace";
  readonly serving: { readonly issue: false } | { readonly issue: true; readonly names: SubjectNames };
  /** CAs other than the signer to keep in the bundle (all still valid). */
  readonly retainedAuthorities: readonly AuthorityFacts[];
}

export type RotationPlan =
  | { readonly action: "keep"; readonly recheckAt: number }
  | { readonly action: "write"; readonly change: SecretChange };

const FRACTION_LEFT_TO_ROTATE = 1 / 3;

/** When a certificate is due for replacement: with a third of its lifetime left. */
export function renewalTime(certificate: CertificateFacts): number {
  const lifetime = certificate.notAfter - certificate.notBefore;
  return certificate.notAfter - lifetime * FRACTION_LEFT_TO_ROTATE;
}

/**
 * How long a new CA sits in the bundle before it signs the serving
 * certificate. The path is: Secret update, each replica's watch, its caBundle
 * patch, the API server's reload of the webhook configuration; well under a
 * second when the API server is healthy. A minute (or a quarter of the serving
 * lifetime when certificates are short-lived, as in tests) is a wide margin,
 * and shorter than the last third of life the current serving certificate
 * still has while it waits.
 */
export function publicationDelayMs(policy: CertificatePolicy): number {
  return Math.min(60_000, Math.max(1_000, policy.servingLifetimeMs / 4));
}

/**
 * `served` is the material this replica loaded last and serves now, if any:
 * what a missing or unusable Secret is rebuilt from (the change then keeps its
 * serving certificate, so contentsAfter must be given that material as the
 * current one).
 */
export function planRotation(observed: ObservedSecret, now: number, policy: CertificatePolicy, served?: TlsMaterial): RotationPlan {
  if (!observed.exists) {
    return rebuild("SecretMissing", "the webhook TLS Secret is gone", "the webhook TLS Secret does not exist yet: creating a CA and a serving certificate", now, policy, served);
  }
  if (!observed.reading.ok) {
    const problem = `the webhook TLS Secret is unusable (${observed.reading.problem.reason}: ${observed.reading.problem.message})`;
    return rebuild("SecretUnreadable", problem, `${problem}: replacing it`, now, policy, served);
  }
  const material = observed.reading.value;
  const [signer, ...others] = material.authorities as [AuthorityFacts, ...AuthorityFacts[]];
  if (now >= signer.notAfter) {
    return write("AuthorityExpired", "the webhook CA has expired: replacing it and the serving certificate", "replace", policy.names, []);
  }
  const retained = others.filter((authority) => authority.notAfter > now);
  const serving = material.serving;
  const servingTrusted = material.servingIssuer !== undefined && retained.concat(signer).some((a) => a.fingerprint === material.servingIssuer);
  const servingUsable = now < serving.notAfter && servingTrusted && namesCovered(serving.names, policy.names);

  if (now >= renewalTime(signer)) {
    const newServing = servingUsable ? undefined : policy.names;
    return write("AuthorityExpiring", "the webhook CA has a third of its lifetime left: adding its successor to the bundle", "add", newServing, [signer, ...retained]);
  }
  if (now >= serving.notAfter) {
    return write("ServingCertificateExpired", "the serving certificate has expired: issuing a new one", "keep", policy.names, retained);
  }
  if (!servingTrusted) {
    return write("ServingCertificateUntrusted", "the serving certificate was not signed by a CA in the bundle: issuing a new one", "keep", policy.names, retained);
  }
  if (!namesCovered(serving.names, policy.names)) {
    // Keep the names it had too: replicas of two releases (during a rolling
    // update) that want different names then converge instead of taking turns.
    const names = unionOfNames(policy.names, serving.names);
    return write("ServingNamesMissing", "the serving certificate lacks names the webhook is reached by: issuing a new one", "keep", names, retained);
  }
  const signedBySigner = material.servingIssuer === signer.fingerprint;
  const signerPublishedAt = (observed.authorityAddedAt ?? Number.NEGATIVE_INFINITY) + publicationDelayMs(policy);
  if (!signedBySigner && now >= signerPublishedAt) {
    return write("AuthorityPublished", "the new CA has reached the webhook configuration: moving the serving certificate to it", "keep", policy.names, retained);
  }
  if (now >= renewalTime(serving) && (signedBySigner || now >= signerPublishedAt)) {
    return write("ServingCertificateExpiring", "the serving certificate has a third of its lifetime left: issuing a new one", "keep", policy.names, retained);
  }
  if (retained.length < others.length) {
    return write("OldAuthorityExpired", "a previous CA has expired: removing it from the bundle", "keep", undefined, retained);
  }
  const moments = [renewalTime(signer), renewalTime(serving), serving.notAfter, ...others.map((authority) => authority.notAfter)];
  if (!signedBySigner) moments.push(signerPublishedAt);
  return { action: "keep", recheckAt: Math.min(...moments.filter((moment) => moment > now)) };
}

/** A Secret to write from scratch: from what this replica serves when that can carry the API server's trust, else from nothing. */
function rebuild(
  reason: "SecretMissing" | "SecretUnreadable",
  problem: string,
  fromScratch: string,
  now: number,
  policy: CertificatePolicy,
  served: TlsMaterial | undefined,
): RotationPlan {
  const bridge = served ? bridgeAuthorities(served, now, policy) : undefined;
  if (!bridge) return write(reason, fromScratch, "replace", policy.names, []);
  const message = `${problem}: writing it with a new CA in front of the CAs served so far, keeping the served certificate until the new CA is published`;
  return write(reason, message, "add", undefined, bridge);
}

/**
 * The CAs of what a replica serves that can carry the API server's trust while
 * a new CA is published: all those still valid, provided the served
 * certificate is valid, signed by one of them, has every name the webhook is
 * reached by, and outlives the publication delay (otherwise it would have to
 * be replaced before the new CA can sign, and nothing is gained).
 */
function bridgeAuthorities(served: TlsMaterial, now: number, policy: CertificatePolicy): AuthorityFacts[] | undefined {
  const valid = served.authorities.filter((authority) => authority.notBefore <= now && now < authority.notAfter);
  const serving = served.serving;
  const usable =
    serving.notBefore <= now &&
    now + publicationDelayMs(policy) < serving.notAfter &&
    valid.some((authority) => authority.fingerprint === served.servingIssuer) &&
    namesCovered(serving.names, policy.names);
  return usable ? valid : undefined;
}

function write(
  reason: RotationReason,
  message: string,
  authority: SecretChange["authority"],
  servingNames: SubjectNames | undefined,
  retainedAuthorities: readonly AuthorityFacts[],
): RotationPlan {
  return {
    action: "write",
    change: {
      reason,
      message,
      authority,
      serving: servingNames ? { issue: true, names: servingNames } : { issue: false },
      retainedAuthorities,
    },
  };
}

export interface ValidityWindow {
  readonly notBefore: number;
  readonly notAfter: number;
}

/**
 * Validity of a certificate issued now: backdated a little (a tenth of its
 * lifetime, at most a minute) so a verifier whose clock runs slightly behind
 * accepts it, and in whole seconds, as X.509 stores them.
 */
export function validityFrom(now: number, lifetimeMs: number, notAfterCap = Number.POSITIVE_INFINITY): ValidityWindow {
  const second = Math.floor(now / 1000) * 1000;
  const backdate = Math.floor(Math.min(60_000, lifetimeMs / 10) / 1000) * 1000;
  const notAfter = Math.min(second + Math.floor(lifetimeMs / 1000) * 1000, Math.floor(notAfterCap / 1000) * 1000);
  return { notBefore: second - backdate, notAfter };
}
