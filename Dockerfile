# One image for the three services; SERVICE picks which one a container runs.
# The build stage compiles the TypeScript (`npm run build`: each package to its dist/, the
# migrations and their runner to dist/); the runtime stage holds production dependencies and
# that JavaScript only, run by plain node as the unprivileged user `node`.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY order-service/package.json order-service/
COPY inventory-service/package.json inventory-service/
COPY dispatcher-service/package.json dispatcher-service/
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json ./
COPY common common
COPY order-service order-service
COPY inventory-service inventory-service
COPY dispatcher-service dispatcher-service
COPY migrations migrations
COPY scripts/migrate.ts scripts/
RUN npm run build

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY order-service/package.json order-service/
COPY inventory-service/package.json inventory-service/
COPY dispatcher-service/package.json dispatcher-service/
# No production dependency needs an install script; the one that has one (@scarf/scarf, under
# swagger-ui-dist) only reports the download.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/common/dist common/dist
COPY --from=build /app/order-service/dist order-service/dist
COPY --from=build /app/inventory-service/dist inventory-service/dist
COPY --from=build /app/dispatcher-service/dist dispatcher-service/dist
# Migrations and their runner: `node dist/scripts/migrate.js` (docker-compose.yml's `migrate`).
COPY --from=build /app/dist dist
# Under this condition @delivery/common resolves to its compiled dist/ (its package.json
# "exports"); without it, to the TypeScript sources that `make up` and the tests run.
ENV NODE_OPTIONS=--conditions=delivery-dist
ARG SERVICE=order-service
ENV SERVICE=${SERVICE}
USER node
# Liveness, not readiness: a service whose Kafka is away still takes orders (the outbox keeps
# them), so it stays healthy; /readyz says whether its dependencies answer. PORT unset means
# the service's default port (its src/config.ts).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "-e", "const port = process.env.PORT || { 'order-service': 3001, 'inventory-service': 3002, 'dispatcher-service': 3003 }[process.env.SERVICE]; fetch('http://127.0.0.1:' + port + '/healthz', { signal: AbortSignal.timeout(3000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));"]
CMD ["sh", "-c", "exec node ${SERVICE}/dist/main.js"]
