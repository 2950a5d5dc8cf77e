#!/usr/bin/env bash
# The ddcred demo on a fresh machine, in one command: installs what it needs
# (idempotent; builds are cached outside the repo), then shows ddcred at work
# and explains each step. Cleans up after itself, the host included.
#   As root: on a real one-node Kubernetes cluster (demo/node.ts): the chart,
#   a RayCluster that KubeRay creates and a kubelet runs, kubectl's view of it.
#   Otherwise (or with DDCRED_DEMO=api-server): on an API server alone
#   (demo/run.ts), the agent run as a local process.
source "$(dirname "$0")/lib.sh"
bash "$ROOT/scripts/setup.sh" --kuberay
cd "$ROOT"
if [[ "${DDCRED_DEMO:-node}" == "api-server" ]]; then
  exec "$NODE" scripts/run-ts.mjs demo/run.ts "$@"
elif [[ "$(id -u)" -ne 0 ]]; then
  log "a Kubernetes node needs root (it sets up a bridge, iptables, mounts and cgroups): running the API-server-only demo instead"
  exec "$NODE" scripts/run-ts.mjs demo/run.ts "$@"
fi
exec "$NODE" scripts/run-ts.mjs demo/node.ts "$@"
