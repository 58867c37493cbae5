# syntax=docker/dockerfile:1

FROM node:22-slim AS build
# better-sqlite3 compiles its native addon when no prebuilt binary matches.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY schemas ./schemas
COPY prices ./prices
RUN npm run build \
  && npm prune --omit=dev

FROM node:22-slim
# Pinned: an unpinned flyctl once broke every user of the existing GitHub Action when a
# flag was renamed, and the driver matches flyctl's message texts, which change too.
COPY --from=flyio/flyctl:v0.4.87 /flyctl /usr/local/bin/flyctl
# FLY_NO_UPDATE_CHECK: the pinned flyctl must not spend each call asking for a newer self.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATABASE_URL=file:/data/fly-preview.db \
    FLYCTL_PATH=/usr/local/bin/flyctl \
    FLY_NO_UPDATE_CHECK=1
WORKDIR /app
# The compiled addon of better-sqlite3 comes along in node_modules: the runtime image has
# no compiler.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Read at run time, relative to dist/: see src/config/schema.ts and src/fly/prices.ts.
COPY --from=build /app/schemas ./schemas
COPY --from=build /app/prices ./prices
# The operator CLI on PATH, as the docs write it (`fly ssh console -C "fly-preview doctor"`).
# Node follows the link to dist/cli/, so the CLI's imports and package.json are found.
RUN chmod +x dist/cli/main.js && ln -s /app/dist/cli/main.js /usr/local/bin/fly-preview
# SQLite lives in /data. Fly mounts its volume there owned by the image's USER; a plain
# `docker run -v name:/data` copies this ownership into a new named volume.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1)).catch(() => process.exit(1))"]
CMD ["node", "dist/main.js"]
