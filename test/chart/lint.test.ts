// The chart as a product: helm lint --strict is clean, values.schema.json
// rejects what values.yaml does not document, and every documented value
// is exercised by the scenarios the other chart tests render.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CHART_DIR, helm, KUBE_VERSION_ARGS, VALUES_FROM_STDIN, valuesInput } from "./helm.js";
import { chartDefaults, SCENARIOS } from "./scenarios.js";

interface SchemaNode {
  type?: string | string[];
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
}

const schema = JSON.parse(readFileSync(join(CHART_DIR, "values.schema.json"), "utf8")) as SchemaNode;
const valuesText = readFileSync(join(CHART_DIR, "values.yaml"), "utf8");

function lint(values: object) {
  return helm(["lint", "--strict", CHART_DIR, ...KUBE_VERSION_ARGS, ...VALUES_FROM_STDIN], valuesInput(values));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Dotted paths of the values the schema types as objects with known keys, down to their leaves. */
function leafPaths(values: Record<string, unknown>, node: SchemaNode, prefix = ""): string[] {
  return Object.entries(values).flatMap(([key, value]) => {
    const path = `${prefix}${key}`;
    const child = node.properties?.[key];
    if (child?.properties && isPlainObject(value)) return leafPaths(value, child, `${path}.`);
    return [path];
  });
}

function valueAt(values: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((v, key) => (isPlainObject(v) ? v[key] : undefined), values);
}

function schemaAt(path: string): SchemaNode | undefined {
  return path.split(".").reduce<SchemaNode | undefined>((node, key) => node?.properties?.[key], schema);
}

describe("helm lint --strict", () => {
  it.each(SCENARIOS)("passes with $name", async ({ values }) => {
    const result = await lint(values);
    expect(result.stdout + result.stderr).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });
});

describe("values.schema.json", () => {
  it("rejects an unknown key and names it", async () => {
    const result = await lint({ webhook: { failurPolicy: "Ignore" } });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/at '\/webhook': additional properties 'failurPolicy' not allowed/);
  });

  it("rejects a value of the wrong type and names the key and the type it wants", async () => {
    const result = await helm(["template", "r", CHART_DIR, ...KUBE_VERSION_ARGS, "--set", "replicaCount=two"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/at '\/replicaCount': got string, want integer/);
  });

  it("rejects a value outside its allowed set", async () => {
    const result = await lint({ webhook: { failurePolicy: "Retry" } });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/at '\/webhook\/failurePolicy': value must be one of 'Fail', 'Ignore'/);
  });

  it("rejects a webhook URL that is not an https base URL", async () => {
    const result = await lint({ webhook: { url: "http://127.0.0.1:9443/mutate-pods" } });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/\/webhook\/url/);
  });

  it("types and describes every key of values.yaml", () => {
    const missing = leafPaths(chartDefaults(), schema).filter((path) => !schemaAt(path)?.description);
    expect(missing).toEqual([]);
  });

  it("closes every object it lists the keys of, so no typo slips through", () => {
    const open: string[] = [];
    const walk = (node: SchemaNode, path: string) => {
      if (node.properties && node.additionalProperties !== false) open.push(path || "(root)");
      for (const [key, child] of Object.entries(node.properties ?? {})) walk(child, path ? `${path}.${key}` : key);
    };
    walk(schema, "");
    expect(open).toEqual([]);
  });

  it("documents in values.yaml every key it allows, at least as a commented example", () => {
    const undocumented: string[] = [];
    const walk = (node: SchemaNode, path: string) => {
      for (const [key, child] of Object.entries(node.properties ?? {})) {
        const childPath = path ? `${path}.${key}` : key;
        // A key (`key:`), a commented example (`# For example: key: ...`) or a mention in a list of keys ("cpu, memory").
        if (!new RegExp(`(^|[\\s#(])${key}[:,)]`, "m").test(valuesText)) undocumented.push(childPath);
        walk(child, childPath);
      }
    };
    walk(schema, "");
    expect(undocumented).toEqual([]);
  });
});

describe("the scenarios", () => {
  it("change every value of values.yaml from its default, between them", () => {
    const defaults = chartDefaults();
    const unchanged = leafPaths(defaults, schema).filter((path) =>
      SCENARIOS.every(({ values }) => {
        const value = valueAt(values, path);
        return value === undefined || JSON.stringify(value) === JSON.stringify(valueAt(defaults, path));
      }),
    );
    expect(unchanged).toEqual([]);
  });
});
