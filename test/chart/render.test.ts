// What `helm template` renders, checked against the sources it must agree
// with: the CRDs in crds/, the RBAC rule files, and the operator's own
// configuration parser.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseOperatorConfig } from "../../src/operator/config.js";
import { GRANT_LABEL, INJECTION_ENABLED, INJECTION_LABEL, SYSTEM_NAMESPACES } from "../../src/shared/names.js";
import { AGENT_METRICS_PORT_NAME } from "../../src/webhook/agent-container.js";
import { MUTATE_PODS_PATH } from "../../src/webhook/paths.js";
import { chartRules, REPO_ROOT } from "../harness/kube.js";
import { CHART_DIR, documentsBySource, findObject, helm, helmTemplate, KUBE_VERSION_ARGS, type KubeObject } from "./helm.js";
import { operatorContainerEnv, resolveOperatorEnv } from "./operator-env.js";
import { SCENARIOS } from "./scenarios.js";

const NAMESPACE = "ddcred-system";
const CRD_DIR = join(REPO_ROOT, "crds");
const KEEP_ANNOTATION = "\nmetadata:\n  annotations:\n    helm.sh/resource-policy: keep\n";
/** Variables the operator reads that the chart leaves at their defaults on purpose. */
const LEFT_AT_DEFAULT = new Set(["DDCRED_HEALTH_ADDRESS", "DDCRED_WEBHOOK_ADDRESS"]);

const scratch = mkdtempSync(join(tmpdir(), "ddcred-chart-render-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function crdFiles(): { name: string; text: string }[] {
  return readdirSync(CRD_DIR)
    .filter((name) => name.endsWith(".yaml"))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(CRD_DIR, name), "utf8") }));
}

function renderedCrds(text: string): string[] {
  return documentsBySource(text)
    .filter((doc) => doc.source === "ddcred-operator/templates/crds.yaml")
    .map((doc) => doc.body);
}

function scenario(name: string) {
  const found = SCENARIOS.find((s) => s.name === name);
  if (!found) throw new Error(`no scenario ${name}`);
  return found.values;
}

function envOf(objects: KubeObject[]): Record<string, string> {
  return resolveOperatorEnv(findObject(objects, "Deployment"), { namespace: NAMESPACE, podName: "ddcred-operator-0" });
}

function podSpec(objects: KubeObject[]): any {
  return (findObject(objects, "Deployment") as any).spec.template.spec;
}

describe("the CRDs", () => {
  it("are every file of crds/, byte for byte, with only the keep annotation added", async () => {
    const { text } = await helmTemplate("r", NAMESPACE);
    const expected = crdFiles().map((file) => file.text.replace("\nmetadata:\n", KEEP_ANNOTATION));
    expect(renderedCrds(text)).toEqual(expected);
  });

  it("are exactly the files of crds/ when crds.keep is false", async () => {
    const { text } = await helmTemplate("r", NAMESPACE, { crds: { keep: false } });
    expect(renderedCrds(text)).toEqual(crdFiles().map((file) => file.text));
  });

  it("are left out when crds.install is false", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE, { crds: { install: false } });
    expect(objects.filter((o) => o.kind === "CustomResourceDefinition")).toEqual([]);
  });

  it("travel as real files in the packaged chart, so an archive renders the same CRDs", async () => {
    const packaged = await helm(["package", CHART_DIR, "--destination", scratch]);
    expect(packaged.code, packaged.stderr).toBe(0);
    const archive = join(scratch, readdirSync(scratch).find((name) => name.endsWith(".tgz"))!);
    const listing = execFileSync("tar", ["-tvzf", archive], { encoding: "utf8" });
    expect(listing).not.toMatch(/^l/m); // no symbolic link inside
    const fromArchive = await helm(["template", "r", archive, "--namespace", NAMESPACE, ...KUBE_VERSION_ARGS]);
    const fromDirectory = await helmTemplate("r", NAMESPACE);
    expect(renderedCrds(fromArchive.stdout)).toEqual(renderedCrds(fromDirectory.text));
  });
});

