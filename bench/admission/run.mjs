// Builds bench/admission/main.ts into one ES module (as scripts/build.mjs
// builds the processes) and runs it with vegeta from scripts/lib.sh.
//   node bench/admission/run.mjs
// Knobs: BENCH_SECONDS (closed-loop run length, 5), BENCH_RATE (open-loop
// rate, 500), BENCH_OPEN_SECONDS (open-loop run length, 10).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("../..", import.meta.url));
const vegeta =
  process.env.VEGETA ?? execFileSync("bash", ["-c", `source "${root}/scripts/lib.sh" && printf %s "$VEGETA"`], { encoding: "utf8" });
if (!existsSync(vegeta)) {
  console.error(`vegeta not found at ${vegeta}: run bash scripts/build-go-tools.sh --bench`);
  process.exit(1);
}

const out = mkdtempSync(join(tmpdir(), "ddcred-bench-build-"));
try {
  await build({
    absWorkingDir: root,
    entryPoints: ["bench/admission/main.ts"],
    outfile: join(out, "admission-bench.mjs"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" },
    logLevel: "warning",
  });
  const run = spawnSync(process.execPath, [join(out, "admission-bench.mjs")], {
    stdio: "inherit",
    env: { ...process.env, VEGETA: vegeta, DDCRED_ROOT: root },
  });
  process.exitCode = run.status ?? 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
