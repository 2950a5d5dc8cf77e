// The names the serving certificate must carry: every form of the Service's
// DNS name a client may use (the API server uses <service>.<namespace>.svc),
// plus extra names for a webhook reached by URL (DDCRED_WEBHOOK_EXTRA_SANS).

export interface SubjectNames {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

export function servingNames(service: string, namespace: string, extra: SubjectNames = { dnsNames: [], ipAddresses: [] }): SubjectNames {
  const serviceNames = [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, `${service}.${namespace}`, service];
  return { dnsNames: unique([...serviceNames, ...extra.dnsNames]), ipAddresses: unique(extra.ipAddresses) };
}

/** Whether a certificate carrying `have` answers to every name in `want`. */
export function namesCovered(have: SubjectNames, want: SubjectNames): boolean {
  const dns = new Set(have.dnsNames.map((name) => name.toLowerCase()));
  const ips = new Set(have.ipAddresses.map(normalizeIp));
  return want.dnsNames.every((name) => dns.has(name.toLowerCase())) && want.ipAddresses.every((ip) => ips.has(normalizeIp(ip)));
}

export function unionOfNames(a: SubjectNames, b: SubjectNames): SubjectNames {
  return { dnsNames: unique([...a.dnsNames, ...b.dnsNames]), ipAddresses: unique([...a.ipAddresses, ...b.ipAddresses]) };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** node:crypto prints IPv6 SANs expanded; compare the canonical form. */
function normalizeIp(ip: string): string {
  return ip.includes(":") ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}
