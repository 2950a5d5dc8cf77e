#!/usr/bin/env bash
# The ddcred demo on a fresh machine, in one command: installs what it needs
# (idempotent; builds are cached outside the repo), then runs demo/run.ts on a
# local real API server and explains each step. Cleans up after itself.
source "$(dirname "$0")/lib.sh"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
exec "$NODE" scripts/run-ts.mjs demo/run.ts "$@"
