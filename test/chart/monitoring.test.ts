// The chart's alerts and dashboard against what the code exports: every
// ddcred metric an alert or a panel queries is one the operator or the agent
// defines, with the labels the query selects, groups or prints; every alert
// links to its section of docs/runbooks.md.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/kube.js";
import { CHART_DIR, findObject, helmTemplate } from "./helm.js";
import { SCENARIOS } from "./scenarios.js";

const NAMESPACE = "ddcred-system";
/** Labels Prometheus adds to every series it scrapes through a ServiceMonitor or PodMonitor. */
const TARGET_LABELS = new Set(["namespace", "pod", "container", "service", "endpoint", "job", "instance"]);
const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;

interface ExportedMetric {
  readonly type: string;
  readonly labels: readonly string[];
}

/** Every ddcred metric the sources define, read from their prom-client constructors. */
function exportedMetrics(): Map<string, ExportedMetric> {
  const metrics = new Map<string, ExportedMetric>();
  const files = readdirSync(join(REPO_ROOT, "src"), { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".ts"));
  for (const file of files) {
    const text = readFileSync(join(REPO_ROOT, "src", file), "utf8");
    for (const [, type, body] of text.matchAll(/new (Counter|Gauge|Histogram|Summary)\(\{([\s\S]*?)\bregisters:/g)) {
      const name = /name: "(ddcred_[a-z_]+)"/.exec(body!)?.[1];
      if (!name) continue;
      const labels = /labelNames: \[([^\]]*)\]/.exec(body!)?.[1] ?? "";
      metrics.set(name, { type: type!, labels: [...labels.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]!) });
    }
  }
  return metrics;
}

interface Query {
  readonly where: string;
  readonly expr: string;
  /** Labels the query's output is shown by (a panel's legend). */
  readonly printed: readonly string[];
}

/** What a query asks of each metric it names: which metrics, and which labels. */
function problemsOf(query: Query, exported: Map<string, ExportedMetric>): string[] {
  const problems: string[] = [];
  const named = [...query.expr.matchAll(/\b(ddcred_[a-z_]+)(\{([^}]*)\})?/g)];
  const metrics: ExportedMetric[] = [];
  for (const [, series, , selector] of named) {
    const base = exported.has(series!) ? series! : series!.replace(HISTOGRAM_SERIES, "");
    const metric = exported.get(base);
    if (!metric || (base !== series && metric.type !== "Histogram" && metric.type !== "Summary")) {
      problems.push(`${query.where}: ${series} is not exported`);
      continue;
    }
    const labels = new Set([...metric.labels, ...(series!.endsWith("_bucket") ? ["le"] : [])]);
    metrics.push({ type: metric.type, labels: [...labels] });
    for (const [, label] of (selector ?? "").matchAll(/([a-z_]+)\s*(=~|!~|!=|=)/g)) {
      if (!labels.has(label!) && !TARGET_LABELS.has(label!)) problems.push(`${query.where}: ${series} has no label ${label}`);
    }
  }
  const grouped = [...query.expr.matchAll(/\b(?:by|on|without|ignoring)\s*\(([^)]*)\)/g)].flatMap(([, list]) =>
    list!.split(",").map((label) => label.trim()).filter(Boolean),
  );
  for (const label of [...grouped, ...query.printed]) {
    if (TARGET_LABELS.has(label)) continue;
    for (const metric of metrics) if (!metric.labels.includes(label)) problems.push(`${query.where}: groups or prints by ${label}, which a metric it reads lacks`);
  }
  return problems;
}

async function everyOptionObjects() {
  const scenario = SCENARIOS.find((s) => s.name === "every option set")!;
  return (await helmTemplate("r", NAMESPACE, scenario.values)).objects;
}

function alertQueries(objects: Awaited<ReturnType<typeof everyOptionObjects>>): Query[] {
  const rules = (findObject(objects, "PrometheusRule") as any).spec.groups.flatMap((g: any) => g.rules);
  return rules.map((rule: any) => ({
    where: `alert ${rule.alert}`,
    expr: String(rule.expr),
    printed: [...JSON.stringify(rule.annotations).matchAll(/\$labels\.([a-z_]+)/g)].map((m) => m[1]!),
  }));
}

function dashboard(): any {
  return JSON.parse(readFileSync(join(CHART_DIR, "dashboards/ddcred.json"), "utf8"));
}

