// Child processes for the test peers (etcd, kube-apiserver, moto, the
// operator, agents), tied to the test process: each runs under a tiny shell
// guard that kills it when our stdin pipe closes, so a crashed or killed test
// run never leaves servers behind.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

// The child's stdin is our pipe; when we die it reads EOF and the guard
// stops the real process. fd 3 keeps the pipe for the background reader
// (POSIX gives asynchronous lists /dev/null as stdin).
const GUARD = [
  'exec 3<&0 </dev/null',
  '"$@" & child=$!',
  "trap 'kill -TERM $child 2>/dev/null' TERM INT",
  "(while read -r _ <&3; do :; done; kill -KILL $child 2>/dev/null) >/dev/null 2>&1 &",
  "wait $child; status=$?",
  // A trapped signal interrupts wait early; wait again for the real status.
  "if kill -0 $child 2>/dev/null; then wait $child; status=$?; fi",
  "exit $status",
].join("\n");

export interface TiedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  readonly running: () => boolean;
  /** PID of the real process (the guard shell's child), for /proc readings. */
  readonly pid: () => number | undefined;
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** Immediate SIGKILL of the real process (crash drills). */
  kill(): Promise<void>;
  log(): string;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export interface SpawnOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly logFile: string;
}

export function spawnTied(name: string, command: string, args: readonly string[], options: SpawnOptions): TiedProcess {
  const log = createWriteStream(options.logFile, { flags: "a" });
  const child = spawn("/bin/sh", ["-c", GUARD, name, command, ...args], {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ["pipe", "pipe", "pipe"],
  });
  live.add(child);
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  let isRunning = true;
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      isRunning = false;
      child.stdin.end(); // lets the guard's background reader finish
      live.delete(child);
      resolve(code);
    });
  });
  const signalChild = (signal: NodeJS.Signals) => {
    if (isRunning) child.kill(signal);
  };
  return {
    name,
    logFile: options.logFile,
    exited,
    running: () => isRunning,
    pid: () => {
      try {
        // The guard's other child is its stdin reader, a forked shell.
        const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/);
        const real = children.find((pid) => pid && readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "sh");
        return real ? Number(real) : undefined;
      } catch {
        return undefined;
      }
    },
    async stop(graceMs = 10_000) {
      if (!isRunning) return;
      signalChild("SIGTERM");
      const timer = setTimeout(() => {
        child.stdin.end(); // the guard's reader SIGKILLs the real process
        signalChild("SIGKILL");
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (!isRunning) return;
      child.stdin.end();
      await exited;
    },
    log: () => readFileSync(options.logFile, "utf8"),
  };
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Polls until check() returns a value, or fails with the last error and the process log. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number; process?: TiedProcess } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (options.process && !options.process.running()) break;
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(options.intervalMs ?? 100);
  }
  const tail = options.process ? `\n--- ${options.process.name} log (tail) ---\n${options.process.log().slice(-4000)}` : "";
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}${tail}`);
}
