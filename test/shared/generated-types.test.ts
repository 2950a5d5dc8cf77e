import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs build script without type declarations
import { renderTypes } from "../../scripts/generate-types.mjs";
import { CRD_PATH, REPO_ROOT } from "../harness/kube.js";

describe("the generated API types", () => {
  it("match the CRD (run `npm run generate` after changing it)", () => {
    const rendered = (renderTypes as (crd: string) => string)(readFileSync(CRD_PATH, "utf8"));
    expect(readFileSync(`${REPO_ROOT}src/shared/grant.generated.ts`, "utf8")).toBe(rendered);
  });
});
