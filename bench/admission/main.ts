// Admission round trips over HTTPS: the ddcred webhook server against a no-op
// HTTPS AdmissionReview responder measured in the same run, so the figures
// are ratios on this machine rather than bare numbers (absolute figures move
// with load on a small shared machine). Each server runs in a process of its own; vegeta drives them
// closed-loop at fixed concurrency (saturation throughput and latency) and
// open-loop at a fixed rate (latency at that rate). Prints figures, asserts
// nothing. Run it with `node bench/admission/run.mjs`.
//
// The machine is small and shared (other processes, hypervisor steal), so
// every load runs ROUNDS times, alternating the two servers, and the best
// round of each is printed: throughput for closed loop, p99 for open loop.
// The CPU time each server process spent per request (from /proc) is printed
// beside, the cost of the work itself whatever the load generator took.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Registry } from "prom-client";
import express from "express";
import { parseAllDocuments } from "yaml";
import type { Grant } from "../../src/shared/grant.js";
import { createLogger } from "../../src/shared/logger.js";
import { MUTATE_PODS_PATH } from "../../src/webhook/paths.js";
import { RecentDecisions } from "../../src/webhook/recent-decisions.js";
import { startAdmissionServer } from "../../src/webhook/server.js";
import { settings, StaticGrantCache } from "../../test/webhook/support/fixtures.js";
import { selfSignedCertificate } from "../../test/webhook/support/self-signed.js";

const ROOT = process.env.DDCRED_ROOT ?? process.cwd();
const CONCURRENCIES = [1, 16, 64];
const CLOSED_LOOP_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const OPEN_LOOP_RATE = Number(process.env.BENCH_RATE ?? 500);
const OPEN_LOOP_SECONDS = Number(process.env.BENCH_OPEN_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/**
 * Replicas of one template, as a ReplicaSet or KubeRay scaling up sends
 * them: the sample review under this many uids, sent round robin.
 */
const REPLICAS = Math.max(1, Number(process.env.BENCH_REPLICAS ?? 64));

type Mode = "ddcred" | "noop" | "express";

/** Child process: serve until told to stop, report the port on stdout. */
async function serve(mode: Mode, certFile: string, keyFile: string): Promise<void> {
  const certificate = { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
  let port: number;
  if (mode === "ddcred") {
    const grants = parseAllDocuments(readFileSync(join(ROOT, "test/golden/grants.yaml"), "utf8")).map((d) => d.toJS() as Grant);
    const server = await startAdmissionServer({
      certificates: { current: () => certificate, onChange: () => () => {} },
      grants: new StaticGrantCache(grants),
      settings,
      // One info line per decision through the operator's own logger
      // (redaction, asynchronous writes), as in production.
      logger: createLogger("operator", "info", "/dev/null"),
      registry: new Registry(),
      host: "127.0.0.1",
      // BENCH_DECIDE_EVERY_TIME=1: keep no recent decision, so that every
      // review is decided afresh (this bench sends replicas of one review,
      // which the server otherwise answers from the decision for the first).
      ...(process.env.BENCH_DECIDE_EVERY_TIME === "1" ? { recentDecisions: new RecentDecisions(0) } : {}),
    });
    port = server.port;
  } else if (mode === "express") {
    port = await serveExpressNoop(certificate);
  } else {
    port = await serveNoop(certificate);
  }
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  // Exit rather than die on SIGTERM, so --cpu-prof can write its profile.
  process.once("SIGTERM", () => process.exit(0));
}

/** The baseline: TLS, keep-alive, read and parse the review, answer allowed with its uid. */
async function serveNoop(certificate: { cert: string; key: string }): Promise<number> {
  const server = createServer({ ...certificate, minVersion: "TLSv1.2" }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { request: { uid: string } };
      const body = JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: review.request.uid, allowed: true } });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 95_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as { port: number }).port;
}

/**
 * The same no-op as an express 5 app, written as express is meant to be used
 * (express.json, res.json) on the same node:https server: what the webhook's
 * hot path would pay for express before doing any work of its own.
 */
