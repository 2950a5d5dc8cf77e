// Proves the test bed left the host as it found it, around a whole test run:
//   host-check.ts snapshot FILE   records the host (sysctls, links, addresses,
//                                 iptables, node mounts and cgroups, fixed paths)
//   host-check.ts compare FILE    prints each difference; exits 1 if any
// scripts/test.sh runs both and counts the comparison as a test.
import { readFileSync, writeFileSync } from "node:fs";
import { compareHostSnapshots, leftoverRecord, takeHostSnapshot, type HostSnapshot } from "./host.js";

const [mode, file] = process.argv.slice(2);
if (mode === "snapshot" && file) {
  // A crashed run's leftovers are not the host as found: its record says what was.
  writeFileSync(file, JSON.stringify(leftoverRecord()?.before ?? takeHostSnapshot()));
} else if (mode === "compare" && file) {
  const differences = compareHostSnapshots(JSON.parse(readFileSync(file, "utf8")) as HostSnapshot, takeHostSnapshot());
  for (const difference of differences) console.log(`host changed: ${difference}`);
  if (differences.length === 0) console.log("the host is as the test run found it");
  process.exitCode = differences.length === 0 ? 0 : 1;
} else {
  console.error("usage: host-check.ts snapshot|compare FILE");
  process.exitCode = 2;
}
