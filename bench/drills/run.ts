// The failure drills: each breaks one part of a running installation on its
// own loopback control plane and prints what users saw, what was lost and how
// long recovery took; then one table of all. Measures, asserts nothing: the
// exit code is 1 only when a drill itself crashed. The webhook's drills
// (replica loss, Helm rollout, certificate rotation) run on the real node,
// through the webhook's Service: node.ts.
//   node scripts/run-ts.mjs bench/drills/run.ts [drill names...]
import { execFileSync } from "node:child_process";
import { REPO_ROOT } from "../../test/harness/kube.js";
import { printDrill, printSummary, type DrillReport, type DrillRun } from "./report.js";
import { apiServerRestart } from "./apiserver-restart.js";
import { datadogOutage } from "./datadog-outage.js";
import { leaderLoss } from "./leader-loss.js";
import { stsOutage } from "./sts-outage.js";

const DRILLS: Readonly<Record<string, () => Promise<DrillReport>>> = {
  "apiserver-restart": apiServerRestart,
  "sts-outage": stsOutage,
  "datadog-outage": datadogOutage,
  "leader-loss": leaderLoss,
};

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(name in DRILLS));
if (unknown.length > 0) {
  console.error(`unknown drill(s): ${unknown.join(", ")}; known: ${Object.keys(DRILLS).join(", ")}`);
  process.exit(2);
}
const selected = requested.length > 0 ? requested : Object.keys(DRILLS);
// The drills run the bundles (operator, agent, Datadog token service) as processes: build them from the sources first.
execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: REPO_ROOT, stdio: "inherit" });
const runs: DrillRun[] = [];
for (const drill of selected) {
  console.log(`\n--- running drill ${drill} ...`);
  const started = performance.now();
  let run: DrillRun;
  try {
    const report = await DRILLS[drill]!();
    run = { drill, seconds: (performance.now() - started) / 1000, report };
  } catch (error) {
    run = { drill, seconds: (performance.now() - started) / 1000, crash: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  runs.push(run);
  printDrill(run);
}
printSummary(runs);
process.exitCode = runs.some((run) => run.crash !== undefined) ? 1 : 0;