async function serveExpressNoop(certificate: { cert: string; key: string }): Promise<number> {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.post(MUTATE_PODS_PATH, express.json({ limit: "4mb" }), (req, res) => {
    const review = req.body as { request: { uid: string } };
    res.json({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: review.request.uid, allowed: true } });
  });
  const server = createServer({ ...certificate, minVersion: "TLSv1.2" }, app);
  server.keepAliveTimeout = 95_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as { port: number }).port;
}

interface Running {
  readonly child: ChildProcess;
  readonly port: number;
}

/** CPU seconds (user + system) the process has used, from /proc; 0 where there is none. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function startServer(mode: Mode, certFile: string, keyFile: string): Promise<Running> {
  const child = spawn(process.execPath, [process.argv[1] as string, "--serve", mode, certFile, keyFile], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, DDCRED_ROOT: ROOT },
  });
  const [line] = (await once(createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }), "line")) as [string];
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

interface VegetaReport {
  /** Server CPU microseconds per request, measured around the attack. */
  cpuMicros: number;
  readonly requests: number;
  readonly throughput: number;
  readonly success: number;
  readonly latencies: { readonly "50th": number; readonly "99th": number; readonly max: number };
  readonly status_codes: Record<string, number>;
}

function attack(vegeta: string, dir: string, server: Running, args: readonly string[]): VegetaReport {
  const targets = join(dir, `targets-${server.port}.txt`);
  const target = (replica: number) =>
    `POST https://127.0.0.1:${server.port}${MUTATE_PODS_PATH}?timeout=10s\nContent-Type: application/json\n@${join(dir, `review-${replica}.json`)}\n`;
  writeFileSync(targets, Array.from({ length: REPLICAS }, (_, replica) => target(replica)).join("\n"));
  const results = join(dir, `results-${server.port}.bin`);
  const cpuBefore = cpuSeconds(server.child.pid);
  execFileSync(vegeta, ["attack", `-targets=${targets}`, "-format=http", `-root-certs=${join(dir, "tls.crt")}`, "-keepalive=true", `-output=${results}`, ...args], { stdio: ["ignore", "ignore", "inherit"] });
  const cpu = cpuSeconds(server.child.pid) - cpuBefore;
  const report = JSON.parse(execFileSync(vegeta, ["report", "-type=json", results], { encoding: "utf8" })) as VegetaReport;
  report.cpuMicros = (cpu * 1e6) / Math.max(1, report.requests);
  return report;
}

/** ROUNDS attacks on each server, alternating, and the best of each by `better`. */
function bestOf(vegeta: string, dir: string, servers: readonly Running[], args: readonly string[], better: (a: VegetaReport, b: VegetaReport) => boolean): VegetaReport[] {
  let best: (VegetaReport | undefined)[] = servers.map(() => undefined);
  for (let round = 0; round < ROUNDS; round++) {
    const reports = servers.map((server) => attack(vegeta, dir, server, args));
    best = best.map((current, i) => (current === undefined || better(reports[i] as VegetaReport, current) ? reports[i] : current));
  }
  return best as VegetaReport[];
}

const moreThroughput = (a: VegetaReport, b: VegetaReport) => a.throughput > b.throughput;
const lowerP99 = (a: VegetaReport, b: VegetaReport) => a.latencies["99th"] < b.latencies["99th"];

const closedLoop = (concurrency: number) => ["-rate=0", `-workers=${concurrency}`, `-max-workers=${concurrency}`, `-duration=${CLOSED_LOOP_SECONDS}s`];
const openLoop = [`-rate=${OPEN_LOOP_RATE}/s`, `-duration=${OPEN_LOOP_SECONDS}s`];
const ms = (ns: number) => (ns / 1e6).toFixed(2).padStart(7);
const pct = (ratio: number) => `${(ratio * 100).toFixed(0)}%`.padStart(5);

const header = (name: string) => ["load".padEnd(16), `${name}/s`.padStart(9), " no-op/s", "ratio", " p50 ms", " p99 ms", "noop p50", "noop p99", "cpu µs/req", "noop cpu", "  ok"];