describe("the RBAC objects", () => {
  it.each(SCENARIOS.filter((s) => (s.values.rbac as { create?: boolean } | undefined)?.create !== false))(
    "hold exactly the rules of the chart's rule files, for the names the operator runs with ($name)",
    async ({ values }) => {
      const { objects } = await helmTemplate("r", NAMESPACE, values);
      const env = envOf(objects);
      const names = {
        WEBHOOK_CONFIGURATION_NAME: env.DDCRED_WEBHOOK_CONFIGURATION_NAME!,
        LEASE_NAME: env.DDCRED_LEASE_NAME!,
        TLS_SECRET_NAME: env.DDCRED_TLS_SECRET_NAME!,
      };
      expect(operatorClusterRole(objects).rules).toEqual(chartRules("rbac-cluster-rules.yaml", names));
      expect(findObject(objects, "Role").rules).toEqual(chartRules("rbac-namespace-rules.yaml", names));
    },
  );

  it("bind the rules to the ServiceAccount the operator pods run as", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE);
    const account = { kind: "ServiceAccount", name: podSpec(objects).serviceAccountName, namespace: NAMESPACE };
    expect(findObject(objects, "ClusterRoleBinding").subjects).toEqual([account]);
    expect(findObject(objects, "RoleBinding").subjects).toEqual([account]);
    expect(findObject(objects, "ServiceAccount").metadata.name).toBe(account.name);
  });

  it("name the webhook configuration the chart registers, and nothing else, for caBundle patches", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE);
    const rule = (operatorClusterRole(objects).rules as { resources: string[]; resourceNames?: string[] }[]).find((r) =>
      r.resources.includes("mutatingwebhookconfigurations"),
    );
    expect(rule?.resourceNames).toEqual([findObject(objects, "MutatingWebhookConfiguration").metadata.name]);
  });
});

describe("the operator's environment", () => {
  const configSource = readFileSync(join(REPO_ROOT, "src/operator/config.ts"), "utf8");
  const operatorReads = new Set([...configSource.matchAll(/(?:"|env\.)(DDCRED_[A-Z0-9_]+)/g)].map((m) => m[1]!));

  it.each(SCENARIOS)("is accepted by the operator's configuration parser ($name)", async ({ values }) => {
    const { objects } = await helmTemplate("r", NAMESPACE, values);
    const parsed = parseOperatorConfig(envOf(objects));
    expect(parsed.ok ? [] : parsed.errors).toEqual([]);
  });

  it("names only variables the operator reads", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE, scenario("every option set"));
    const set = operatorContainerEnv(findObject(objects, "Deployment"))
      .map((v) => v.name)
      .filter((name) => name.startsWith("DDCRED_"));
    expect(set.filter((name) => !operatorReads.has(name))).toEqual([]);
  });

  it("sets every variable the operator reads, but the listen addresses", async () => {
    const set = new Set<string>();
    for (const { values } of SCENARIOS) {
      const { objects } = await helmTemplate("r", NAMESPACE, values);
      for (const variable of operatorContainerEnv(findObject(objects, "Deployment"))) set.add(variable.name);
    }
    expect([...operatorReads].filter((name) => !set.has(name) && !LEFT_AT_DEFAULT.has(name))).toEqual([]);
  });

  it("gives the operator its namespace and pod name through the downward API", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE);
    const env = operatorContainerEnv(findObject(objects, "Deployment"));
    expect(env.find((v) => v.name === "DDCRED_NAMESPACE")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.namespace");
    expect(env.find((v) => v.name === "DDCRED_POD_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.name");
  });

  it("runs the agent from the operator's image by default", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE);
    expect(envOf(objects).DDCRED_AGENT_IMAGE).toBe(podSpec(objects).containers[0].image);
  });

  it("runs the agent from its own image when agent.image says so", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE, scenario("every option set"));
    expect(envOf(objects).DDCRED_AGENT_IMAGE).toBe(
      "registry.example/platform/ddcred-agent@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
    );
  });
});

