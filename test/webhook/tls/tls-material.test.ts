import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { issueAuthority, issueServingCertificate, type IssuedCertificate } from "../../../src/webhook/tls/certificate-issuer.js";
import { servingNames } from "../../../src/webhook/tls/serving-names.js";
import { bundlePem, readTlsMaterial } from "../../../src/webhook/tls/tls-material.js";

const now = Date.now();
const validity = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) };
const names = servingNames("ddcred-operator-webhook", "ddcred-system", { dnsNames: ["webhook.example"], ipAddresses: ["127.0.0.1", "::1"] });
let ca: IssuedCertificate;
let otherCa: IssuedCertificate;
let serving: IssuedCertificate;

beforeAll(async () => {
  [ca, otherCa] = await Promise.all([issueAuthority("test-ca", validity), issueAuthority("other-ca", validity)]);
  serving = await issueServingCertificate(ca, names, validity);
});

function files(overrides: Record<string, string> = {}) {
  return { "ca.crt": ca.certificatePem, "ca.key": ca.privateKeyPem, "tls.crt": serving.certificatePem, "tls.key": serving.privateKeyPem, ...overrides };
}

describe("reading the webhook's TLS material", () => {
  it("issues a serving certificate for every Service name and extra name, for server authentication, signed by the CA", () => {
    const leaf = new X509Certificate(serving.certificatePem);
    const authority = new X509Certificate(ca.certificatePem);
    expect(leaf.subjectAltName).toBe(
      "DNS:ddcred-operator-webhook.ddcred-system.svc, DNS:ddcred-operator-webhook.ddcred-system.svc.cluster.local, " +
        "DNS:ddcred-operator-webhook.ddcred-system, DNS:ddcred-operator-webhook, DNS:webhook.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
    );
    expect(leaf.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(leaf.ca).toBe(false);
    expect(authority.ca).toBe(true);
    expect(leaf.verify(authority.publicKey)).toBe(true);
    expect(leaf.checkIssued(authority)).toBe(true);
    expect(leaf.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: "prime256v1" });
  });

  it("reads matching material, with the serving certificate's names and the CA that signed it", () => {
    const reading = readTlsMaterial(files());
    if (!reading.ok) throw new Error(reading.problem.message);
    const material = reading.value;
    expect(material.authorities.map((a) => a.fingerprint)).toEqual([new X509Certificate(ca.certificatePem).fingerprint256]);
    expect(material.servingIssuer).toBe(material.authorities[0]!.fingerprint);
    expect(material.serving.names.dnsNames).toEqual(names.dnsNames);
    expect(material.serving.notAfter - material.serving.notBefore).toBe(3_660_000);
  });

  it("finds the signing CA anywhere in a bundle of several", () => {
    const reading = readTlsMaterial(files({ "ca.crt": bundlePem([{ pem: otherCa.certificatePem }, { pem: ca.certificatePem }]), "ca.key": otherCa.privateKeyPem }));
    expect(reading.ok && reading.value.servingIssuer).toBe(new X509Certificate(ca.certificatePem).fingerprint256);
  });

  it("reports a serving certificate that no CA in the bundle signed", () => {
    const reading = readTlsMaterial(files({ "ca.crt": otherCa.certificatePem, "ca.key": otherCa.privateKeyPem }));
    expect(reading.ok && reading.value.servingIssuer).toBeUndefined();
  });

  it("refuses a serving key that does not belong to the certificate", () => {
    expect(readTlsMaterial(files({ "tls.key": ca.privateKeyPem }))).toMatchObject({ ok: false, problem: { reason: "KeyMismatch" } });
  });

  it("refuses a CA key that does not belong to the first CA of the bundle", () => {
    expect(readTlsMaterial(files({ "ca.key": otherCa.privateKeyPem }))).toMatchObject({ ok: false, problem: { reason: "KeyMismatch", message: expect.stringContaining("ca.key") } });
  });

  it("refuses a CA key the operator cannot sign with", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    expect(readTlsMaterial(files({ "ca.key": rsa }))).toMatchObject({ ok: false, problem: { reason: "BadKey", message: expect.stringContaining("P-256") } });
  });

  it("refuses a bundle holding a certificate that is not a CA", () => {
    expect(readTlsMaterial(files({ "ca.crt": serving.certificatePem }))).toMatchObject({ ok: false, problem: { reason: "NotAnAuthority" } });
  });

  it("names the missing or unparseable piece", () => {
    expect(readTlsMaterial(files({ "tls.crt": "" }))).toMatchObject({ ok: false, problem: { reason: "MissingData", message: expect.stringContaining("tls.crt") } });
    expect(readTlsMaterial(files({ "ca.crt": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" }))).toMatchObject({ ok: false, problem: { reason: "BadCertificate" } });
    expect(readTlsMaterial(files({ "tls.key": "not a key" }))).toMatchObject({ ok: false, problem: { reason: "BadKey" } });
  });
});
