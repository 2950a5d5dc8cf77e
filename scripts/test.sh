#!/usr/bin/env bash
# The whole test suite on a fresh machine, in one command: installs what it
# needs (idempotent; builds are cached outside the repo), then runs every test
# and ends with one line "N passed, N failed".
source "$(dirname "$0")/lib.sh"
bash "$ROOT/scripts/setup.sh" --kuberay

cd "$ROOT"
results="$ROOT/.vitest-results.json"
rm -f "$results"
# The node the suite runs changes the host (network, iptables, sysctls,
# mounts, cgroups); record the host first, and prove afterwards that the run
# put everything back.
host_before="$(mktemp)"
trap 'rm -f "$host_before"' EXIT
"$NODE" scripts/run-ts.mjs test/harness/node/host-check.ts snapshot "$host_before"
status=0
"$NODE" node_modules/vitest/vitest.mjs run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
host_status=0
"$NODE" scripts/run-ts.mjs test/harness/node/host-check.ts compare "$host_before" || host_status=$?

if [[ ! -s "$results" ]]; then
  echo "vitest wrote no results (exit $status)"
  echo "0 passed, 1 failed"
  exit 1
fi
read -r passed failed < <("$NODE" -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  // A file that failed to load has no test results but must still count.
  const brokenFiles = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
  console.log(r.numPassedTests, r.numFailedTests + brokenFiles);
' "$results")
# The host comparison counts as one more test.
if [[ "$host_status" -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
echo "${passed} passed, ${failed} failed"
[[ "$status" -eq 0 && "$failed" -eq 0 && "$passed" -gt 1 ]]
