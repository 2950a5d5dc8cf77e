// Carries out a planned change: the new contents of the TLS Secret, issuing
// whatever certificates the change calls for. No API calls here.
import { X509Certificate } from "node:crypto";
import { issueAuthority, issueServingCertificate, type IssuedCertificate } from "./certificate-issuer.js";
import { validityFrom, type CertificatePolicy, type SecretChange } from "./rotation-plan.js";
import { bundlePem, TLS_FILES, type TlsMaterial } from "./tls-material.js";

export interface TlsSecretContents {
  /** PEM text by Secret key (ca.crt, ca.key, tls.crt, tls.key). */
  readonly files: Readonly<Record<string, string>>;
  /** When the signing CA entered the bundle (epoch ms). */
  readonly authorityAddedAt: number;
}

export const AUTHORITY_COMMON_NAME = "ddcred-operator-webhook-ca";

export async function contentsAfter(
  current: { readonly material: TlsMaterial; readonly authorityAddedAt: number | undefined } | undefined,
  change: SecretChange,
  now: number,
  policy: CertificatePolicy,
): Promise<TlsSecretContents> {
  let signer: IssuedCertificate;
  let authorityAddedAt: number;
  if (change.authority === "keep") {
    if (!current) throw new Error("bug: a change that keeps the CA needs current material");
    const first = current.material.authorities[0];
    if (!first) throw new Error("bug: material without a CA");
    signer = { certificatePem: first.pem, privateKeyPem: current.material.authorityKeyPem };
    authorityAddedAt = current.authorityAddedAt ?? now;
  } else {
    signer = await issueAuthority(AUTHORITY_COMMON_NAME, toDates(validityFrom(now, policy.authorityLifetimeMs)));
    authorityAddedAt = now;
  }
  const retained = change.authority === "replace" ? [] : change.retainedAuthorities;
  const signerFacts = { pem: signer.certificatePem };

  let serving: { certificatePem: string; privateKeyPem: string };
  if (change.serving.issue) {
    // A serving certificate must not outlive the CA that vouches for it.
    const signerNotAfter = new X509Certificate(signer.certificatePem).validToDate.getTime();
    serving = await issueServingCertificate(signer, change.serving.names, toDates(validityFrom(now, policy.servingLifetimeMs, signerNotAfter)));
  } else {
    if (!current) throw new Error("bug: a change that keeps the serving certificate needs current material");
    serving = current.material.serving;
  }
  return {
    files: {
      [TLS_FILES.caBundle]: bundlePem([signerFacts, ...retained]),
      [TLS_FILES.authorityKey]: signer.privateKeyPem,
      [TLS_FILES.certificate]: serving.certificatePem,
      [TLS_FILES.privateKey]: serving.privateKeyPem,
    },
    authorityAddedAt,
  };
}

function toDates(window: { notBefore: number; notAfter: number }): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(window.notBefore), notAfter: new Date(window.notAfter) };
}

