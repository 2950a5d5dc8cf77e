// Runs the test Datadog token service (test/services/datadog) as a child
// process, as the demo and the agent tests use it, and drives it through its
// /_test/ control API.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Fault, OrgMapping, ServiceStats, Ttls } from "../services/datadog/control-types.js";
import { REPO_ROOT } from "./paths.js";
import { spawnTied, waitFor } from "./process.js";

export type { Fault, OrgMapping, ServiceStats, Ttls } from "../services/datadog/control-types.js";

export interface DatadogServiceOptions {
  /** The STS emulator (MotoServer.url) proofs are verified against. */
  readonly stsUrl: string;
  readonly orgs: readonly OrgMapping[];
  readonly tokenTtlSeconds?: number;
  readonly intakeKeyTtlSeconds?: number;
  readonly maxProofAgeSeconds?: number;
  /** Address to listen on; pods on the test bed's node reach the node address. Default 127.0.0.1. */
  readonly host?: string;
}

export interface DatadogService {
  /** Base URL: the agent's Datadog API URL (DDCRED_DATADOG_API_URL). */
  readonly url: string;
  /** The service's output (stdout and JSON events on stderr), kept until stop(). */
  readonly logFile: string;
  /** Inject a fault into the token endpoints; undefined clears it. */
  setFault(fault: Fault | undefined): Promise<void>;
  /** TTLs for credentials issued from now on. */
  setTtl(ttls: Ttls): Promise<void>;
  setOrgs(orgs: readonly OrgMapping[]): Promise<void>;
  stats(): Promise<ServiceStats>;
  /** Stops the process and removes its temp dir. */
  stop(): Promise<void>;
}

const BUNDLE = join(REPO_ROOT, "dist/datadog-token-service.mjs");
const SOURCES = join(REPO_ROOT, "test/services/datadog");

export async function startDatadogService(options: DatadogServiceOptions): Promise<DatadogService> {
  ensureBundle();
  const dir = mkdtempSync(join(tmpdir(), "ddcred-datadog-"));
  const logFile = join(dir, "datadog-token-service.log");
  const args = [BUNDLE, "--sts-url", options.stsUrl, "--orgs", JSON.stringify(options.orgs)];
  if (options.tokenTtlSeconds !== undefined) args.push("--token-ttl", String(options.tokenTtlSeconds));
  if (options.intakeKeyTtlSeconds !== undefined) args.push("--intake-key-ttl", String(options.intakeKeyTtlSeconds));
  if (options.maxProofAgeSeconds !== undefined) args.push("--max-proof-age", String(options.maxProofAgeSeconds));
  if (options.host !== undefined) args.push("--host", options.host);
  const child = spawnTied("datadog-token-service", process.execPath, args, { logFile });
  let url: string;
  try {
    url = await waitFor("the Datadog token service to listen", async () => /^listening on (\S+)$/m.exec(readFileSync(logFile, "utf8"))?.[1], {
      process: child,
      timeoutMs: 30_000,
      intervalMs: 50,
    });
  } catch (error) {
    await child.stop(1_000);
    throw error; // the log stays in dir for the post-mortem
  }

  const control = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${url}/_test/${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    const answer: unknown = await response.json();
    if (!response.ok) throw new Error(`${method} /_test/${path} failed: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  };

  return {
    url,
    logFile,
    setFault: async (fault) => void (await (fault === undefined ? control("DELETE", "fault") : control("PUT", "fault", fault))),
    setTtl: async (ttls) => void (await control("PUT", "ttl", ttls)),
    setOrgs: async (orgs) => void (await control("PUT", "orgs", orgs)),
    stats: async () => (await control("GET", "stats")) as ServiceStats,
    async stop() {
      await child.stop(5_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Builds the bundles when the service's bundle is missing or older than its sources (global setup normally has). */
function ensureBundle(): void {
  if (existsSync(BUNDLE) && newestSource(SOURCES) <= statSync(BUNDLE).mtimeMs) return;
  // Several test files may start the service at once: one builds, the others wait for it.
  const lock = join(REPO_ROOT, "dist/.build-lock");
  mkdirSync(join(REPO_ROOT, "dist"), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (attempt > 600) throw new Error(`${lock} has been held for a minute; remove it if no build is running`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    if (existsSync(BUNDLE) && newestSource(SOURCES) <= statSync(BUNDLE).mtimeMs) return;
    execFileSync(process.execPath, [join(REPO_ROOT, "scripts/build.mjs")], { cwd: REPO_ROOT, stdio: "inherit" });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function newestSource(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"))
      .map((file) => statSync(join(dir, file)).mtimeMs),
  );
}
