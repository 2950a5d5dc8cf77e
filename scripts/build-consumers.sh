#!/usr/bin/env bash
# Builds the programs that consume DD_BEARER_TOKEN_FILE with Datadog's official
# API clients (test/agent/consumers/<language>/), once per version of their
# sources, under $DDCRED_CACHE/consumers/<language>-<key>:
#   go          datadog-api-client-go from the Go module proxy, built to one binary
#   java        com.datadoghq:datadog-api-client from Maven Central (its own local
#               repository under $DDCRED_CACHE/m2), compiled with javac
#   typescript  @datadog/datadog-api-client from the npm registry, type-checked;
#               Node 24 runs the .ts file as it is
# The Python consumer runs from the venv scripts/setup.sh installs. <key> hashes
# every file of the consumer's folder (test/harness/datadog-clients.ts computes
# the same), so an edited consumer is rebuilt and an unchanged one is not.
source "$(dirname "$0")/lib.sh"
CONSUMERS="$ROOT/test/agent/consumers"

consumer_key() { # folder
  (cd "$1" && for file in $(ls | LC_ALL=C sort); do printf '%s\n' "$file"; cat "$file"; done) | sha256sum | cut -c1-12
}

# Where the build of these sources of the consumer goes.
consumer_dir() { # language
  echo "$DDCRED_CACHE/consumers/$1-$(consumer_key "$CONSUMERS/$1")"
}

# A fresh folder (the second argument) holding a copy of the consumer's sources, to build in.
fresh_copy() { # language out
  rm -rf "$2" && mkdir -p "$2"
  cp "$CONSUMERS/$1/"* "$2/"
}

build_go() {
  local out; out="$(consumer_dir go)"
  [[ -x "$out/datadog-bearer" ]] && return
  log "building the Go consumer with datadog-api-client-go (about 3 minutes, once)"
  local work; work="$(mktemp -d)"
  cp "$CONSUMERS/go/"* "$work/"
  (cd "$work" && CGO_ENABLED=0 go build -trimpath -o datadog-bearer .)
  mkdir -p "$out" && mv "$work/datadog-bearer" "$out/" && rm -rf "$work"
}

build_java() {
  local out; out="$(consumer_dir java)"
  [[ -f "$out/.complete" ]] && return
  log "building the Java consumer with com.datadoghq:datadog-api-client (once)"
  fresh_copy java "$out"
  mkdir -p "$out/classes"
  mvn -q -B -Dmaven.repo.local="$DDCRED_CACHE/m2" -f "$out/pom.xml" dependency:build-classpath -Dmdep.outputFile="$out/classpath.txt"
  javac -cp "$(cat "$out/classpath.txt")" -d "$out/classes" "$out/DatadogBearer.java"
  touch "$out/.complete"
}

build_typescript() {
  local out; out="$(consumer_dir typescript)"
  [[ -f "$out/.complete" ]] && return
  log "installing the TypeScript consumer's @datadog/datadog-api-client (once)"
  fresh_copy typescript "$out"
  (cd "$out" && npm ci --no-audit --no-fund --loglevel=error)
  # The README's snippet must compile against the real client, not just run.
  (cd "$out" && "$NODE" "$ROOT/node_modules/typescript/bin/tsc" --noEmit --strict --skipLibCheck --types node \
    --target es2022 --module nodenext --moduleResolution nodenext datadog-bearer.ts)
  touch "$out/.complete"
}

build_go
build_java
build_typescript
