// Reads the webhook's TLS material (a CA bundle, the CA's key, a serving
// certificate and its key, as PEM) into facts the rotation plan decides on.
// Pure apart from node:crypto's parsing; nothing here is ever logged.
import { createPrivateKey, X509Certificate } from "node:crypto";
import type { SubjectNames } from "./serving-names.js";

/** Keys of the Secret (self-managed) and file names (cert-manager's Secret mounted as files). */
export const TLS_FILES = {
  caBundle: "ca.crt",
  authorityKey: "ca.key",
  certificate: "tls.crt",
  privateKey: "tls.key",
} as const;

export interface CertificateFacts {
  /** SHA-256 fingerprint, AA:BB:... as node:tls reports a peer's. */
  readonly fingerprint: string;
  /** Epoch milliseconds. */
  readonly notBefore: number;
  readonly notAfter: number;
}

export interface AuthorityFacts extends CertificateFacts {
  readonly pem: string;
}

export interface ServingFacts extends CertificateFacts {
  /** The leaf first, then any chain the file carried. */
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly names: SubjectNames;
}

export interface TlsMaterial {
  /** The CAs clients should trust; the first one signs new certificates. */
  readonly authorities: readonly AuthorityFacts[];
  readonly authorityKeyPem: string;
  readonly serving: ServingFacts;
  /** Fingerprint of the authority in the bundle that signed the serving certificate, if any did. */
  readonly servingIssuer: string | undefined;
}

export type TlsProblemReason = "MissingData" | "BadCertificate" | "BadKey" | "KeyMismatch" | "NotAnAuthority";

export interface TlsProblem {
  readonly reason: TlsProblemReason;
  readonly message: string;
}

export type Reading<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: TlsProblem };

type Files = Readonly<Partial<Record<(typeof TLS_FILES)[keyof typeof TLS_FILES], string>>>;

/** Everything self-managed mode keeps in its Secret. */
export function readTlsMaterial(files: Files): Reading<TlsMaterial> {
  const serving = readServingPair(files[TLS_FILES.certificate], files[TLS_FILES.privateKey]);
  if (!serving.ok) return serving;
  const authorities = readAuthorities(files[TLS_FILES.caBundle]);
  if (!authorities.ok) return authorities;
  const authorityKeyPem = files[TLS_FILES.authorityKey];
  if (!authorityKeyPem) return problem("MissingData", `${TLS_FILES.authorityKey} is missing or empty`);
  const signer = authorities.value[0] as ParsedAuthority;
  const signerKey = parsePrivateKey(authorityKeyPem, TLS_FILES.authorityKey);
  if (!signerKey.ok) return signerKey;
  if (signerKey.value.asymmetricKeyType !== "ec" || signerKey.value.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    return problem("BadKey", `${TLS_FILES.authorityKey} must be an ECDSA P-256 key, the kind the operator signs with`);
  }
  if (!signer.certificate.checkPrivateKey(signerKey.value)) {
    return problem("KeyMismatch", `${TLS_FILES.authorityKey} is not the key of the first certificate in ${TLS_FILES.caBundle}`);
  }
  const leaf = serving.value.leaf;
  const issuer = authorities.value.find(({ certificate }) => leaf.checkIssued(certificate) && leaf.verify(certificate.publicKey));
  return {
    ok: true,
    value: {
      authorities: authorities.value.map(({ certificate: _, ...facts }) => facts),
      authorityKeyPem,
      serving: serving.value.facts,
      servingIssuer: issuer?.fingerprint,
    },
  };
}

interface ParsedServing {
  readonly facts: ServingFacts;
  readonly leaf: X509Certificate;
}

/** A serving certificate (the leaf first, any chain after it) and its private key. */
export function readServingPair(certificatePem: string | undefined, privateKeyPem: string | undefined): Reading<ParsedServing> {
  if (!certificatePem) return problem("MissingData", `${TLS_FILES.certificate} is missing or empty`);
  if (!privateKeyPem) return problem("MissingData", `${TLS_FILES.privateKey} is missing or empty`);
  const certificates = parseCertificates(certificatePem, TLS_FILES.certificate);
  if (!certificates.ok) return certificates;
  const leaf = certificates.value[0] as X509Certificate;
  const key = parsePrivateKey(privateKeyPem, TLS_FILES.privateKey);
  if (!key.ok) return key;
  if (!leaf.checkPrivateKey(key.value)) return problem("KeyMismatch", `${TLS_FILES.privateKey} is not the key of ${TLS_FILES.certificate}`);
  return {
    ok: true,
    value: { leaf, facts: { ...factsOf(leaf), certificatePem, privateKeyPem, names: subjectNames(leaf) } },
  };
}

interface ParsedAuthority extends AuthorityFacts {
  readonly certificate: X509Certificate;
}

/** A CA bundle: one or more CA certificates. */
export function readAuthorities(bundlePem: string | undefined): Reading<ParsedAuthority[]> {
  if (!bundlePem) return problem("MissingData", `${TLS_FILES.caBundle} is missing or empty`);
  const certificates = parseCertificates(bundlePem, TLS_FILES.caBundle);
  if (!certificates.ok) return certificates;
  const notAuthority = certificates.value.find((certificate) => !certificate.ca);
  if (notAuthority) return problem("NotAnAuthority", `${TLS_FILES.caBundle} holds a certificate that is not a CA (${notAuthority.subject})`);
  return { ok: true, value: certificates.value.map((certificate) => ({ ...factsOf(certificate), pem: certificate.toString(), certificate })) };
}

/** The PEM bundle clients trust, in the order given. */
export function bundlePem(authorities: readonly Pick<AuthorityFacts, "pem">[]): string {
  return authorities.map((authority) => authority.pem.trim()).join("\n") + "\n";
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function parseCertificates(pem: string, file: string): Reading<X509Certificate[]> {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return problem("BadCertificate", `${file} holds no PEM certificate`);
  try {
    return { ok: true, value: blocks.map((block) => new X509Certificate(block)) };
  } catch (error) {
    return problem("BadCertificate", `${file} holds a certificate that cannot be parsed: ${(error as Error).message}`);
  }
}

function parsePrivateKey(pem: string, file: string): Reading<ReturnType<typeof createPrivateKey>> {
  try {
    return { ok: true, value: createPrivateKey(pem) };
  } catch (error) {
    return problem("BadKey", `${file} holds no usable private key: ${(error as Error).message}`);
  }
}

function factsOf(certificate: X509Certificate): CertificateFacts {
  return {
    fingerprint: certificate.fingerprint256,
    notBefore: certificate.validFromDate.getTime(),
    notAfter: certificate.validToDate.getTime(),
  };
}

function subjectNames(certificate: X509Certificate): SubjectNames {
  const entries = (certificate.subjectAltName ?? "").split(", ").filter((entry) => entry !== "");
  return {
    dnsNames: entries.filter((entry) => entry.startsWith("DNS:")).map((entry) => entry.slice("DNS:".length)),
    ipAddresses: entries.filter((entry) => entry.startsWith("IP Address:")).map((entry) => entry.slice("IP Address:".length)),
  };
}

function problem(reason: TlsProblemReason, message: string): { ok: false; problem: TlsProblem } {
  return { ok: false, problem: { reason, message } };
}
