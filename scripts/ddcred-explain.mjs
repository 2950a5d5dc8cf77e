#!/usr/bin/env node
// `ddcred explain` from a clone, the package's bin: `npx ddcred-explain ...`
// after `npm ci` (npx finds the bin of the package it runs in), or
// `npm run explain -- ...`. Runs the bundle `npm run build` leaves in dist/,
// else bundles src/explain/main.ts first (scripts/run-ts.mjs).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const bundle = fileURLToPath(new URL("../dist/explain.mjs", import.meta.url));
if (existsSync(bundle)) {
  await import(bundle);
} else {
  process.argv.splice(2, 0, "src/explain/main.ts");
  process.chdir(fileURLToPath(new URL("..", import.meta.url)));
  await import("./run-ts.mjs");
}
