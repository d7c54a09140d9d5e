# The whole push service in one container: the gateway (Node, HTTP/2 to APNs) and the XEP-0114
# component, registrations in SQLite under /data. Configuration: README.md, "One process".
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles its native module at install time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build:serve && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    STORE_PATH=/data/registrations.sqlite \
    HOST=0.0.0.0 \
    PORT=8788
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/serve.mjs ./dist/serve.mjs
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8788
CMD ["node", "dist/serve.mjs"]
