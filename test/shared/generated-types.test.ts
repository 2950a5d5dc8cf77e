import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
// @ts-expect-error: a plain .mjs build script without type declarations
import { renderTypes, TARGETS } from "../../scripts/generate-types.mjs";
import { REPO_ROOT } from "../harness/kube.js";

const targets = TARGETS as Array<{ crd: string; out: string; prefix: string }>;
const render = renderTypes as (crd: string, prefix: string) => string;

describe("the generated API types", () => {
  it.each(targets)("match $crd (run `npm run generate` after changing it)", ({ crd, out, prefix }) => {
    expect(readFileSync(`${REPO_ROOT}${out}`, "utf8")).toBe(render(readFileSync(`${REPO_ROOT}${crd}`, "utf8"), prefix));
  });

  it("give policies the same Datadog sites as grants", () => {
    const schema = (file: string) => parse(readFileSync(`${REPO_ROOT}crds/${file}`, "utf8")).spec.versions[0].schema.openAPIV3Schema.properties.spec.properties;
    const grantSites = schema("ddcred.io_datadogcredentialgrants.yaml").datadog.properties.site.enum;
    const policySites = schema("ddcred.io_datadogcredentialpolicies.yaml").allowedSites.items.enum;
    expect(policySites).toEqual(grantSites);
  });
});
