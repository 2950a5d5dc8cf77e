// Issues the webhook's CA and serving certificates: ECDSA P-256 keys from
// node's WebCrypto, X.509 structures from @peculiar/x509 (node:crypto parses
// certificates but cannot make them).
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the
// Reflect metadata API installed before it loads: hence the first import.
import "reflect-metadata";
import { randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { SubjectNames } from "./serving-names.js";

// The library is typed against the DOM's WebCrypto; node's is the same API under other type names.
type LibraryCrypto = Parameters<typeof x509.cryptoProvider.set>[0];
type LibraryKeyPair = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]["keys"];
type LibraryKey = LibraryKeyPair["privateKey"];

x509.cryptoProvider.set(webcrypto as unknown as LibraryCrypto);

const KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING_ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface IssuedCertificate {
  readonly certificatePem: string;
  /** PKCS#8 PEM. */
  readonly privateKeyPem: string;
}

export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export async function issueAuthority(commonName: string, validity: Validity): Promise<IssuedCertificate> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [commonName] }],
    ...validity,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificatePem: certificate.toString("pem"), privateKeyPem: await exportPrivateKey(keys.privateKey) };
}

export async function issueServingCertificate(authority: IssuedCertificate, names: SubjectNames, validity: Validity): Promise<IssuedCertificate> {
  const issuer = new x509.X509Certificate(authority.certificatePem);
  const signingKey = await webcrypto.subtle.importKey(
    "pkcs8",
    x509.PemConverter.decodeFirst(authority.privateKeyPem),
    KEY_ALGORITHM,
    false,
    ["sign"],
  );
  const keys = await generateKeys();
  const commonName = names.dnsNames[0] ?? names.ipAddresses[0] ?? "ddcred-webhook";
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [commonName] }],
    // The parsed Name keeps the CA subject's exact encoding: verifiers compare the bytes.
    issuer: issuer.subjectName,
    ...validity,
    publicKey: keys.publicKey,
    signingKey: signingKey as unknown as LibraryKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...names.dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...names.ipAddresses.map((value) => ({ type: "ip" as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificatePem: certificate.toString("pem"), privateKeyPem: await exportPrivateKey(keys.privateKey) };
}

async function generateKeys(): Promise<LibraryKeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"])) as unknown as LibraryKeyPair;
}

async function exportPrivateKey(key: LibraryKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key as unknown as webcrypto.CryptoKey);
  return `${x509.PemConverter.encode(der, "PRIVATE KEY")}\n`;
}

/** 16 random bytes, high bit clear so the DER INTEGER stays positive. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString("hex");
}
