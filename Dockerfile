# gatehouse container image.
#
#   docker build -t gatehouse .
#   docker run --rm -v gatehouse-data:/var/lib/gatehouse -e JWT_SECRET=... gatehouse migrate up   # init step
#   docker run -d -p 8000:8000 -v gatehouse-data:/var/lib/gatehouse -e JWT_SECRET=... gatehouse
#
# Two stages: a Rust toolchain builds the service alone (the workspace's default member),
# then only the binary goes into a distroless base: glibc and libgcc, no shell, no package
# manager, running as uid/gid 65532 ("nonroot"). The HEALTHCHECK is exec-form and probes
# GET /health with the binary itself (`gatehouse healthcheck`), since there is no curl.
#
# The images are build arguments so that a registry mirror, a pinned digest or (in
# .ci/deploy, which cannot reach a container registry) locally built stand-ins can be
# used without editing this file. The builder's Debian release must match the runtime's
# (bookworm / debian12): the binary links against the builder's glibc.
# Needs BuildKit (the cache mounts): Docker 23+ by default, or DOCKER_BUILDKIT=1.
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# The registry and target caches survive between builds on one builder; the binary is
# copied out of the cache mount in the same step.
RUN --mount=type=cache,id=gatehouse-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=gatehouse-target,target=/src/target \
    cargo build --release --locked -p adapters --bin gatehouse \
 && install -D -m 0755 target/release/gatehouse /out/usr/local/bin/gatehouse \
 && install -d -m 0750 /out/var/lib/gatehouse

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/usr/local/bin/gatehouse /usr/local/bin/gatehouse
# The state directory: the SQLite file when DATABASE_URL is not PostgreSQL (and the
# development-only generated secret). Owned by the runtime user; mount a volume here.
COPY --from=build --chown=65532:65532 /out/var/lib/gatehouse /var/lib/gatehouse
WORKDIR /var/lib/gatehouse
# Production by default: start-up refuses a missing or short JWT_SECRET and weak Argon2
# parameters. Listen on every interface of the container; logs as JSON lines on stdout.
ENV ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATABASE_URL=sqlite:///var/lib/gatehouse/gatehouse.db \
    JWT_SECRET_FILE=/var/lib/gatehouse/jwt-secret \
    LOG_FORMAT=json
USER 65532:65532
VOLUME ["/var/lib/gatehouse"]
EXPOSE 8000
STOPSIGNAL SIGTERM
# `gatehouse healthcheck` GETs http://127.0.0.1:$PORT/health and exits 0 on 200, 1 otherwise.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/gatehouse", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
