// Runs test/python/datadog_client.py: the official datadog-api-client
// (Python) acting as a user's program would.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT, venvBin } from "./paths.js";

export interface PythonClientResult {
  readonly exitCode: number;
  readonly output: Record<string, unknown>;
  readonly stderr: string;
}

export function runDatadogPythonClient(args: readonly string[], env: Record<string, string> = {}): Promise<PythonClientResult> {
  const script = join(REPO_ROOT, "test/python/datadog_client.py");
  // Only what the client needs: no AWS_* from the test process leaks in.
  const childEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", PYTHONWARNINGS: "ignore", ...env };
  return new Promise((resolve, reject) => {
    execFile(venvBin("python"), [script, ...args], { env: childEnv, timeout: 60_000 }, (error, stdout, stderr) => {
      const exitCode = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      try {
        resolve({ exitCode, output: JSON.parse(stdout) as Record<string, unknown>, stderr });
      } catch {
        reject(new Error(`datadog_client.py ${args[0]} exited ${exitCode} without JSON output:\n${stdout}\n${stderr}`));
      }
    });
  });
}
