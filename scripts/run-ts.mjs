// Runs a TypeScript script (benchmarks, the demo) with Node 24: bundles it
// with esbuild into dist/scripts/ and imports it, passing the arguments on.
//   node scripts/run-ts.mjs bench/controller/run.ts [args...]
import { build } from "esbuild";
import { basename } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error("usage: node scripts/run-ts.mjs <file.ts> [args...]");
  process.exit(2);
}
const outfile = `${root}dist/scripts/${entry.replace(/[/\\]/g, "_").replace(/\.ts$/, "")}.mjs`;
await build({
  absWorkingDir: root,
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node24",
  packages: "external",
  sourcemap: "inline",
  logLevel: "warning",
});
process.argv = [process.argv[0], `${root}${entry}`, ...args];
process.title = basename(entry);
await import(pathToFileURL(outfile).href);
