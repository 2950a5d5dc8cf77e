// The agent's figures, measured in one run against the local emulators
// (moto, the test Datadog service) and a bare Node.js HTTP server as the
// baseline: RSS after start and after many refresh cycles, time to ready,
// loopback API latency, one credential_process run. Figures, no assertions.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { agentEnv, AGENT_BUNDLE, buildBundles, metricValue } from "../../test/agent/agent-process.js";
import { startCredentialPeers, type CredentialPeers } from "../../test/harness/credential-peers.js";
import { REPO_ROOT } from "../../test/harness/paths.js";
import { toolPaths } from "../../test/harness/tools.js";
import { AGENT_ENV } from "../../src/shared/agent-config.js";
import { CREDENTIAL_FILES } from "../../src/shared/names.js";
import { AGENT_NODE_FLAGS } from "../../src/agent/node-flags.js";

const { values } = parseArgs({
  options: {
    cycles: { type: "string", default: "1000" },
    // Node/V8 flags for the agent process (default: what the agent container runs with); the baseline runs without.
    flags: { type: "string", default: AGENT_NODE_FLAGS.join(" ") },
    rate: { type: "string", default: "200" },
    starts: { type: "string", default: "5" },
    seconds: { type: "string", default: "10" },
  },
});
const cycles = Number(values.cycles);
const nodeFlags = values.flags === "" ? [] : values.flags.split(/\s+/);
const SETTLE_MS = 2_000;

interface Running {
  readonly child: ChildProcess;
  readonly started: number;
  output(): string;
}

function run(args: readonly string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return { child, started: performance.now(), output: () => output };
}

async function stop(running: Running | undefined): Promise<void> {
  if (!running || running.child.exitCode !== null) return;
  const exited = new Promise((resolve) => running.child.once("exit", resolve));
  running.child.kill("SIGTERM");
  await Promise.race([exited, sleep(5_000).then(() => running.child.kill("SIGKILL"))]);
}

function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kb / 1024;
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 600_000, intervalMs = 2): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch {
      // not up yet
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Latency {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly success: number;
}

/** Open-loop load at a fixed rate with vegeta (closed-loop tools hide queueing); null when vegeta is not built. */
function loadAtFixedRate(url: string, headers: Record<string, string>): Latency | null {
  const vegeta = toolPaths().vegeta;
  const args = ["attack", `-rate=${values.rate}`, `-duration=${values.seconds}s`, ...Object.entries(headers).map(([k, v]) => `-header=${k}: ${v}`)];
  const attack = spawnSync(vegeta, args, { input: `GET ${url}\n`, maxBuffer: 1 << 30 });
  if (attack.error) return null;
  const report = spawnSync(vegeta, ["report", "-type=json"], { input: attack.stdout, maxBuffer: 1 << 30 });
  const parsed = JSON.parse(report.stdout.toString()) as { latencies: Record<string, number>; success: number };
  return { p50Ms: parsed.latencies["50th"]! / 1e6, p99Ms: parsed.latencies["99th"]! / 1e6, maxMs: parsed.latencies.max! / 1e6, success: parsed.success };
}

function credentialProcessRunMs(file: string, runs = 50): { medianMs: number; p99Ms: number; shellLoopPerRunMs: number } {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    // The command as botocore runs it: split like a shell, executed without one.
    const result = spawnSync("cat", [file]);
    times.push(performance.now() - started);
    if (result.status !== 0) throw new Error(`cat ${file} failed`);
  }
  times.sort((a, b) => a - b);
  // The same from a shell loop: fork + exec of cat without Node's spawn overhead.
  const loops = 200;
  const started = performance.now();
  spawnSync("sh", ["-c", `i=0; while [ $i -lt ${loops} ]; do cat "$0" >/dev/null; i=$((i+1)); done`, file]);
  const shellLoopPerRunMs = (performance.now() - started) / loops;
  return { medianMs: times[Math.floor(runs / 2)]!, p99Ms: times[Math.min(runs - 1, Math.floor(runs * 0.99))]!, shellLoopPerRunMs };
}

