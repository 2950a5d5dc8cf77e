#!/usr/bin/env bash
# Builds the images the test bed's Kubernetes node runs, with buildah and no
# container registry, and writes each as an OCI archive that containerd
# imports (`ctr -n k8s.io images import <archive>`):
#   pause         the pod sandbox: tools/pause, one static program, FROM scratch
#   build-base    the local node:24-bookworm-slim: Debian (mmdebstrap) with
#                 Node.js and npm from the npm registry
#   runtime-base  the local gcr.io/distroless/nodejs24-debian12:nonroot: node,
#                 the libraries it links, CA certificates, user 65532, no shell
#   operator      the repository's Dockerfile, built on those two bases
#   app-python    an app for the consumer tests: Debian's python3, a POSIX
#                 shell and coreutils, boto3, awscli and datadog-api-client
#                 from PyPI; runs as UID 1000
#   ray-standin   app-python plus a stand-in `ray` command (tools/ray-standin)
#                 for KubeRay's pods
# An image's tag is a hash of everything it is made from, its recipe below
# included: an unchanged image is skipped, a changed one rebuilt.
# $IMAGES_DIR/index.json gives the ref, archive, size and layer count of the
# images the node runs: pause, operator, app-python and ray-standin
# (test/harness/node/images.ts reads it).
source "$(dirname "$0")/lib.sh"
shopt -s inherit_errexit

# mmdebstrap, chroot and buildah's storage need root, as the node that runs
# these images does; without it the suite runs no node, so nothing is built.
if [[ "$(id -u)" -ne 0 ]]; then
  log "not root: the test bed's images are not built (only the node and image tests need them)"
  exit 0
fi

INPUTS="$IMAGES_DIR/inputs"
mkdir -p "$IMAGES_DIR" "$INPUTS"
# One build at a time (a test run and a set-up may overlap).
exec 9>"$IMAGES_DIR/.lock"
flock 9
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
case "$(uname -m)" in
  x86_64) NODE_ARCH=x64 PYTHON_PLATFORMS=(manylinux_2_36_x86_64 manylinux2014_x86_64) ;;
  aarch64) NODE_ARCH=arm64 PYTHON_PLATFORMS=(manylinux_2_36_aarch64 manylinux2014_aarch64) ;;
  *) echo "no Node.js build for $(uname -m)" >&2; exit 1 ;;
esac

bah() {
  buildah --root "$BUILDAH_DIR/$BUILDAH_STORAGE_DRIVER/storage" --runroot "$BUILDAH_DIR/$BUILDAH_STORAGE_DRIVER/run" \
    --storage-driver "$BUILDAH_STORAGE_DRIVER" "$@"
}
# Working containers a failed run left behind (this storage is ours alone, and locked).
bah rm --all >/dev/null

digest() { sha256sum | cut -c1-12; }

# The text of these functions and of the shared steps: part of every image key,
# so a changed recipe rebuilds.
recipe() { declare -f "$@" staging_dir add_directory publish; }

# Names and contents of the files under these repository paths.
repository_files() { (cd "$ROOT" && find "$@" -type f -print0 | sort -z | xargs -0 sha256sum); }

# The image is built when its archive and its entry exist and buildah still holds it
# (the operator's build needs its bases in buildah's storage).
built() { # role ref
  [[ -f "$IMAGES_DIR/$1-${2##*:}.json" ]] && bah inspect --type image "$2" >/dev/null 2>&1
}

