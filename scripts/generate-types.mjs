// Generates src/shared/grant.generated.ts from the CRD in crds/, so the
// TypeScript view of the API cannot drift from what the API server enforces.
//   node scripts/generate-types.mjs          write the file
//   node scripts/generate-types.mjs --check  exit 1 if the file is out of date
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const root = fileURLToPath(new URL("..", import.meta.url));
const crdPath = `${root}crds/ddcred.io_datadogcredentialgrants.yaml`;
const outPath = `${root}src/shared/grant.generated.ts`;

export function renderTypes(crdText) {
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

  objectType(root.properties.spec, "GrantSpec", ".spec");
  objectType(root.properties.status, "GrantStatus", ".status");
  const site = root.properties.spec.properties.datadog.properties.site.enum;

  return [
    "// Generated from crds/ddcred.io_datadogcredentialgrants.yaml by scripts/generate-types.mjs.",
    "// Do not edit: change the CRD and run `npm run generate`.",
    "",
    `export const GRANT_API_VERSION = ${JSON.stringify(`${crd.spec.group}/${version.name}`)};`,
    `export const GRANT_KIND = ${JSON.stringify(crd.spec.names.kind)};`,
    `export const GRANT_PLURAL = ${JSON.stringify(crd.spec.names.plural)};`,
    `export const DATADOG_SITES = ${JSON.stringify(site)} as const;`,
    "",
    "/** Defaults the API server applies, keyed by field path. */",
    `export const GRANT_DEFAULTS = ${JSON.stringify(defaults, null, 2)} as const;`,
    "",
    ...interfaces.map((i) => `${i}\n`),
  ].join("\n");
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const rendered = renderTypes(readFileSync(crdPath, "utf8"));
  if (process.argv.includes("--check")) {
    if (readFileSync(outPath, "utf8") !== rendered) {
      console.error(`${outPath} is out of date with the CRD: run npm run generate`);
      process.exit(1);
    }
  } else {
    writeFileSync(outPath, rendered);
  }
}