describe("the webhook registration", () => {
  it("sends pod creations from labelled namespaces only, never from the system or release namespaces", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE);
    const [webhook] = findObject(objects, "MutatingWebhookConfiguration").webhooks as any[];
    expect(webhook.rules).toEqual([{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"], scope: "Namespaced" }]);
    expect(webhook.namespaceSelector).toEqual({
      matchExpressions: [
        { key: INJECTION_LABEL, operator: "In", values: [INJECTION_ENABLED] },
        { key: "kubernetes.io/metadata.name", operator: "NotIn", values: [...SYSTEM_NAMESPACES, NAMESPACE] },
      ],
    });
    expect(webhook).toMatchObject({
      admissionReviewVersions: ["v1"],
      sideEffects: "None",
      failurePolicy: "Fail",
      timeoutSeconds: 5,
      reinvocationPolicy: "IfNeeded",
      matchPolicy: "Equivalent",
    });
    expect(webhook.clientConfig).toEqual({ service: { name: envOf(objects).DDCRED_WEBHOOK_SERVICE_NAME, namespace: NAMESPACE, port: 443, path: MUTATE_PODS_PATH } });
  });

  it("calls a URL instead of the Service when webhook.url is set, and certifies the URL's host", async () => {
    const values = scenario("self-managed TLS with short-lived certificates, reached by an IP URL");
    const { objects } = await helmTemplate("r", NAMESPACE, values);
    const [webhook] = findObject(objects, "MutatingWebhookConfiguration").webhooks as any[];
    expect(webhook.clientConfig).toEqual({ url: `https://10.1.2.3:9443${MUTATE_PODS_PATH}` });
    expect(envOf(objects).DDCRED_WEBHOOK_EXTRA_SANS).toBe("10.1.2.3");
  });

  it("leaves caBundle to the operator in self-managed mode", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE);
    const configuration = findObject(objects, "MutatingWebhookConfiguration");
    expect((configuration.webhooks as any[])[0].clientConfig.caBundle).toBeUndefined();
    expect(configuration.metadata.annotations).toBeUndefined();
    expect(envOf(objects).DDCRED_TLS_MODE).toBe("self-managed");
  });

  it("hands the serving certificate to cert-manager, mounted where the operator reads it", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE, scenario("every option set"));
    const env = envOf(objects);
    const certificate = findObject(objects, "Certificate") as any;
    const spec = podSpec(objects);
    const volume = spec.volumes.find((v: any) => v.secret?.secretName === certificate.spec.secretName);
    const mount = spec.containers[0].volumeMounts.find((m: any) => m.name === volume?.name);
    expect(env.DDCRED_TLS_MODE).toBe("files");
    expect(mount).toMatchObject({ mountPath: env.DDCRED_TLS_CERT_DIR, readOnly: true });
    expect(findObject(objects, "MutatingWebhookConfiguration").metadata.annotations).toEqual({
      "cert-manager.io/inject-ca-from": `${NAMESPACE}/${certificate.metadata.name}`,
    });
    expect(certificate.spec.issuerRef).toEqual({ name: "internal-ca", kind: "ClusterIssuer", group: "cert-manager.io" });
    expect(certificate.spec.dnsNames).toEqual([
      `${env.DDCRED_WEBHOOK_SERVICE_NAME}.${NAMESPACE}.svc`,
      `${env.DDCRED_WEBHOOK_SERVICE_NAME}.${NAMESPACE}.svc.cluster.local`,
      "webhook.dev.example",
    ]);
  });

  it("signs the serving certificate with a CA of its own when no issuer is given", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE, scenario("cert-manager with the chart's own CA"));
    const certificates = objects.filter((o) => o.kind === "Certificate") as any[];
    const issuers = objects.filter((o) => o.kind === "Issuer") as any[];
    const ca = certificates.find((c) => c.spec.isCA);
    const caIssuer = issuers.find((i) => i.spec.ca);
    const serving = certificates.find((c) => !c.spec.isCA);
    expect(issuers.find((i) => i.spec.selfSigned)?.metadata.name).toBe(ca.spec.issuerRef.name);
    expect(caIssuer.spec.ca.secretName).toBe(ca.spec.secretName);
    expect(serving.spec.issuerRef).toEqual({ name: caIssuer.metadata.name, kind: "Issuer", group: "cert-manager.io" });
  });
});

describe("the Deployment's defaults", () => {
  it("run two replicas spread across nodes and zones, with a disruption budget of one", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE);
    const deployment = findObject(objects, "Deployment") as any;
    expect(deployment.spec.replicas).toBe(2);
    expect(podSpec(objects).topologySpreadConstraints.map((c: any) => c.topologyKey)).toEqual(["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
    const budget = findObject(objects, "PodDisruptionBudget") as any;
    expect(budget.spec).toMatchObject({ maxUnavailable: 1, selector: deployment.spec.selector });
  });

  it("probe the operator's health server, which the Service also exposes for metrics", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE);
    const container = podSpec(objects).containers[0];
    const port = container.ports.find((p: any) => p.name === "metrics");
    expect(String(port.containerPort)).toBe(envOf(objects).DDCRED_HEALTH_PORT);
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container.startupProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    const service = findObject(objects, "Service") as any;
    expect(service.spec.ports.map((p: any) => [p.port, p.targetPort])).toEqual([
      [443, "webhook"],
      [8080, "metrics"],
    ]);
    expect(service.spec.selector).toEqual((findObject(objects, "Deployment") as any).spec.selector.matchLabels);
  });
});