announce_cached() { # role ref
  log "$1: $2 cached ($(summary "$IMAGES_DIR/$1-${2##*:}.json"))"
}

summary() { # entry.json
  "$NODE" -e 'const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`${(e.sizeBytes / 1e6).toFixed(1)} MB archive, ${e.layers} layer${e.layers === 1 ? "" : "s"}`)' "$1"
}

# Writes the image as an OCI archive and its index entry.
publish() { # role ref started-at-$SECONDS
  local role="$1" ref="$2" started="$3" layout archive entry layers
  archive="$IMAGES_DIR/$role-${ref##*:}.tar"
  entry="${archive%.tar}.json"
  layout="$(mktemp -d -p "$WORK")"
  bah push --quiet "$ref" "oci:$layout:$ref"
  # ctr names an imported image after io.containerd.image.name.
  layers="$("$NODE" -e '
    const fs = require("fs");
    const [layout, ref] = process.argv.slice(1);
    const index = JSON.parse(fs.readFileSync(`${layout}/index.json`, "utf8"));
    for (const m of index.manifests) m.annotations = { ...m.annotations, "io.containerd.image.name": ref };
    fs.writeFileSync(`${layout}/index.json`, JSON.stringify(index));
    const manifest = JSON.parse(fs.readFileSync(`${layout}/blobs/${index.manifests[0].digest.replace(":", "/")}`, "utf8"));
    console.log(manifest.layers.length);' "$layout" "$ref")"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$layout" -cf "$archive.partial" oci-layout index.json blobs
  rm -rf "$layout"
  mv "$archive.partial" "$archive"
  printf '{ "ref": "%s", "archive": "%s", "sizeBytes": %d, "layers": %d }\n' \
    "$ref" "$archive" "$(stat -c %s "$archive")" "$layers" >"$entry"
  log "$role: $ref built in $((SECONDS - started)) s ($(summary "$entry"))"
}

# A Debian root filesystem (tarball) with these packages, made once.
debian_rootfs() { # comma-separated packages
  local tarball
  tarball="$INPUTS/debian-$DEBIAN_SUITE-$( { declare -f debian_rootfs; echo "$1"; } | digest).tar"
  echo "$tarball" >>"$WORK/inputs-in-use"
  if [[ ! -f "$tarball" ]]; then
    log "making a Debian $DEBIAN_SUITE root filesystem with $1 (mmdebstrap, about a minute)"
    # Like Debian's slim images: no manuals, docs (but copyrights) or translations.
    mmdebstrap --quiet --mode=root --variant=apt --format=tar --skip=output/dev --include="$1" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      "$DEBIAN_SUITE" "$tarball.partial" \
      "deb http://deb.debian.org/debian $DEBIAN_SUITE main" \
      "deb http://deb.debian.org/debian $DEBIAN_SUITE-updates main" \
      "deb http://deb.debian.org/debian-security $DEBIAN_SUITE-security main"
    mv "$tarball.partial" "$tarball"
  fi
  echo "$tarball"
}

# A package's tarball from the npm registry (npm checks its integrity), fetched once.
npm_tarball() { # name version
  local file="$INPUTS/$1-$2.tgz" work
  echo "$file" >>"$WORK/inputs-in-use"
  if [[ ! -f "$file" ]]; then
    work="$(mktemp -d -p "$WORK")"
    (cd "$work" && npm pack "$1@$2" --loglevel=error >/dev/null)
    mv "$work/$1-$2.tgz" "$file"
    rm -rf "$work"
  fi
  echo "$file"
}

# The certificate authorities this machine adds to Debian's (update-ca-certificates).
local_certificates() { cat /usr/local/share/ca-certificates/* 2>/dev/null || true; }

node_tarball() { npm_tarball "node-linux-$NODE_ARCH" "$NODE_VERSION"; }

# A fresh directory to lay out an image's files in; `buildah add` of its tarball
# keeps owners and modes, and its own mode becomes the image's /.
staging_dir() { local dir; dir="$(mktemp -d -p "$WORK")"; chmod 755 "$dir"; echo "$dir"; }
add_directory() { # container dir
  tar --numeric-owner -C "$2" -cf "$2.tar" .
  bah add --quiet "$1" "$2.tar" / >/dev/null
  rm -rf "$2" "$2.tar"
}

image_pause() {
  local ref started=$SECONDS container stage
  ref="localhost/ddcred-pause:$( { recipe image_pause; go version; cat "$ROOT/tools/pause/main.go"; } | digest)"
  if built pause "$ref"; then announce_cached pause "$ref"; echo "$ref"; return; fi
  stage="$(staging_dir)"
  (cd "$ROOT/tools/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$stage/pause" main.go)
  container="$(bah from --quiet scratch)"
  add_directory "$container" "$stage"
  bah config --entrypoint '["/pause"]' --cmd '[]' --user 65535:65535 "$container"
  bah commit --quiet --rm "$container" "$ref" >/dev/null
  publish pause "$ref" "$started"
  echo "$ref"
}

image_build_base() {
  local ref started=$SECONDS rootfs node npm container stage
  rootfs="$(debian_rootfs ca-certificates)"
  node="$(node_tarball)"
  npm="$(npm_tarball npm "$NPM_VERSION")"
  ref="localhost/ddcred-build-base:$( { recipe image_build_base; echo "${rootfs##*/} ${node##*/} ${npm##*/}"; local_certificates; } | digest)"
  if built build-base "$ref"; then announce_cached build-base "$ref"; echo "$ref"; return; fi
  stage="$(staging_dir)"
  mkdir -p "$stage/usr/local/bin" "$stage/usr/local/lib/node_modules/npm" "$stage/usr/local/etc" "$stage/usr/local/share"
  tar --no-same-owner -xzf "$node" -C "$stage/usr/local/bin" --strip-components=2 package/bin/node
  tar --no-same-owner -xzf "$npm" -C "$stage/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/local/bin/npx"
  # npm in the build stage trusts what this machine trusts: Debian's bundle plus
  # the certificate authorities added here (an egress proxy's, say). This image
  # stays on this machine; the public node image knows nothing of them.
  cp -r /usr/local/share/ca-certificates "$stage/usr/local/share/" 2>/dev/null || mkdir "$stage/usr/local/share/ca-certificates"
  printf "%s\n" cafile=/etc/ssl/certs/ca-certificates.crt update-notifier=false >"$stage/usr/local/etc/npmrc"
  container="$(bah from --quiet scratch)"
  bah add --quiet "$container" "$rootfs" / >/dev/null
  add_directory "$container" "$stage"
  bah run --isolation chroot "$container" -- update-ca-certificates >/dev/null 2>&1
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$NODE_VERSION" --cmd '["node"]' "$container"
  bah commit --quiet --rm "$container" "$ref" >/dev/null
  publish build-base "$ref" "$started"
  echo "$ref"
}

image_runtime_base() {
  local ref started=$SECONDS rootfs node debian stage container library
  rootfs="$(debian_rootfs ca-certificates)"
  node="$(node_tarball)"
  ref="localhost/ddcred-runtime-base:$( { recipe image_runtime_base; echo "${rootfs##*/} ${node##*/}"; } | digest)"
  if built runtime-base "$ref"; then announce_cached runtime-base "$ref"; echo "$ref"; return; fi
  debian="$(mktemp -d -p "$WORK")"
  stage="$(staging_dir)"
  tar -xf "$rootfs" -C "$debian"
  mkdir -p "$stage/nodejs/bin" "$stage/etc/ssl/certs" "$stage/tmp" "$stage/home/nonroot"
  tar --no-same-owner -xzf "$node" -C "$stage/nodejs/bin" --strip-components=2 package/bin/node
  # The libraries node links and the dynamic loader, as Debian's own ldd resolves them.
  cp "$stage/nodejs/bin/node" "$debian/tmp/node"
  for library in $(chroot "$debian" ldd /tmp/node | grep -o '/[^ ]*'); do
    mkdir -p "$stage$(dirname "$library")"
    cp "$debian$(chroot "$debian" readlink -f "$library")" "$stage$library"
  done
  cp "$debian/etc/ssl/certs/ca-certificates.crt" "$stage/etc/ssl/certs/"
  cp "$debian/usr/lib/os-release" "$stage/etc/os-release"
  printf '%s\n' root:x:0:0:root:/root:/sbin/nologin nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin \
    nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin >"$stage/etc/passwd"
  printf '%s\n' root:x:0: nobody:x:65534: nonroot:x:65532: >"$stage/etc/group"
  chmod 1777 "$stage/tmp"
  chown 65532:65532 "$stage/home/nonroot"
  chmod 700 "$stage/home/nonroot"
  rm -rf "$debian"
  # Fail here, not in a pod, if a library is missing.
  chroot "$stage" /nodejs/bin/node -e 'process.exit(0)'
  container="$(bah from --quiet scratch)"
  add_directory "$container" "$stage"
  bah config --user 65532:65532 --workingdir /home/nonroot --entrypoint '["/nodejs/bin/node"]' --cmd '[]' \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$container"
  bah commit --quiet --rm "$container" "$ref" >/dev/null
  publish runtime-base "$ref" "$started"
  echo "$ref"
}

# The repository's Dockerfile on the local bases; buildah's layer cache keeps
# the npm ci layer while package.json and package-lock.json stay the same.
image_operator() { # build-base-ref runtime-base-ref
  local ref started=$SECONDS revision
  # The commit the image reports in ddcred_build_info (not in a checkout: "unknown").
  revision="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  ref="localhost/ddcred-operator:$( { recipe image_operator; echo "$1 $2 $revision";
    repository_files Dockerfile .dockerignore package.json package-lock.json tsconfig.json scripts/build.mjs src; } | digest)"
  if built operator "$ref"; then announce_cached operator "$ref"; echo "$ref"; return; fi
  bah bud --quiet --isolation chroot --pull=never --layers \
    --build-arg BUILD_IMAGE="$1" --build-arg RUNTIME_IMAGE="$2" --build-arg DDCRED_REVISION="$revision" \
    --tag "$ref" --file "$ROOT/Dockerfile" "$ROOT" >/dev/null
  publish operator "$ref" "$started"
  echo "$ref"
}

# boto3, awscli and datadog-api-client at the versions requirements.txt pins,
# else at those the suite's venv holds, so the app image and the venv agree.
python_packages() {
  local name pinned
  for name in boto3 awscli datadog-api-client; do
    pinned="$(grep -iE "^$name(\[[^]]*\])?==" "$PY_REQUIREMENTS" | sed 's/\[[^]]*\]//' || true)"
    if [[ -n "$pinned" ]]; then echo "$pinned"; continue; fi
    echo "$name==$("$VENV/bin/python" -c 'import importlib.metadata, sys; print(importlib.metadata.version(sys.argv[1]))' "$name")"
  done
}

image_app_python() {
  local ref started=$SECONDS rootfs packages work stage site container platform platforms=()
  # wget and bash: the commands KubeRay's probes run in Ray containers (the Ray stand-in builds on this image).
  rootfs="$(debian_rootfs ca-certificates,python3,wget)"
  mapfile -t packages < <(python_packages)
  ref="localhost/ddcred-app-python:$( { recipe image_app_python; echo "${rootfs##*/} ${PYTHON_PLATFORMS[*]} ${packages[*]}"; } | digest)"
  if built app-python "$ref"; then announce_cached app-python "$ref"; echo "$ref"; return; fi
  for platform in "${PYTHON_PLATFORMS[@]}"; do platforms+=(--platform "$platform"); done
  work="$(mktemp -d -p "$WORK")"
  stage="$(staging_dir)"
  site="$stage/usr/local/lib/python$DEBIAN_PYTHON_VERSION/dist-packages"
  # Wheels for Debian's Python, whatever Python runs the venv; compiled in the image.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-compile --target "$work/target" \
    --python-version "$DEBIAN_PYTHON_VERSION" --implementation cp --only-binary=:all: "${platforms[@]}" "${packages[@]}"
  mkdir -p "$stage/usr/local/bin" "$(dirname "$site")" "$stage/home/app"
  # pip wrote the venv's interpreter into the scripts' first line.
  sed -i '1s|^#!.*python.*$|#!/usr/bin/python3|' "$work/target/bin/"*
  mv "$work/target/bin/"* "$stage/usr/local/bin/"
  rmdir "$work/target/bin"
  mv "$work/target" "$site"
  chown 1000:1000 "$stage/home/app"
  rm -rf "$work"
  container="$(bah from --quiet scratch)"
  bah add --quiet "$container" "$rootfs" / >/dev/null
  add_directory "$container" "$stage"
  bah run --isolation chroot "$container" -- sh -c "
    echo app:x:1000:1000:app:/home/app:/bin/sh >>/etc/passwd
    echo app:x:1000: >>/etc/group
    python3 -m compileall -q -j 0 /usr/local/lib/python$DEBIAN_PYTHON_VERSION/dist-packages >/dev/null"
  bah config --user 1000:1000 --workingdir /home/app --env HOME=/home/app \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd '["python3"]' "$container"
  bah commit --quiet --rm "$container" "$ref" >/dev/null
  publish app-python "$ref" "$started"
  echo "$ref"
}

# The Ray stand-in: the app image plus tools/ray-standin/ray as `ray`, for
# KubeRay's head, worker and submitter containers (Ray's images cannot be pulled here).
image_ray_standin() { # app-python-ref
  local ref started=$SECONDS container stage
  ref="localhost/ddcred-ray-standin:$( { recipe image_ray_standin; echo "$1"; cat "$ROOT/tools/ray-standin/ray"; } | digest)"
  if built ray-standin "$ref"; then announce_cached ray-standin "$ref"; echo "$ref"; return; fi
  stage="$(staging_dir)"
  mkdir -p "$stage/usr/local/bin"
  install -m 0755 "$ROOT/tools/ray-standin/ray" "$stage/usr/local/bin/ray"
  container="$(bah from --quiet --pull=never "$1")"
  add_directory "$container" "$stage"
  bah commit --quiet --rm "$container" "$ref" >/dev/null
  publish ray-standin "$ref" "$started"
  echo "$ref"
}

write_index() { # role=ref...
  local pair role ref separator=""
  {
    echo "{"
    for pair in "$@"; do
      role="${pair%%=*}" ref="${pair#*=}"
      printf '%s  "%s": %s' "$separator" "$role" "$(cat "$IMAGES_DIR/$role-${ref##*:}.json")"
      separator=$',\n'
    done
    printf '\n}\n'
  } >"$IMAGES_DIR/index.json.partial"
  mv "$IMAGES_DIR/index.json.partial" "$IMAGES_DIR/index.json"
}

# What this run did not use: older archives, tags and inputs.
remove_stale() { # role=ref...
  local pair keep=("$IMAGES_DIR/index.json") file image
  for pair in "$@"; do keep+=("$IMAGES_DIR/${pair%%=*}-${pair##*:}.tar" "$IMAGES_DIR/${pair%%=*}-${pair##*:}.json"); done
  for file in "$IMAGES_DIR"/*.tar "$IMAGES_DIR"/*.json; do
    [[ " ${keep[*]} " == *" $file "* ]] || rm -f "$file"
  done
  for file in "$INPUTS"/*; do
    grep -qxF "$file" "$WORK/inputs-in-use" || rm -f "$file"
  done
  # Their layers stay while a cached build step still uses them.
  for image in $(bah images --noheading --format '{{.Name}}:{{.Tag}}' | grep '^localhost/ddcred-' || true); do
    [[ " $* " == *"=$image "* ]] || bah rmi "$image" >/dev/null 2>&1 || true
  done
  # Cached build steps older than the build base in use (so made on an older
  # one), a step's parent once its child has gone.
  local steps build_base
  for pair in "$@"; do [[ "$pair" == build-base=* ]] && build_base="${pair#*=}"; done
  while steps="$(bah images --quiet --filter dangling=true --filter before="$build_base" 2>/dev/null)" && [[ -n "$steps" ]]; do
    # shellcheck disable=SC2086
    bah rmi $steps >/dev/null 2>&1 || break
  done
}

app_python_ref="$WORK/app-python.ref"
# The app image shares nothing with the others: build it alongside.
image_app_python >"$app_python_ref" &
app_python_pid=$!
pause="$(image_pause)"
build_base="$(image_build_base)"
runtime_base="$(image_runtime_base)"
operator="$(image_operator "$build_base" "$runtime_base")"
wait "$app_python_pid"
# The images the node runs (the bases only serve the operator's build).
app_python="$(cat "$app_python_ref")"
ray_standin="$(image_ray_standin "$app_python")"
write_index pause="$pause" operator="$operator" app-python="$app_python" ray-standin="$ray_standin"
remove_stale pause="$pause" operator="$operator" app-python="$app_python" ray-standin="$ray_standin" \
  build-base="$build_base" runtime-base="$runtime_base"
