# The standalone Fingerprint Auth service (src/main.ts) as a container image.
#
#   docker build -t fingerprint-auth:0.1.0 .
#   podman build --format docker -t fingerprint-auth:0.1.0 .   # docker format keeps HEALTHCHECK
#
# Stages: `toolchain` (the base plus what node-gyp needs to compile better-sqlite3 when no prebuilt
# binary can be downloaded), `build` (every dependency, `npm run build`), `deps` (the production
# dependencies plus the service's own packages, compiled here too), and the runtime stage, which has
# no compiler, no npm cache and no dev dependencies. docs/operations.md, "Container image", has the
# details: user, volume, health check, signals.
#
# The npm steps keep npm's cache in a cache mount (`RUN --mount=type=cache`): that needs BuildKit
# (Docker's builder by default since 23.0; `DOCKER_BUILDKIT=1` before) or podman/buildah.
#
# BASE_IMAGE: any Debian-based Node.js 20 image with npm; the registry's slim image by default.
# Where no registry can be reached, scripts/container-base.sh builds a local stand-in.
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS toolchain
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

# Everything, dev dependencies included, to compile the TypeScript.
FROM toolchain AS build
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY tsconfig.json tsconfig.build.json tsconfig.client.json ./
COPY scripts/build.js ./scripts/
COPY src ./src
RUN npm run build \
  && find dist -name '*.spec.*' -delete \
  && rm -f dist/.tsbuildinfo dist/tsconfig.tsbuildinfo

# What runs: `npm ci --omit=dev` on the service's manifest. package.json keeps the service's own
# packages (Fastify and its Nest adapter, @fastify/static, helmet, pino) as devDependencies, because
# a host app of the library must not get them; scripts/service-manifest.js moves those listed in
# "serviceDependencies" to dependencies, in package.json and package-lock.json alike, so every
# version installed here is the one package-lock.json pins.
FROM toolchain AS deps
COPY package.json package-lock.json ./
COPY scripts/service-manifest.js ./scripts/
RUN --mount=type=cache,target=/root/.npm node scripts/service-manifest.js \
  && npm ci --omit=dev \
  && node -e "require('better-sqlite3')(':memory:').prepare('select 1').get()" \
  && rm -rf node_modules/better-sqlite3/build/Release/obj node_modules/better-sqlite3/build/Release/obj.target \
    node_modules/better-sqlite3/build/Release/.deps node_modules/better-sqlite3/build/Release/test_extension.node \
    node_modules/better-sqlite3/build/Release/sqlite3.a node_modules/better-sqlite3/build/deps \
    node_modules/better-sqlite3/deps node_modules/better-sqlite3/src

FROM ${BASE_IMAGE}
# The same uid/gid as deploy/kubernetes.yaml's runAsUser/runAsGroup. /data is created 0700 and owned
# by that user, and a new named volume takes both: the service finds DATA_DIR private.
RUN groupadd --gid 10001 fingerprint-auth \
  && useradd --uid 10001 --gid fingerprint-auth --no-log-init --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin fingerprint-auth \
  && install -d -m 0700 -o 10001 -g 10001 /data
WORKDIR /app
ENV NODE_ENV=production \
  DATA_DIR=/data \
  HOST=0.0.0.0 \
  PORT=3000
# Code and dependencies belong to root and are read-only for the service's user.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=deps /app/package.json ./package.json
USER 10001:10001
VOLUME ["/data"]
EXPOSE 3000
# /health/live checks the process only, never a database. Node's own fetch: the image has no curl.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself is PID 1 (no shell, no npm): it gets SIGTERM and runs the graceful shutdown (readiness
# 503, drain, session snapshot, databases closed, exit 0 within SHUTDOWN_TIMEOUT).
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
