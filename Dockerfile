# syntax=docker/dockerfile:1
# user-service: multi-stage build. The runtime image holds production dependencies and the
# compiled JavaScript only, and runs as the unprivileged `node` user, on the current Node.js
# LTS (26; the code also runs on Node.js 20.19 and later).
#   docker build -t user-service .
#   docker run -e DATABASE_URL=postgres://... -e MIGRATE_ON_START=true -p 3000:3000 user-service

# ---- build: install everything, compile TypeScript, drop dev dependencies ----
FROM node:26-bookworm-slim AS build

# Toolchain for argon2's native addon; it stays in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./

# --ignore-scripts: package.json's `prepare` runs `npm run build`, which cannot work before
# the sources are copied. argon2 is then compiled from source against this image's glibc
# (its bundled prebuilt binary segfaults on some x86-64 hosts); node-gyp uses the headers
# that ship with the image instead of downloading them.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm_config_build_from_source=true npm_config_nodedir=/usr/local npm rebuild argon2

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY plugins ./plugins
COPY routes ./routes
COPY migrations ./migrations
COPY scripts/build.js ./scripts/
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime ----
FROM node:26-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000

COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Used only with the embedded database (ALLOW_EMBEDDED_DB=true): mount a volume here. The
# service refuses a data directory that others can write, and keeps it 0700.
RUN install -d -m 0700 -o node -g node /app/data

USER node
EXPOSE 3000

# The slim image has no curl: Node's own fetch. Liveness only (never touches the database).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# The CLI is in the image too: docker run --rm ... user-service node dist/src/cli.js migrate up
CMD ["node", "dist/src/server.js"]
