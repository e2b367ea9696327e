# syntax=docker/dockerfile:1
# etcd-xds: `docker build -t etcd-xds:0.1.0 .`
# Three stages: compile (with dev dependencies), production dependencies only, and a distroless
# runtime (no shell, no package manager) that runs as the non-root user 65532.
ARG NODE_IMAGE=node:20-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/generate-types.ts scripts/build-ui.ts scripts/
COPY protos protos
COPY src src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${RUNTIME_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=build /src/dist dist
COPY protos protos
COPY package.json ./
USER 65532:65532
# xDS (gRPC) and admin (HTTP); the admin port binds 127.0.0.1 unless --admin-host says otherwise.
EXPOSE 18000 18001
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/cli/main.js"]
CMD ["serve", "--host=0.0.0.0"]