async function main(): Promise<void> {
  buildBundles();
  let peers: CredentialPeers | undefined;
  let bare: Running | undefined;
  let agent: Running | undefined;
  let cycling: Running | undefined;
  const dirs: string[] = [];
  try {
    peers = await startCredentialPeers();
    const { moto, datadog } = peers;

    // Baseline: the bare server, same load, same settling.
    bare = run([join(REPO_ROOT, "bench/agent/bare-server.mjs")], { PATH: process.env.PATH });
    const barePort = await until("the bare server", async () => /listening on (\d+)/.exec(bare!.output())?.[1]);
    await sleep(SETTLE_MS);
    const bareStartRss = rssMb(bare.child.pid);
    const bareLatency = loadAtFixedRate(`http://127.0.0.1:${barePort}/`, {});
    await sleep(SETTLE_MS);
    const bareRss = rssMb(bare.child.pid);
    await stop(bare);

    // Time to ready: several cold starts, as the agent reports it (process start to
    // every granted credential held) and as a poller sees it from the spawn.
    const starts: Array<{ polledMs: number; startupMs: number; cpuMs: number }> = [];
    for (let i = 0; i < Number(values.starts); i++) {
      const startDir = mkdtempSync(join(tmpdir(), "ddcred-bench-"));
      dirs.push(startDir);
      const startEnv = await agentEnv({ moto, datadogUrl: datadog.url, intakeKey: true }, join(startDir, "ddcred"));
      const starting = run([...nodeFlags, AGENT_BUNDLE], startEnv);
      try {
        const readyUrl = `http://127.0.0.1:${startEnv[AGENT_ENV.metricsPort]}/readyz`;
        await until("the agent to be ready", async () => ((await fetch(readyUrl)).status === 200 ? true : undefined));
        const polledMs = performance.now() - starting.started;
        const line = await until("the ready log line", async () => /"startupMs":(\d+),"cpuMs":(\d+)/.exec(starting.output()) ?? undefined);
        starts.push({ polledMs, startupMs: Number(line[1]), cpuMs: Number(line[2]) });
      } finally {
        await stop(starting);
      }
    }

    // The agent with production-like lifetimes (1 h session, 15 min tokens).
    const dir = mkdtempSync(join(tmpdir(), "ddcred-bench-"));
    dirs.push(dir);
    const env = await agentEnv({ moto, datadogUrl: datadog.url, intakeKey: true }, join(dir, "ddcred"));
    agent = run([...nodeFlags, AGENT_BUNDLE], { ...env, [AGENT_ENV.logLevel]: "warn" });
    const metricsUrl = `http://127.0.0.1:${env[AGENT_ENV.metricsPort]}`;
    await until("the agent to be ready", async () => ((await fetch(`${metricsUrl}/readyz`)).status === 200 ? true : undefined));
    await sleep(SETTLE_MS);
    const agentStartRss = rssMb(agent.child.pid);
    const credentialsDir = env[AGENT_ENV.credentialsDir]!;
    const secret = readFileSync(join(credentialsDir, CREDENTIAL_FILES.agentToken), "utf8");
    const apiUrl = `http://127.0.0.1:${env[AGENT_ENV.apiPort]}`;
    const agentLatency = loadAtFixedRate(`${apiUrl}/v1/datadog-token`, { Authorization: secret });
    const awsLatency = loadAtFixedRate(`${apiUrl}/v1/aws-credentials`, { Authorization: secret });
    await sleep(SETTLE_MS);
    const agentLoadedRss = rssMb(agent.child.pid);
    const processRun = credentialProcessRunMs(join(credentialsDir, CREDENTIAL_FILES.awsProcessCredentials));
    await stop(agent);

    // Refresh cycles: the shortest lifetimes the peers allow (1 s sessions, 2 s tokens).
    // Datadog sends whole seconds: a 1 s token can arrive already expired.
    await datadog.setTtl({ tokenTtlSeconds: 2, intakeKeyTtlSeconds: 2 });
    const cycleDir = mkdtempSync(join(tmpdir(), "ddcred-bench-"));
    dirs.push(cycleDir);
    const cycleEnv = await agentEnv(
      // Intake keys carry no expiry: exchanged again every 2 s, as often as the org's key rotates.
      { moto, datadogUrl: datadog.url, intakeKey: true, sessionDurationSeconds: 1, env: { [AGENT_ENV.intakeKeyRefreshSeconds]: "2" } },
      join(cycleDir, "ddcred"),
    );
    cycling = run([...nodeFlags, AGENT_BUNDLE], { ...cycleEnv, [AGENT_ENV.logLevel]: "warn" });
    const cycleMetricsUrl = `http://127.0.0.1:${cycleEnv[AGENT_ENV.metricsPort]}`;
    const successes = async () => {
      const text = await (await fetch(`${cycleMetricsUrl}/metrics`)).text();
      return ["aws", "datadog_token", "datadog_intake_key"]
        .map((kind) => metricValue(text, `ddcred_credential_refresh_total{kind="${kind}",result="success"}`) ?? 0)
        .reduce((a, b) => a + b, 0);
    };
    await until("the cycling agent to be ready", async () => ((await fetch(`${cycleMetricsUrl}/readyz`)).status === 200 ? true : undefined));
    await sleep(SETTLE_MS);
    const cycleSamples: Array<{ cycles: number; rssMb: number }> = [{ cycles: await successes(), rssMb: rssMb(cycling.child.pid) }];
    for (const mark of [0.25, 0.5, 0.75, 1].map((f) => Math.round(cycles * f))) {
      await until(`${mark} refresh cycles`, async () => ((await successes()) >= mark ? true : undefined), 1_800_000, 500);
      cycleSamples.push({ cycles: await successes(), rssMb: rssMb(cycling.child.pid) });
      process.stderr.write(`  ${mark} cycles: ${cycleSamples.at(-1)!.rssMb.toFixed(1)} MB\n`);
    }
    const cycleText = await (await fetch(`${cycleMetricsUrl}/metrics`)).text();
    const failures = cycleText.split("\n").filter((l) => l.startsWith("ddcred_credential_refresh_total") && !l.includes('result="success"'));
    await stop(cycling);

    const figures = {
      node: process.version,
      agentFlags: nodeFlags.join(" ") || "(none)",
      bareServer: { rssAfterStartMb: round(bareStartRss), rssAfterLoadMb: round(bareRss), latency: bareLatency },
      startup: {
        runs: starts.length,
        agentReportedReadyMs: stats(starts.map((s) => s.startupMs)),
        polledReadyMsFromSpawn: stats(starts.map((s) => s.polledMs)),
        cpuMsToReady: stats(starts.map((s) => s.cpuMs)),
      },
      agent: {
        rssAfterStartMb: round(agentStartRss),
        rssAfterLoadMb: round(agentLoadedRss),
        rssRatioAfterStart: round(agentStartRss / bareStartRss, 3),
        rssRatioAfterLoad: round(agentLoadedRss / bareRss, 3),
        datadogTokenLatency: agentLatency,
        awsCredentialsLatency: awsLatency,
        credentialProcessCat: processRun,
      },
      refreshCycles: {
        samples: cycleSamples.map((s) => ({ cycles: s.cycles, rssMb: round(s.rssMb) })),
        growthMb: round(cycleSamples.at(-1)!.rssMb - cycleSamples[0]!.rssMb),
        rssRatioToBareAfterStart: round(cycleSamples.at(-1)!.rssMb / bareStartRss, 3),
        rssRatioToBareAfterLoad: round(cycleSamples.at(-1)!.rssMb / bareRss, 3),
        failures,
      },
    };
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
  } finally {
    await Promise.all([stop(bare), stop(agent), stop(cycling)]);
    await peers?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

function stats(values: number[]): { min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: round(sorted[0]!), median: round(sorted[Math.floor(sorted.length / 2)]!), max: round(sorted.at(-1)!) };
}

function round(n: number, digits = 1): number {
  return Number(n.toFixed(digits));
}

await main();
