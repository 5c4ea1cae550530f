# syntax=docker/dockerfile:1
#
# The gateway's processor (ext_proc gRPC server, admin API, echo demo provider) as an image.
# Envoy runs in its own container from the official envoyproxy/envoy image: see
# docker-compose.yml. Build with `docker build -t llm-gateway .`.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: install all dependencies, compile TypeScript, drop dev dependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# The image never runs Envoy itself, so the install script must not fetch it.
ENV GATEWAY_SKIP_ENVOY_DOWNLOAD=1 \
    npm_config_audit=false \
    npm_config_fund=false \
    npm_config_update_notifier=false

# Dependencies first, so this layer is reused until the lockfile changes. Lifecycle scripts
# are skipped here: the package's postinstall (install-envoy.js && npm run build) needs the
# sources, and the build runs explicitly below.
COPY package.json package-lock.json ./
COPY scripts/install-envoy.js ./scripts/
RUN npm ci --ignore-scripts

COPY tsconfig.json ./
COPY src ./src
COPY plugins ./plugins
RUN npm run build \
    && npm prune --omit=dev --ignore-scripts

# ---- runtime: compiled output and production dependencies only, as a non-root user ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    GATEWAY_SKIP_ENVOY_DOWNLOAD=1
WORKDIR /app

# Owned by root and read-only for the unprivileged `node` user (uid 1000) that runs the gateway.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Loaded at run time by the Envoy supervisor module (to locate an Envoy binary).
COPY --from=build /app/scripts/install-envoy.js ./scripts/install-envoy.js
# A default configuration, so `docker run` works without a mount; compose mounts its own.
COPY deploy/gateway.compose.yaml /etc/llm-gateway/gateway.yaml

# The official image's `node` user, numerically so runtimes can verify it is not root.
USER 1000:1000
# ext_proc gRPC, admin HTTP (/health, /metrics), echo demo provider.
EXPOSE 9002 9003 9004
STOPSIGNAL SIGTERM

ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["start", "--no-envoy", "-c", "/etc/llm-gateway/gateway.yaml"]
