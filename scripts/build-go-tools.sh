#!/usr/bin/env bash
# Builds the Go programs the suite runs as real peers, once per version:
#   kube            kube-apiserver, kube-controller-manager, kube-scheduler,
#                   kubelet, kube-proxy and kubectl from k8s.io/kubernetes as one
#                   multi-call binary (our tiny main in tools/kube)
#   helm            from helm.sh/helm/v3
#   vegeta          open-loop load generator for bench/ (only with --bench)
#   kuberay         KubeRay's operator (only with --kuberay)
source "$(dirname "$0")/lib.sh"
mkdir -p "$BIN_DIR"

build_kube() {
  [[ -x "$KUBE" ]] && return
  log "building Kubernetes v$KUBE_VERSION: one binary for kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and kubectl (about 5 minutes, once)"
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  cp "$ROOT/tools/kube/main.go" "$work/"
  (
    cd "$work"
    go mod init ddcred.io/tools/kube >/dev/null 2>&1
    local upstream
    upstream="$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
    # The kubernetes module points its staging modules at ./staging; a
    # consumer pins each one to the published v0.x.y of the same release.
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$upstream" \
      | awk -v v="v0.${KUBE_VERSION#1.}" '{print "replace " $1 " => " $1 " " v}' >>go.mod
    go get "k8s.io/kubernetes@v$KUBE_VERSION" >/dev/null
    go mod tidy >/dev/null
    local minor="${KUBE_VERSION#1.}"; minor="${minor%%.*}"
    CGO_ENABLED=0 go build -trimpath -o "$KUBE.tmp" -ldflags "-s -w \
      -X k8s.io/component-base/version.gitVersion=v$KUBE_VERSION \
      -X k8s.io/component-base/version.gitMajor=1 \
      -X k8s.io/component-base/version.gitMinor=$minor" .
  )
  mv "$KUBE.tmp" "$KUBE"
}

go_install() { # binary module@version [extra ldflags]
  local target="$1" pkg="$2" ldflags="${3:-}" tmp
  [[ -x "$target" ]] && return
  log "building ${pkg} (once)"
  tmp="$(mktemp -d)"
  CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -ldflags "-s -w $ldflags" "$pkg"
  mv "$tmp"/* "$target"
  rm -rf "$tmp"
}

build_kube
go_install "$HELM" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" "-X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
for arg in "$@"; do
  case "$arg" in
    --bench) go_install "$VEGETA" "github.com/tsenart/vegeta/v12@v$VEGETA_VERSION" ;;
    --kuberay) go_install "$KUBERAY_OPERATOR" "github.com/ray-project/kuberay/ray-operator@v$KUBERAY_VERSION" ;;
  esac
done
