import { describe, expect, it } from "vitest";
import {
  planRotation,
  publicationDelayMs,
  renewalTime,
  validityFrom,
  type CertificatePolicy,
  type ObservedSecret,
} from "../../../src/webhook/tls/rotation-plan.js";
import { contentsAfter, type TlsSecretContents } from "../../../src/webhook/tls/secret-contents.js";
import { servingNames, type SubjectNames } from "../../../src/webhook/tls/serving-names.js";
import { readTlsMaterial, type AuthorityFacts, type TlsMaterial } from "../../../src/webhook/tls/tls-material.js";

const SECOND = 1000;
const policy: CertificatePolicy = {
  names: servingNames("ddcred-operator-webhook", "ddcred-system", { dnsNames: [], ipAddresses: ["127.0.0.1"] }),
  servingLifetimeMs: 90 * SECOND,
  authorityLifetimeMs: 900 * SECOND,
};
const T0 = Date.parse("2030-01-01T00:00:00Z");

function authority(id: string, notBefore: number, lifetimeMs = policy.authorityLifetimeMs): AuthorityFacts {
  return { fingerprint: id, notBefore, notAfter: notBefore + lifetimeMs, pem: `pem of ${id}` };
}

function present(
  authorities: AuthorityFacts[],
  serving: { issuer: string | undefined; notBefore: number; lifetimeMs?: number; names?: SubjectNames },
  authorityAddedAt?: number,
): ObservedSecret {
  const material: TlsMaterial = {
    authorities,
    authorityKeyPem: "key",
    serving: {
      fingerprint: `serving from ${serving.issuer}`,
      notBefore: serving.notBefore,
      notAfter: serving.notBefore + (serving.lifetimeMs ?? policy.servingLifetimeMs),
      certificatePem: "cert",
      privateKeyPem: "key",
      names: serving.names ?? policy.names,
    },
    servingIssuer: serving.issuer,
  };
  return { exists: true, reading: { ok: true, value: material }, authorityAddedAt };
}

