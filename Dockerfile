# syntax=docker/dockerfile:1
# Multi-stage build: compile with the Rust toolchain, run the one binary on distroless as a
# non-root user.
#
# Runtime base: gcr.io/distroless/cc-debian12:nonroot: glibc, libgcc_s, ca-certificates, tzdata,
# /etc/passwd with nonroot (uid/gid 65532), and no shell or package manager. The binary needs
# nothing more: TLS is rustls on aws-lc (static), SQLite is bundled (static), mimalloc is static;
# Cargo.lock has no openssl-sys or native-tls, so there is no libssl to provide.
# Size, estimated (no Docker engine where it was written): the base is ~20-25 MB, plus the
# stripped release binary (`strip = true` in Cargo.toml), 21.7 MB measured: ~45 MB in all.
#
# The build stage copies exactly what `cargo build` reads: Cargo.toml, Cargo.lock, build.rs,
# src/, migrations/ (embedded by `sqlx::migrate!`) and templates/ (compiled by askama).
# scripts/check-docker-context.sh builds from only the paths these COPY lines name, so a
# missing one fails in CI, where there is no Docker engine to build the image.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The runtime image has no shell to create its data directory: make it here (mode 0700, like
# the directory ovlt creates itself); the COPY into the runtime stage gives it to uid 65532.
RUN mkdir -m 0700 /data
# Dependencies first, so source edits do not rebuild them. The stand-in src/ and migrations/
# are removed afterwards: a COPY missing below then fails the build instead of compiling the
# stand-ins (an empty migrations directory would embed no migrations at all).
COPY Cargo.toml Cargo.lock build.rs ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && mkdir -p migrations/sqlite migrations/postgres \
    && cargo build --release --locked \
    && rm -rf src migrations
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
# touch: the copied files keep their own modification times, which may be older than the
# stand-in build; cargo must see the crate as changed.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/ovlt /usr/local/bin/ovlt
# A new named or anonymous volume at /data starts as a copy of this directory, owner included;
# a bind-mounted host directory must itself be writable by uid 65532.
COPY --from=build --chown=65532:65532 /data /data
USER 65532:65532
WORKDIR /data
ENV OVLT_HOST=0.0.0.0 \
    OVLT_PORT=3000 \
    OVLT_DATA_DIR=/data \
    OVLT_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 3000
# No curl here: the binary asks its own /health (3 s timeout; exit 0 on 200, 1 otherwise).
# /health says the process serves; it does not touch the database (that is /ready), so a
# database outage does not mark every instance unhealthy.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/ovlt", "health"]
ENTRYPOINT ["/usr/local/bin/ovlt"]
CMD ["serve"]
