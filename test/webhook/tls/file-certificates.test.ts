// cert-manager mode against a directory laid out the way the kubelet mounts a
// Secret: files are symlinks through ..data, swapped atomically on update.
import { publishSecretVolume } from "../../harness/kubelet-volume.js";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../../src/shared/logger.js";
import { certificateMetrics } from "../../../src/webhook/tls/certificate-metrics.js";
import { issueAuthority, issueServingCertificate, type IssuedCertificate } from "../../../src/webhook/tls/certificate-issuer.js";
import { FileCertificates } from "../../../src/webhook/tls/file-certificates.js";
import { eventually } from "../../harness/kube.js";

const validity = { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3_600_000) };
const names = { dnsNames: ["hook.ops.svc"], ipAddresses: ["127.0.0.1"] };
let ca: IssuedCertificate;
let first: IssuedCertificate;
let second: IssuedCertificate;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  ca = await issueAuthority("cert-manager-ca", validity);
  [first, second] = await Promise.all([issueServingCertificate(ca, names, validity), issueServingCertificate(ca, names, validity)]);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function pairFiles(serving: IssuedCertificate): Record<string, string> {
  return { "tls.crt": serving.certificatePem, "tls.key": serving.privateKeyPem, "ca.crt": ca.certificatePem };
}

async function startFileCertificates(directory: string): Promise<{ source: FileCertificates; registry: Registry }> {
  const registry = new Registry();
  const source = new FileCertificates({ directory, logger: createLogger("test", "silent"), metrics: certificateMetrics(registry), pollIntervalMs: 60_000, settleMs: 20 });
  source.start();
  cleanups.push(() => source.stop());
  return { source, registry };
}

function fingerprint(pem: string | Buffer): string {
  return new X509Certificate(pem).fingerprint256;
}

describe("serving certificate files (cert-manager mode)", () => {
  it("serves the mounted pair and switches to the new one when the kubelet swaps the ..data link", async () => {
    const directory = mkdtempSync(join(tmpdir(), "ddcred-tls-files-"));
    cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
    publishSecretVolume(directory, pairFiles(first), 1);
    const { source, registry } = await startFileCertificates(directory);
    expect(await source.whenLoaded(5_000)).toBe(true);
    expect(fingerprint(source.current().cert)).toBe(fingerprint(first.certificatePem));
    const changes: string[] = [];
    source.onChange((certificate) => changes.push(fingerprint(certificate.cert)));

    publishSecretVolume(directory, pairFiles(second), 2);
    await eventually("the new certificate to be served", async () => fingerprint(source.current().cert) === fingerprint(second.certificatePem), 5_000);
    expect(changes).toEqual([fingerprint(second.certificatePem)]);
    expect(source.current().key).toBe(second.privateKeyPem);
    const metrics = await registry.metrics();
    expect(metrics).toContain(`ddcred_webhook_certificate_expiry_timestamp_seconds{certificate="serving"} ${Math.floor(validity.notAfter.getTime() / 1000)}`);
    expect(metrics).toContain("ddcred_webhook_certificate_loads_total 2");
  });

  it("keeps serving the previous pair when the new files do not belong together", async () => {
    const directory = mkdtempSync(join(tmpdir(), "ddcred-tls-files-"));
    cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
    publishSecretVolume(directory, pairFiles(first), 1);
    const { source } = await startFileCertificates(directory);
    expect(await source.whenLoaded(5_000)).toBe(true);

    publishSecretVolume(directory, { ...pairFiles(second), "tls.key": first.privateKeyPem }, 2);
    publishSecretVolume(directory, pairFiles(second), 3);
    await eventually("the matching pair to be served", async () => fingerprint(source.current().cert) === fingerprint(second.certificatePem), 5_000);
    expect(source.current().key).toBe(second.privateKeyPem);
  });

  it("waits, not ready, until the files appear", async () => {
    const directory = mkdtempSync(join(tmpdir(), "ddcred-tls-files-"));
    cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
    const { source } = await startFileCertificates(directory);
    expect(await source.whenLoaded(300)).toBe(false);
    expect(source.loaded()).toBe(false);
    publishSecretVolume(directory, pairFiles(first), 1);
    expect(await source.whenLoaded(5_000)).toBe(true);
  });
});