describe("the TLS rotation plan", () => {
  it("creates a CA and a serving certificate when the Secret does not exist", () => {
    const plan = planRotation({ exists: false }, T0, policy);
    expect(plan).toMatchObject({ action: "write", change: { reason: "SecretMissing", authority: "replace", serving: { issue: true, names: policy.names } } });
  });

  it("replaces a Secret whose contents cannot be used", () => {
    const observed: ObservedSecret = {
      exists: true,
      reading: { ok: false, problem: { reason: "KeyMismatch", message: "tls.key is not the key of tls.crt" } },
      authorityAddedAt: undefined,
    };
    expect(planRotation(observed, T0, policy)).toMatchObject({ action: "write", change: { reason: "SecretUnreadable", authority: "replace" } });
  });

  it("rebuilds a deleted Secret from what the replica serves: a new CA in front of the CAs it served, its certificate kept", () => {
    const ca1 = authority("ca1", T0);
    const served = present([ca1], { issuer: "ca1", notBefore: T0 }, T0);
    if (!served.exists || !served.reading.ok) throw new Error("bug");
    const plan = planRotation({ exists: false }, T0 + 10 * SECOND, policy, served.reading.value);
    expect(plan).toMatchObject({ action: "write", change: { reason: "SecretMissing", authority: "add", serving: { issue: false }, retainedAuthorities: [ca1] } });
  });

  it("rebuilds an unusable Secret from what the replica serves, the same way", () => {
    const ca1 = authority("ca1", T0);
    const served = present([ca1], { issuer: "ca1", notBefore: T0 }, T0);
    if (!served.exists || !served.reading.ok) throw new Error("bug");
    const observed: ObservedSecret = { exists: true, reading: { ok: false, problem: { reason: "MissingData", message: "tls.crt is missing" } }, authorityAddedAt: undefined };
    expect(planRotation(observed, T0 + 10 * SECOND, policy, served.reading.value)).toMatchObject({
      action: "write",
      change: { reason: "SecretUnreadable", authority: "add", serving: { issue: false }, retainedAuthorities: [ca1] },
    });
  });

  it("starts a deleted Secret from nothing when what the replica serves could not carry the trust until a new CA is published", () => {
    const ca1 = authority("ca1", T0);
    const material = (observed: ObservedSecret) => (observed.exists && observed.reading.ok ? observed.reading.value : undefined);
    // Expires before a new CA could be published.
    const expiring = material(present([ca1], { issuer: "ca1", notBefore: T0 }, T0));
    expect(planRotation({ exists: false }, T0 + 90 * SECOND - publicationDelayMs(policy), policy, expiring)).toMatchObject({ change: { authority: "replace" } });
    // Signed by no CA it serves.
    const untrusted = material(present([ca1], { issuer: undefined, notBefore: T0 }, T0));
    expect(planRotation({ exists: false }, T0 + SECOND, policy, untrusted)).toMatchObject({ change: { authority: "replace" } });
    // Lacks a name the webhook is reached by.
    const misnamed = material(present([ca1], { issuer: "ca1", notBefore: T0, names: { dnsNames: ["old.example"], ipAddresses: [] } }, T0));
    expect(planRotation({ exists: false }, T0 + SECOND, policy, misnamed)).toMatchObject({ change: { authority: "replace" } });
    // Its CA has expired (a replica that served on while renewal failed).
    const stale = material(present([authority("ca1", T0 - 900 * SECOND)], { issuer: "ca1", notBefore: T0 - 10 * SECOND }, T0));
    expect(planRotation({ exists: false }, T0, policy, stale)).toMatchObject({ change: { authority: "replace" } });
  });

  it("keeps fresh material and looks again when the serving certificate reaches its last third", () => {
    const observed = present([authority("ca1", T0)], { issuer: "ca1", notBefore: T0 }, T0);
    const plan = planRotation(observed, T0 + 10 * SECOND, policy);
    expect(plan).toEqual({ action: "keep", recheckAt: T0 + 60 * SECOND });
  });

  it("reissues the serving certificate from the same CA once a third of its lifetime is left", () => {
    const observed = present([authority("ca1", T0)], { issuer: "ca1", notBefore: T0 }, T0);
    const plan = planRotation(observed, T0 + 60 * SECOND, policy);
    expect(plan).toMatchObject({ action: "write", change: { reason: "ServingCertificateExpiring", authority: "keep", serving: { issue: true } } });
  });

  it("adds a successor in front of the bundle once a third of the CA's lifetime is left, still trusting the old CA and serving its certificate", () => {
    const ca1 = authority("ca1", T0);
    const observed = present([ca1], { issuer: "ca1", notBefore: T0 + 580 * SECOND }, T0);
    const plan = planRotation(observed, T0 + 600 * SECOND, policy);
    expect(plan).toMatchObject({ action: "write", change: { reason: "AuthorityExpiring", authority: "add", serving: { issue: false }, retainedAuthorities: [ca1] } });
  });

  it("moves the serving certificate to a new CA only once the bundle holding it has had time to reach the webhook configuration", () => {
    const added = T0 + 600 * SECOND;
    const observed = present([authority("ca2", added), authority("ca1", T0)], { issuer: "ca1", notBefore: T0 + 580 * SECOND }, added);
    const published = added + publicationDelayMs(policy);
    expect(planRotation(observed, published - 1, policy)).toEqual({ action: "keep", recheckAt: published });
    expect(planRotation(observed, published, policy)).toMatchObject({ action: "write", change: { reason: "AuthorityPublished", authority: "keep", serving: { issue: true } } });
  });

  it("lets a serving certificate in its last third wait for the new CA's publication rather than reissue it from the old CA", () => {
    const added = T0 + 600 * SECOND;
    const observed = present([authority("ca2", added), authority("ca1", T0)], { issuer: "ca1", notBefore: added - 61 * SECOND }, added);
    expect(planRotation(observed, added + 1, policy)).toMatchObject({ action: "keep" });
  });

  it("removes a previous CA from the bundle once it has expired", () => {
    const ca1 = authority("ca1", T0);
    const ca2 = authority("ca2", T0 + 600 * SECOND);
    const observed = present([ca2, ca1], { issuer: "ca2", notBefore: T0 + 880 * SECOND }, ca2.notBefore);
    const plan = planRotation(observed, T0 + 900 * SECOND, policy);
    expect(plan).toMatchObject({ action: "write", change: { reason: "OldAuthorityExpired", authority: "keep", serving: { issue: false }, retainedAuthorities: [] } });
  });

  it("reissues at once a serving certificate that lacks a name the webhook is reached by, keeping the names it had", () => {
    const names = { dnsNames: ["old.example"], ipAddresses: [] };
    const observed = present([authority("ca1", T0)], { issuer: "ca1", notBefore: T0, names }, T0);
    const plan = planRotation(observed, T0 + SECOND, policy);
    expect(plan).toMatchObject({ action: "write", change: { reason: "ServingNamesMissing" } });
    const change = plan.action === "write" ? plan.change : undefined;
    expect(change?.serving).toEqual({ issue: true, names: { dnsNames: [...policy.names.dnsNames, "old.example"], ipAddresses: ["127.0.0.1"] } });
  });

  it("reissues a serving certificate that no CA in the bundle signed", () => {
    const observed = present([authority("ca1", T0)], { issuer: undefined, notBefore: T0 }, T0);
    expect(planRotation(observed, T0 + SECOND, policy)).toMatchObject({ action: "write", change: { reason: "ServingCertificateUntrusted" } });
  });

  it("starts over with a new CA when the signing CA has expired", () => {
    const observed = present([authority("ca1", T0)], { issuer: "ca1", notBefore: T0 }, T0);
    expect(planRotation(observed, T0 + 900 * SECOND, policy)).toMatchObject({ action: "write", change: { reason: "AuthorityExpired", authority: "replace" } });
  });

  it("backdates new certificates a little and counts their validity in whole seconds", () => {
    expect(validityFrom(T0 + 1_500, 90 * SECOND)).toEqual({ notBefore: T0 - 8 * SECOND, notAfter: T0 + 91 * SECOND });
    expect(validityFrom(T0, 3_650 * 86_400 * SECOND)).toMatchObject({ notBefore: T0 - 60 * SECOND });
    expect(validityFrom(T0, 90 * SECOND, T0 + 30_500)).toMatchObject({ notAfter: T0 + 30 * SECOND });
  });
});

