# syntax=docker/dockerfile:1
# The ddcred-operator image: the operator and the credential agent it injects,
# two self-contained esbuild bundles on a distroless Node.js 24 runtime.
#
#   docker build -t ddcred-operator .
#
# The base images are build arguments whose defaults are the public images;
# the test bed (scripts/build-images.sh) passes local equivalents built from
# Debian packages and the npm registry's Node.js, so it needs no registry:
#   --build-arg BUILD_IMAGE=... --build-arg RUNTIME_IMAGE=...
#
# Both entry points, as the Helm chart runs them:
#   operator: node /app/dist/operator.mjs   (the default command)
#   agent:    node /app/dist/agent.mjs      (chart value agent.command)
# and `ddcred explain` (what the webhook would do with a pod, and why):
#   kubectl exec -i deploy/<release>-ddcred-operator -- node /app/dist/explain.mjs - < pod.yaml

# Any Node.js 24 image with npm.
ARG BUILD_IMAGE=node:24-bookworm-slim
# Any Node.js 24 runtime that keeps node in /nodejs/bin (the PATH below).
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# The bundles are plain JavaScript, so they are built once on the build
# machine's platform, whatever platforms the image is built for.
FROM --platform=$BUILDPLATFORM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the build needs only esbuild, whose JavaScript API finds
# its platform binary in the @esbuild/* optional dependency by itself.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.mjs scripts/
COPY src/ src/
# The source revision ddcred_build_info reports (the build context has no .git):
#   --build-arg DDCRED_REVISION=$(git rev-parse --short=12 HEAD)
ARG DDCRED_REVISION=unknown
RUN node scripts/build.mjs

# Distroless Node.js 24 (Debian 12, glibc like the build stage): Node and its
# libraries only, no shell or package manager, so little for a scanner to
# flag in an image that runs in every injected pod. The bundles need no
# node_modules (test/chart/dockerfile.test.ts runs them without any).
FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="ddcred-operator" \
      org.opencontainers.image.description="Short-lived Datadog credentials for Kubernetes workloads, derived from their AWS identity" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
COPY --from=build /src/dist/operator.mjs /src/dist/agent.mjs /src/dist/explain.mjs /app/dist/
# `node` on the PATH, so the chart's commands work unchanged on another Node base image.
ENV PATH=/nodejs/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# The distroless nonroot user, numeric so that runAsNonRoot can verify it;
# the chart's runAsUser and the agent's default UID are the same 65532.
USER 65532:65532
# Nothing is written at run time: the root filesystem can be read-only.
ENTRYPOINT ["node"]
CMD ["/app/dist/operator.mjs"]
