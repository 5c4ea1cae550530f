# syntax=docker/dockerfile:1
#
# The gateway's processor (ext_proc gRPC server, admin API, echo demo provider) as an image.
# Envoy runs in its own container from the official envoyproxy/envoy image: see
# docker-compose.yml and docs/deploying.md. Build with `docker build -t llm-gateway .`.
#
# Every build step lives in scripts/build-image.sh (compile, production dependencies, native
# modules, checks), which test/e2e/image.test.ts runs too and starts the gateway from; this file
# only supplies the base images, the sources and the runtime settings.

# Both stages use the same Node major (one native-module ABI) on the same Debian (one glibc).
ARG NODE_VERSION=20

# ---- build: the full image brings python3, make and g++ for node-gyp, used when no prebuilt
# better-sqlite3 binary can be downloaded for this platform ----
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
COPY scripts/build-image.sh scripts/install-envoy.js scripts/build-console.mjs ./scripts/
COPY src ./src
COPY plugins ./plugins
COPY console ./console
# The npm cache (packages and prebuilt binaries) survives between builds.
RUN --mount=type=cache,target=/root/.npm bash scripts/build-image.sh /out

# ---- runtime: the build output only, owned by root, run by an unprivileged user ----
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    GATEWAY_SKIP_ENVOY_DOWNLOAD=1
WORKDIR /app
COPY --from=build /out/ ./
# A default configuration, so `docker run` works without a mount; compose mounts its own.
COPY deploy/gateway.compose.yaml /etc/llm-gateway/gateway.yaml
# store.data_dir of that configuration: the SQLite file and the generated encryption key when
# neither DATABASE_URL nor GATEWAY_ENCRYPTION_KEY is set. Mount a volume here to keep them.
RUN mkdir -p /var/lib/llm-gateway && chown 1000:1000 /var/lib/llm-gateway

# The official image's `node` user, numerically so runtimes can verify it is not root.
USER 1000:1000
# ext_proc gRPC, admin HTTP (/health, /metrics), echo demo provider.
EXPOSE 9002 9003 9004
STOPSIGNAL SIGTERM
# The processor's own state from /health on the admin port (processor.admin_port, 9003); the
# `envoy` part of that report does not apply with --no-envoy, so the HTTP status is not used.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9003/health',{signal:AbortSignal.timeout(2000)}).then((r)=>r.json()).then((b)=>process.exit(b.processor&&b.processor.status==='healthy'?0:1),()=>process.exit(1))"]

ENTRYPOINT ["node", "/app/dist/src/cli.js"]
CMD ["start", "--no-envoy", "-c", "/etc/llm-gateway/gateway.yaml"]