function dashboardQueries(): Query[] {
  const board = dashboard();
  const variables = board.templating.list.filter((v: any) => v.type === "query").map((v: any) => ({ where: `variable ${v.name}`, expr: v.definition, printed: [] }));
  const panels = board.panels.flatMap((panel: any) =>
    (panel.targets ?? []).map((target: any) => ({
      where: `panel "${panel.title}"`,
      expr: String(target.expr),
      printed: [...String(target.legendFormat ?? "").matchAll(/\{\{\s*([a-z_]+)\s*\}\}/g)].map((m) => m[1]!),
    })),
  );
  return [...variables, ...panels];
}

/** The anchor GitHub gives a Markdown heading. */
function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

describe("the alert rules", () => {
  it("query only ddcred metrics the code exports, by labels those metrics carry", async () => {
    const exported = exportedMetrics();
    const queries = alertQueries(await everyOptionObjects());
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.flatMap((query) => problemsOf(query, exported))).toEqual([]);
  });

  it("each link to a section of docs/runbooks.md under the configured base URL", async () => {
    const objects = await everyOptionObjects();
    const rules = (findObject(objects, "PrometheusRule") as any).spec.groups.flatMap((g: any) => g.rules);
    const runbooks = readFileSync(join(REPO_ROOT, "docs/runbooks.md"), "utf8");
    const anchors = new Set([...runbooks.matchAll(/^#{2,3} (.+)$/gm)].map((m) => headingAnchor(m[1]!)));
    const base = "https://git.example.com/platform/ddcred/-/blob/main/docs/runbooks.md#";
    const links = rules.map((rule: any) => [rule.alert, rule.annotations.runbook_url]);
    expect(links.length).toBeGreaterThan(0);
    for (const [alert, url] of links) {
      expect(url, alert).toBe(`${base}${alert.toLowerCase()}`);
      expect(anchors.has(url.slice(base.length)), `${alert}: docs/runbooks.md has no section #${url.slice(base.length)}`).toBe(true);
    }
  });

  it("link to the repository's docs/runbooks.md by default", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE, { metrics: { prometheusRule: { enabled: true } } });
    const rules = (findObject(objects, "PrometheusRule") as any).spec.groups.flatMap((g: any) => g.rules);
    expect(rules.length).toBeGreaterThan(0);
    expect(rules.map((rule: any) => rule.annotations.runbook_url)).toEqual(
      rules.map((rule: any) => `https://github.com/ddcred/ddcred-operator/blob/main/docs/runbooks.md#${rule.alert.toLowerCase()}`),
    );
  });
});

describe("the Grafana dashboard", () => {
  it("queries only ddcred metrics the code exports, by labels those metrics carry", () => {
    const exported = exportedMetrics();
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(10);
    expect(queries.flatMap((query) => problemsOf(query, exported))).toEqual([]);
  });

  it("shows credential expiry, refresh failures, admission rate and latency, and missed pods", () => {
    const exprs = dashboardQueries().map((query) => query.expr).join("\n");
    for (const metric of [
      "ddcred_credential_expiry_timestamp_seconds",
      'ddcred_credential_refresh_total{result!="success"',
      "ddcred_admission_requests_total",
      "ddcred_admission_duration_seconds_bucket",
      'ddcred_grant_pods{state="missed"}',
    ]) {
      expect(exprs).toContain(metric);
    }
  });

  it("is shipped byte for byte in a ConfigMap carrying the sidecar's label when enabled", async () => {
    const objects = await everyOptionObjects();
    const configMap = findObject(objects, "ConfigMap", "ddcred-everything-dashboard") as any;
    expect(configMap.metadata.namespace).toBe("default");
    expect(configMap.metadata.labels.grafana_dashboard).toBe("ddcred");
    expect(configMap.metadata.annotations).toEqual({ grafana_folder: "Platform" });
    expect(JSON.parse(configMap.data["ddcred.json"])).toEqual(dashboard());
  });

  it("is not shipped by default", async () => {
    const { objects } = await helmTemplate("r", NAMESPACE, {});
    expect(objects.filter((o) => o.kind === "ConfigMap")).toEqual([]);
  });
});

describe("the metric check", () => {
  it("catches a metric the code does not export and a label a metric lacks", () => {
    const exported = exportedMetrics();
    expect(problemsOf({ where: "q", expr: "sum by (grant) (ddcred_credential_refresh_total)", printed: [] }, exported)).toEqual([
      "q: groups or prints by grant, which a metric it reads lacks",
    ]);
    expect(problemsOf({ where: "q", expr: 'ddcred_credentials_total{kind="aws"}', printed: [] }, exported)).toEqual(["q: ddcred_credentials_total is not exported"]);
    expect(problemsOf({ where: "q", expr: 'ddcred_grants{state="x"}', printed: ["ready"] }, exported)).toEqual(["q: ddcred_grants has no label state"]);
  });
});