describe("the TLS material over several CA lifetimes", () => {
  it("always serves a valid certificate from a trusted CA, and signs from a new CA only after its publication delay", async () => {
    const life: CertificatePolicy = { ...policy, servingLifetimeMs: 60 * SECOND, authorityLifetimeMs: 180 * SECOND };
    const delay = publicationDelayMs(life);
    let secret: TlsSecretContents | undefined;
    const inBundleSince = new Map<string, number>();
    const servedSince = new Map<string, number>();
    const reasons: string[] = [];
    const end = T0 + 3 * life.authorityLifetimeMs;

    for (let now = T0; now < end; now += SECOND) {
      for (let writes = 0; ; writes += 1) {
        const reading = secret ? readTlsMaterial(secret.files) : undefined;
        const observed: ObservedSecret = secret && reading ? { exists: true, reading, authorityAddedAt: secret.authorityAddedAt } : { exists: false };
        const plan = planRotation(observed, now, life);
        if (plan.action === "keep") {
          expect(plan.recheckAt).toBeGreaterThan(now);
          break;
        }
        expect(writes, "one moment never needs more than two writes").toBeLessThan(2);
        reasons.push(plan.change.reason);
        const current = reading?.ok ? { material: reading.value, authorityAddedAt: secret?.authorityAddedAt } : undefined;
        secret = await contentsAfter(current, plan.change, now, life);
      }
      const material = readTlsMaterial(secret!.files);
      if (!material.ok) throw new Error(material.problem.message);
      const { serving, servingIssuer, authorities } = material.value;
      for (const { fingerprint } of authorities) if (!inBundleSince.has(fingerprint)) inBundleSince.set(fingerprint, now);
      if (!servedSince.has(serving.fingerprint)) {
        servedSince.set(serving.fingerprint, now);
        const trustedFor = now - inBundleSince.get(servingIssuer!)!;
        // Either the CA was created together with it (nothing was trusted before) or it was published first.
        const createdTogether = trustedFor === 0 && reasons.at(-1) === "SecretMissing";
        expect(createdTogether || trustedFor >= delay, `served ${trustedFor} ms after its CA entered the bundle`).toBe(true);
      }
      expect(serving.notBefore).toBeLessThanOrEqual(now);
      expect(serving.notAfter).toBeGreaterThan(now);
      expect(authorities.map((a) => a.fingerprint)).toContain(servingIssuer);
      expect(authorities.every((a) => a.notAfter > now)).toBe(true);
    }
    expect(reasons.filter((reason) => reason === "SecretMissing")).toHaveLength(1);
    expect(reasons.filter((reason) => reason === "AuthorityExpiring").length).toBeGreaterThanOrEqual(2);
    expect(reasons.filter((reason) => reason === "AuthorityPublished").length).toBeGreaterThanOrEqual(2);
    expect(reasons.filter((reason) => reason === "OldAuthorityExpired").length).toBeGreaterThanOrEqual(2);
    expect(reasons).not.toContain("AuthorityExpired");
    expect(reasons).not.toContain("ServingCertificateExpired");
    expect(reasons).not.toContain("ServingCertificateUntrusted");
  });

  it("never leaves the certificate a replica serves untrusted by the bundle the API server holds when the Secret is deleted", async () => {
    // What the API server trusts is the bundle last published; what a replica serves is the certificate it loaded last.
    const life: CertificatePolicy = { ...policy, servingLifetimeMs: 60 * SECOND, authorityLifetimeMs: 180 * SECOND };
    const delay = publicationDelayMs(life);
    const first = await contentsAfter(undefined, writeChange(planRotation({ exists: false }, T0, life)), T0, life);
    const published = readOk(first.files);

    // Deleted: the replica rebuilds the Secret from what it serves.
    const now = T0 + 10 * SECOND;
    const plan = planRotation({ exists: false }, now, life, published);
    const rebuilt = readOk((await contentsAfter({ material: published, authorityAddedAt: undefined }, writeChange(plan), now, life)).files);
    const trusted = new Set(published.authorities.map((authority) => authority.fingerprint));
    // Replicas load the rebuilt Secret before the API server holds its bundle: what they serve must be trusted by the old one...
    expect(trusted.has(rebuilt.servingIssuer!), "the rebuilt Secret's certificate is trusted by the bundle published before").toBe(true);
    // ...and by the new one, which the API server may hold before a lagging replica loads the rebuilt Secret.
    expect(rebuilt.authorities.map((authority) => authority.fingerprint)).toEqual(expect.arrayContaining([...trusted]));
    expect(rebuilt.authorities[0]!.fingerprint, "a new CA signs from now on").not.toBe(published.authorities[0]!.fingerprint);

    // The serving certificate moves to the new CA only after the publication delay.
    const observed = (material: TlsMaterial, addedAt: number): ObservedSecret => ({ exists: true, reading: { ok: true, value: material }, authorityAddedAt: addedAt });
    expect(planRotation(observed(rebuilt, now), now + delay - 1, life)).toMatchObject({ action: "keep", recheckAt: now + delay });
    expect(planRotation(observed(rebuilt, now), now + delay, life)).toMatchObject({ action: "write", change: { reason: "AuthorityPublished", serving: { issue: true } } });
  });

  it("renews a certificate with a third of its lifetime left", () => {
    expect(renewalTime({ fingerprint: "x", notBefore: T0, notAfter: T0 + 90 * SECOND })).toBe(T0 + 60 * SECOND);
  });
});

function writeChange(plan: ReturnType<typeof planRotation>) {
  if (plan.action !== "write") throw new Error(`expected a write, got ${JSON.stringify(plan)}`);
  return plan.change;
}

function readOk(files: TlsSecretContents["files"]): TlsMaterial {
  const reading = readTlsMaterial(files);
  if (!reading.ok) throw new Error(reading.problem.message);
  return reading.value;
}