describe("the monitoring objects", () => {
  it("scrape every injected agent by the label and port the webhook gives it", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE, scenario("every option set"));
    const monitor = findObject(objects, "PodMonitor") as any;
    expect(monitor.spec.selector).toEqual({ matchExpressions: [{ key: GRANT_LABEL, operator: "Exists" }] });
    expect(monitor.spec.namespaceSelector).toEqual({ any: true });
    expect(monitor.spec.podMetricsEndpoints.map((e: any) => e.port)).toEqual([AGENT_METRICS_PORT_NAME]);
  });

  it("scrape the operator through its Service's metrics port", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE, scenario("every option set"));
    const monitor = findObject(objects, "ServiceMonitor") as any;
    const service = findObject(objects, "Service") as any;
    expect(Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => service.metadata.labels[k] === v)).toBe(true);
    expect(service.spec.ports.map((p: any) => p.name)).toContain(monitor.spec.endpoints[0].port);
  });

  it("alert only on metrics the operator and the agent export", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE, scenario("every option set"));
    const rules = (findObject(objects, "PrometheusRule") as any).spec.groups.flatMap((g: any) => g.rules);
    const used = new Set<string>(rules.flatMap((r: any) => [...String(r.expr).matchAll(/\b(ddcred_[a-z_]+)/g)].map((m) => m[1]!)));
    const exported = new Set(
      readdirSync(join(REPO_ROOT, "src"), { recursive: true, encoding: "utf8" })
        .filter((file) => file.endsWith(".ts"))
        .flatMap((file) => [...readFileSync(join(REPO_ROOT, "src", file), "utf8").matchAll(/name: "(ddcred_[a-z_]+)"/g)].map((m) => m[1]!)),
    );
    expect(rules.map((r: any) => r.alert)).toEqual([
      "DdcredCredentialExpiringSoon",
      "DdcredCredentialRefreshFailing",
      "DdcredWebhookErrors",
      "DdcredWebhookCertificateExpiringSoon",
      "DdcredGrantNotReady",
      "DdcredPodsMissed",
      "DdcredRevokedPodsRunning",
      "DdcredOperatorDown",
    ]);
    expect([...used].sort()).toEqual([
      "ddcred_admission_requests_total",
      "ddcred_credential_expiry_timestamp_seconds",
      "ddcred_credential_refresh_total",
      "ddcred_grant_pods",
      "ddcred_grants",
      "ddcred_revoked_pods",
      "ddcred_webhook_certificate_expiry_timestamp_seconds",
    ]);
    expect([...used].filter((metric) => !exported.has(metric))).toEqual([]);
  });
});

/** The ClusterRole bound to the operator (the chart also renders roles for people). */
function operatorClusterRole(objects: Parameters<typeof findObject>[0]) {
  const binding = findObject(objects, "ClusterRoleBinding") as unknown as { roleRef: { name: string } };
  return findObject(objects, "ClusterRole", binding.roleRef.name);
}

describe("the agent's command", () => {
  it("runs the agent bundle with the V8 flags the agent is measured with", async () => {
    const { AGENT_NODE_FLAGS } = await import("../../src/agent/node-flags.js");
    const { objects } = await helmTemplate("r", NAMESPACE);
    const env = podSpec(objects).containers[0].env as { name: string; value?: string }[];
    const command = JSON.parse(env.find((e) => e.name === "DDCRED_AGENT_COMMAND")!.value!);
    expect(command).toEqual(["node", ...AGENT_NODE_FLAGS, "/app/dist/agent.mjs"]);
  });
});

describe("the operator's environment", () => {
  it("renders numbers as plain integers, never in Go's exponent notation", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE);
    const values = Object.values(envOf(objects)).filter((value): value is string => typeof value === "string");
    expect(values.filter((value) => /^\d+(\.\d+)?e\+\d+$/.test(value))).toEqual([]);
  });
});
