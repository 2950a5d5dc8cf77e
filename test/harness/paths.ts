// The Python venv the test peers run from (moto, boto3, awscli,
// datadog-api-client): the same path scripts/lib.sh computes, so a direct
// vitest run finds what scripts/setup.sh installed.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { toolPaths } from "./tools.js";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const PYTHON_REQUIREMENTS = join(REPO_ROOT, "test/python/requirements.txt");

/** $VENV: honours the env var, else $DDCRED_CACHE/venv-<12 hex of sha256(requirements + `python3 --version`)>. */
export function pythonVenv(): string {
  if (process.env.VENV) return process.env.VENV;
  let requirements = "";
  try {
    requirements = readFileSync(PYTHON_REQUIREMENTS, "utf8");
  } catch {
    // lib.sh hashes an empty requirements text too (cat 2>/dev/null).
  }
  const pythonVersion = execFileSync("python3", ["--version"], { encoding: "utf8" });
  const digest = createHash("sha256").update(requirements + pythonVersion).digest("hex");
  return join(toolPaths().cache, `venv-${digest.slice(0, 12)}`);
}

export function venvBin(name: string): string {
  return join(pythonVenv(), "bin", name);
}