function row(label: string, ddcred: VegetaReport, noop: VegetaReport): string {
  // `ddcred` is the server compared with the node:https no-op: ddcred's, or the express no-op.
  return [
    label.padEnd(16),
    ddcred.throughput.toFixed(0).padStart(9),
    noop.throughput.toFixed(0).padStart(8),
    pct(ddcred.throughput / noop.throughput),
    ms(ddcred.latencies["50th"]),
    ms(ddcred.latencies["99th"]),
    ms(noop.latencies["50th"]).padStart(8),
    ms(noop.latencies["99th"]).padStart(8),
    ddcred.cpuMicros.toFixed(0).padStart(10),
    noop.cpuMicros.toFixed(0).padStart(8),
    pct(ddcred.success),
  ].join("  ");
}

async function main(): Promise<void> {
  const vegeta = process.env.VEGETA;
  if (!vegeta) throw new Error("VEGETA is not set: run through bench/admission/run.mjs");
  const dir = mkdtempSync(join(tmpdir(), "ddcred-bench-"));
  const servers: Running[] = [];
  try {
    const certificate = selfSignedCertificate("ddcred-bench");
    writeFileSync(join(dir, "tls.crt"), certificate.cert);
    writeFileSync(join(dir, "tls.key"), certificate.key);
    const review = readFileSync(join(ROOT, "webhook/samples/kuberay-worker-create.json"), "utf8");
    const uid = (JSON.parse(review) as { request: { uid: string } }).request.uid;
    for (let replica = 0; replica < REPLICAS; replica++) {
      // Another uid of the same length in its place: the rest of the review as it is.
      const replicaUid = `${uid.slice(0, -4)}${replica.toString(16).padStart(4, "0")}`;
      writeFileSync(join(dir, `review-${replica}.json`), review.replace(`"${uid}"`, `"${replicaUid}"`));
    }
    const ddcred = await startServer("ddcred", join(dir, "tls.crt"), join(dir, "tls.key"));
    const noop = await startServer("noop", join(dir, "tls.crt"), join(dir, "tls.key"));
    const expressNoop = await startServer("express", join(dir, "tls.crt"), join(dir, "tls.key"));
    servers.push(ddcred, noop, expressNoop);

    for (const server of servers) attack(vegeta, dir, server, ["-rate=200/s", "-duration=2s"]); // warm the JITs up
    console.log(
      `KubeRay worker pod AdmissionReview (${Buffer.byteLength(review)} bytes, ${REPLICAS} replicas: uids sent round robin) over HTTPS with keep-alive; ` +
        `vegeta on the same ${availableParallelism()}-CPU machine; best of ${ROUNDS} alternating rounds`,
    );
    const loads: [string, readonly string[], typeof moreThroughput][] = [
      ...CONCURRENCIES.map((c): [string, readonly string[], typeof moreThroughput] => [`closed, c=${c}`, closedLoop(c), moreThroughput]),
      [`open, ${OPEN_LOOP_RATE}/s`, openLoop, lowerP99],
    ];
    // All three servers under each load, alternating, so both tables below come from the same rounds.
    const results = loads.map(([label, args, better]) => ({ label, best: bestOf(vegeta, dir, [ddcred, noop, expressNoop], args, better) }));
    console.log(header("ddcred").join("  "));
    for (const { label, best } of results) console.log(row(label, best[0]!, best[1]!));
    console.log(`aim: p99 < 5 ms at ${OPEN_LOOP_RATE}/s (open loop), throughput >= 70% of the no-op responder (closed loop)`);
    console.log("");
    console.log("express 5 no-op (express.json, res.json) against the node:https no-op: what express alone would cost the hot path");
    console.log(header("express").join("  "));
    for (const { label, best } of results) console.log(row(label, best[2]!, best[1]!));
  } finally {
    for (const server of servers) server.child.kill("SIGTERM");
    await Promise.all(servers.map((server) => (server.child.exitCode === null ? once(server.child, "exit") : undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--serve") {
  await serve(process.argv[3] as Mode, process.argv[4] as string, process.argv[5] as string);
} else {
  await main();
}
