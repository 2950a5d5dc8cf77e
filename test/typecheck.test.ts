// The whole project type-checks under the strict tsconfig: esbuild bundles
// without checking types, so without this CI would not notice a type error.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./harness/kube.js";

describe("the TypeScript sources", () => {
  it("type-check with tsc --noEmit", async () => {
    const result = await promisify(execFile)(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json", "--noEmit"], {
      cwd: REPO_ROOT,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: { stdout?: string; code?: number }) => ({ stdout: error.stdout ?? String(error), code: error.code }));
    expect(result.stdout).toBe("");
  }, 180_000);
});
