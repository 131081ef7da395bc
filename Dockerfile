# One image for the three services; SERVICE picks which one a container runs.
# TypeScript runs through tsx, exactly as `make up` runs it locally.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY order-service/package.json order-service/
COPY inventory-service/package.json inventory-service/
COPY dispatcher-service/package.json dispatcher-service/
RUN npm ci --no-audit --no-fund --include=dev && apt-get update && apt-get install -y --no-install-recommends curl \
  && rm -rf /var/lib/apt/lists/*
COPY tsconfig.base.json ./
COPY common common
COPY order-service order-service
COPY inventory-service inventory-service
COPY dispatcher-service dispatcher-service
COPY migrations migrations
COPY scripts scripts
ARG SERVICE=order-service
ENV SERVICE=${SERVICE}
USER node
CMD ["sh", "-c", "exec node --import tsx ${SERVICE}/src/main.ts"]
