// Runs the agent benchmark: bundles bench/agent/run.ts (dependencies stay
// external) and runs it with this Node.js. Usage:
//   node_modules/.bin/node bench/agent/bench.mjs [--cycles 1000] [--flags "--max-semi-space-size=1"]
import { build } from "esbuild";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
// Two levels below the root, like the harness sources it bundles: they find the repository from import.meta.url.
const outfile = `${root}dist/bench/agent.mjs`;
await build({
  absWorkingDir: root,
  entryPoints: ["bench/agent/run.ts"],
  outfile,
  bundle: true,
  packages: "external",
  platform: "node",
  format: "esm",
  target: "node24",
  logLevel: "warning",
});
await import(pathToFileURL(outfile).href);
