# syntax=docker/dockerfile:1
# Parley server image: type-checks and builds the workspace, then runs the
# compiled server (plain JavaScript, no tsx, no dev dependencies) on
# 0.0.0.0:5555 with its SQLite database on a volume, as a non-root user.
# The web client's built page is in /app/web, served once PARLEY_WEB_PORT
# (or --web-port) is set.

FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/* \
 && npm install -g pnpm@12.4.2
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json tsconfig.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/runtime/package.json packages/runtime/
COPY packages/server/package.json packages/server/
COPY packages/client/package.json packages/client/
COPY packages/bench/package.json packages/bench/
COPY packages/testkit/package.json packages/testkit/
COPY packages/web/package.json packages/web/
RUN pnpm install --frozen-lockfile
COPY packages ./packages
COPY scripts ./scripts
RUN pnpm typecheck \
 && pnpm build \
 && pnpm --filter @parley/server deploy --prod --legacy /out \
 && rm -rf /out/src /out/test \
 && rm -rf /out/dist && cp -r packages/server/dist /out/dist

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PARLEY_HOST=0.0.0.0 \
    PARLEY_PORT=5555 \
    PARLEY_DB=/data/chat_server.db \
    PARLEY_WEB_ROOT=/app/web
WORKDIR /app
COPY --from=build --chown=node:node /out ./
COPY --from=build --chown=node:node /app/packages/web/dist ./web
# `parley-server` is a command in the image (e.g. `docker compose exec parley parley-server --help`)
RUN mkdir -p /data && chown node:node /data \
 && ln -s /app/dist/parley-server.js /usr/local/bin/parley-server
VOLUME ["/data"]
USER node
EXPOSE 5555
STOPSIGNAL SIGTERM
# healthy while the server greets a new connection with HELLO on its port
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const s=require('net').connect(Number(process.env.PARLEY_PORT),'127.0.0.1');s.setTimeout(4000,()=>process.exit(1));s.on('error',()=>process.exit(1));s.on('data',(d)=>{process.exit(String(d).includes('HELLO')?0:1)})"]
CMD ["node", "dist/parley-server.js"]
