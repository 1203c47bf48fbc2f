# Dify Log Vault. Build:  docker build -t dify-log-vault .
# The base is a build argument so that a mirror or a locally made Node image can stand in for Docker Hub's.
ARG NODE_IMAGE=node:20-bookworm-slim

# better-sqlite3 is a native module: npm downloads a prebuilt binary when GitHub can be reached and
# compiles it otherwise, against the headers of the image's own Node (no download from nodejs.org).
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local \
    npm_config_fund=false \
    npm_config_audit=false \
    npm_config_update_notifier=false
WORKDIR /app
COPY package.json package-lock.json ./

FROM toolchain AS build
RUN npm ci
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# the build's own node_modules without the dev dependencies: better-sqlite3 is compiled once, not twice
FROM build AS production-dependencies
RUN npm prune --omit=dev && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    LOGS_DIR=/data/logs
WORKDIR /app
COPY --chown=root:root package.json package-lock.json ./
COPY --chown=root:root --from=production-dependencies /app/node_modules ./node_modules
COPY --chown=root:root --from=build /app/dist ./dist
COPY --chown=root:root views ./views
COPY --chown=root:root public ./public
# The code stays root's and read-only to the service; only the archive volume is the service's.
RUN mkdir -p /data/logs && chown 1000:1000 /data/logs
VOLUME ["/data/logs"]
USER 1000:1000
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: Node is PID 1 and receives SIGTERM itself; it drains running jobs and exits 0.
CMD ["node", "dist/main.js"]
