// Runs the operator bundle (dist/operator.mjs) as its own process, with the
// kubeconfig it is given (normally a ServiceAccount token bound to the
// chart's RBAC), on loopback ports.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./kube.js";
import { freePort, spawnTied, waitFor, type TiedProcess } from "./process.js";

export interface OperatorProcess {
  readonly process: TiedProcess;
  readonly healthUrl: string;
  metrics(): Promise<string>;
  /** Sum of a metric's samples whose labels include all of `labels`. */
  metricValue(name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

export interface OperatorOptions {
  readonly kubeconfig: string;
  readonly namespace: string;
  readonly env?: Record<string, string>;
  /** Wait for /readyz before returning (default true). */
  readonly waitReady?: boolean;
  /** The bundle to run (default dist/operator.mjs), e.g. a copy laid out as in the container image. */
  readonly entryPoint?: string;
}

export async function startOperator(options: OperatorOptions): Promise<OperatorProcess> {
  const healthPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "ddcred-operator-"));
  const child = spawnTied("operator", process.execPath, [options.entryPoint ?? join(REPO_ROOT, "dist/operator.mjs")], {
    logFile: join(dir, "operator.log"),
    env: {
      PATH: process.env.PATH,
      KUBECONFIG: options.kubeconfig,
      DDCRED_NAMESPACE: options.namespace,
      DDCRED_POD_NAME: `operator-${healthPort}`,
      DDCRED_HEALTH_ADDRESS: "127.0.0.1",
      DDCRED_HEALTH_PORT: String(healthPort),
      DDCRED_WEBHOOK_ADDRESS: "127.0.0.1",
      DDCRED_LOG_LEVEL: "debug",
      // Tests stop operators often; a drill that needs the delay sets it.
      DDCRED_SHUTDOWN_DELAY_SECONDS: "0",
      ...options.env,
    },
  });
  const healthUrl = `http://127.0.0.1:${healthPort}`;
  if (options.waitReady ?? true) {
    await waitFor("operator /readyz", async () => ((await fetch(`${healthUrl}/readyz`)).ok ? true : undefined), {
      timeoutMs: 60_000,
      process: child,
    });
  }
  const metrics = async () => (await fetch(`${healthUrl}/metrics`)).text();
  return {
    process: child,
    healthUrl,
    metrics,
    async metricValue(name, labels = {}) {
      return sumMetric(await metrics(), name, labels);
    },
    stop: () => child.stop(),
  };
}

export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(match[3]);
  }
  return total;
}
