#!/usr/bin/env bash
# Installs everything the demo and the test suite need, idempotently:
# Node 24 and npm packages (node_modules), Debian's etcd, containerd, runc,
# CNI plugins, buildah and mmdebstrap, a Python venv with
# moto/boto3/awscli/datadog-api-client, and the Go-built peers (cached by
# version outside the repository), the consumers of DD_BEARER_TOKEN_FILE built
# on Datadog's official TypeScript, Go and Java clients
# (scripts/build-consumers.sh), and the images the test bed's node runs
# (scripts/build-images.sh). Safe to run again: finished steps are skipped.
source "$(dirname "$0")/lib.sh"

install_npm_packages() {
  local stamp="$ROOT/node_modules/.ddcred-lock-hash" want
  want="$(sha256sum "$ROOT/package-lock.json" | cut -c1-16)"
  if [[ -x "$NODE" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
  log "installing npm packages (Node 24 comes from the npm registry as the 'node' package)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

install_debian_packages() {
  local missing=()
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v openssl >/dev/null || missing+=(openssl)
  # Debian's python3 makes a venv only with python3-venv (ensurepip).
  python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
  # The test bed's node: a container runtime, CNI plugins, and what builds images.
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v buildah >/dev/null || missing+=(buildah)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  # The Java consumer of DD_BEARER_TOKEN_FILE (scripts/build-consumers.sh).
  command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null || missing+=(maven)
  [[ ${#missing[@]} -eq 0 ]] && return
  log "installing Debian packages: ${missing[*]}"
  local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python_venv() {
  [[ -f "$VENV/.complete" ]] && return
  log "creating the Python venv (moto, boto3, awscli, datadog-api-client; about 2 minutes, once)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$PY_REQUIREMENTS"
  touch "$VENV/.complete"
}

install_debian_packages
install_npm_packages &
npm_pid=$!
install_python_venv &
venv_pid=$!
bash "$ROOT/scripts/build-go-tools.sh" "$@"
wait "$npm_pid"
wait "$venv_pid"
bash "$ROOT/scripts/build-consumers.sh"
(cd "$ROOT" && "$NODE" scripts/build.mjs)
bash "$ROOT/scripts/build-images.sh"
