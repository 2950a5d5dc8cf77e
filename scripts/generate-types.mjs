// Generates the TypeScript view of each CRD in crds/ (src/shared/*.generated.ts),
// so the types cannot drift from what the API server enforces.
//   node scripts/generate-types.mjs          write the files
//   node scripts/generate-types.mjs --check  exit 1 if a file is out of date
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Each CRD, the file generated from it, and the prefix of its type names. */
export const TARGETS = [
  { crd: "crds/ddcred.io_datadogcredentialgrants.yaml", out: "src/shared/grant.generated.ts", prefix: "Grant" },
  { crd: "crds/ddcred.io_datadogcredentialpolicies.yaml", out: "src/shared/policy.generated.ts", prefix: "Policy" },
];

export function renderTypes(crdText, prefix = "Grant") {
  const crd = parse(crdText);
  const version = crd.spec.versions.find((v) => v.storage);
  const root = version.schema.openAPIV3Schema;
  const interfaces = [];
  const defaults = {};

  const typeOf = (schema, name, path) => {
    if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
    switch (schema.type) {
      case "string":
        return "string";
      case "integer":
      case "number":
        return "number";
      case "boolean":
        return "boolean";
      case "array":
        return `ReadonlyArray<${typeOf(schema.items, `${name}Item`, `${path}[]`)}>`;
      case "object":
        if (schema.properties) return objectType(schema, name, path);
        if (schema.additionalProperties)
          return `Readonly<Record<string, ${typeOf(schema.additionalProperties, `${name}Value`, path)}>>`;
        return "Record<string, unknown>";
      default:
        throw new Error(`unsupported schema type ${schema.type} at ${path}`);
    }
  };

  const objectType = (schema, name, path) => {
    const required = new Set(schema.required ?? []);
    const lines = [];
    if (schema.description) lines.push(`/** ${schema.description.trim()} */`);
    lines.push(`export interface ${name} {`);
    for (const [key, prop] of Object.entries(schema.properties)) {
      const childName = name + key[0].toUpperCase() + key.slice(1);
      const childType = typeOf(prop, childName, `${path}.${key}`);
      if (prop.default !== undefined) defaults[`${path}.${key}`.replace(/^\./, "")] = prop.default;
      if (prop.description) lines.push(`  /** ${prop.description.trim()} */`);
      lines.push(`  readonly ${key}${required.has(key) ? "" : "?"}: ${childType};`);
    }
    lines.push("}");
    interfaces.push(lines.join("\n"));
    return name;
  };

  objectType(root.properties.spec, `${prefix}Spec`, ".spec");
  objectType(root.properties.status, `${prefix}Status`, ".status");
  const constant = prefix.toUpperCase();
  const site = root.properties.spec.properties.datadog?.properties.site.enum;

  return [
    `// Generated from crds/${crd.spec.group}_${crd.spec.names.plural}.yaml by scripts/generate-types.mjs.`,
    "// Do not edit: change the CRD and run `npm run generate`.",
    "",
    `export const ${constant}_API_VERSION = ${JSON.stringify(`${crd.spec.group}/${version.name}`)};`,
    `export const ${constant}_KIND = ${JSON.stringify(crd.spec.names.kind)};`,
    `export const ${constant}_PLURAL = ${JSON.stringify(crd.spec.names.plural)};`,
    ...(site ? [`export const DATADOG_SITES = ${JSON.stringify(site)} as const;`] : []),
    "",
    "/** Defaults the API server applies, keyed by field path. */",
    `export const ${constant}_DEFAULTS = ${JSON.stringify(defaults, null, 2)} as const;`,
    "",
    ...interfaces.map((i) => `${i}\n`),
  ].join("\n");
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  let stale = false;
  for (const target of TARGETS) {
    const rendered = renderTypes(readFileSync(`${root}${target.crd}`, "utf8"), target.prefix);
    if (!process.argv.includes("--check")) writeFileSync(`${root}${target.out}`, rendered);
    else if (readFileSync(`${root}${target.out}`, "utf8") !== rendered) {
      console.error(`${target.out} is out of date with ${target.crd}: run npm run generate`);
      stale = true;
    }
  }
  if (stale) process.exit(1);
}
