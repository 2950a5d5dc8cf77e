# Shared settings for the set-up, test and demo scripts. Sourced, not run.
# Everything heavy is cached outside the repository, keyed by version, so a
# second run (or a second clone) reuses it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DDCRED_CACHE="${DDCRED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ddcred}"
KUBE_VERSION="${KUBE_VERSION:-1.35.4}"
HELM_VERSION="${HELM_VERSION:-3.22.0}"
VEGETA_VERSION="${VEGETA_VERSION:-12.13.0}"
KUBERAY_VERSION="${KUBERAY_VERSION:-1.5.0}"
PY_REQUIREMENTS="$ROOT/test/python/requirements.txt"
# The Node.js the images run: package.json's `node` devDependency, one version everywhere.
NODE_VERSION="$(sed -n 's/^ *"node": "\([0-9.]*\)",*$/\1/p' "$ROOT/package.json")"
NPM_VERSION="${NPM_VERSION:-11.19.1}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
DEBIAN_PYTHON_VERSION="3.11"   # the suite's python3, for which the app image's wheels are fetched

BIN_DIR="$DDCRED_CACHE/bin"
KUBE="$BIN_DIR/kube-v$KUBE_VERSION"
HELM="$BIN_DIR/helm-v$HELM_VERSION"
VEGETA="$BIN_DIR/vegeta-v$VEGETA_VERSION"
KUBERAY_OPERATOR="$BIN_DIR/kuberay-operator-v$KUBERAY_VERSION"
VENV="$DDCRED_CACHE/venv-$( (cat "$PY_REQUIREMENTS" 2>/dev/null; python3 --version) | sha256sum | cut -c1-12)"
NODE="$ROOT/node_modules/.bin/node"
# Images for the test bed's node (scripts/build-images.sh): OCI archives and
# their index here; buildah's own storage never in the host's default place.
IMAGES_DIR="$DDCRED_CACHE/images"
BUILDAH_DIR="$DDCRED_CACHE/buildah"
BUILDAH_STORAGE_DRIVER="${BUILDAH_STORAGE_DRIVER:-overlay}"   # vfs where overlay cannot mount

export DDCRED_CACHE KUBE HELM VEGETA KUBERAY_OPERATOR VENV IMAGES_DIR

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
