// A self-signed serving certificate for 127.0.0.1, made with the openssl CLI
// for the server test and the admission benchmark. (The operator's own
// certificate management lives elsewhere and is tested there.)
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SelfSignedCertificate {
  readonly cert: string;
  readonly key: string;
  /** SHA-256 fingerprint as node:tls reports it (AA:BB:...). */
  readonly fingerprint256: string;
}

export function selfSignedCertificate(commonName: string): SelfSignedCertificate {
  const dir = mkdtempSync(join(tmpdir(), "ddcred-cert-"));
  try {
    const [certFile, keyFile] = [join(dir, "tls.crt"), join(dir, "tls.key")];
    execFileSync("openssl", [
      "req", "-x509", "-nodes", "-days", "1",
      "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
      "-subj", `/CN=${commonName}`,
      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout", keyFile, "-out", certFile,
    ], { stdio: "pipe" });
    const cert = readFileSync(certFile, "utf8");
    return { cert, key: readFileSync(keyFile, "utf8"), fingerprint256: new X509Certificate(cert).fingerprint256 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
