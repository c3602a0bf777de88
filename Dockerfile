# syntax=docker/dockerfile:1
# srs in a container: `docker build -t srs .` then see deploy/compose/.
# The runtime image runs as an unprivileged user, keeps its data in the
# /var/lib/srs volume and writes nothing else, so it runs with a read-only
# root filesystem (`--read-only --tmpfs /tmp`).
#
# Build arguments (the defaults need Docker Hub):
#   SRS_BINARY=source    build srs from this tree in RUST_IMAGE (default)
#   SRS_BINARY=prebuilt  take a stripped srs from the build context at
#                        target/image/srs instead (.dockerignore lets only
#                        that file of target/ through); no Rust toolchain
#                        is pulled or run. scripts/check-image does this.
#   BASE_IMAGE           the runtime base, a Debian 12 image
#                        (default debian:bookworm-slim; scripts/check-image
#                        passes one it makes with mmdebstrap)
#   RUST_IMAGE           the builder (default rust:1.95-bookworm)
# Only the stages the final image needs are built (BuildKit, Buildah), so
# a prebuilt build never pulls RUST_IMAGE. Podman/Buildah need
# `--format docker` to keep the HEALTHCHECK (OCI images have none).
ARG RUST_IMAGE=rust:1.95-bookworm
ARG BASE_IMAGE=debian:bookworm-slim
ARG SRS_BINARY=source

FROM ${RUST_IMAGE} AS binary-source
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p srs \
    && mkdir /out && strip -o /out/srs target/release/srs

FROM scratch AS binary-prebuilt
# Cargo.toml only so that this COPY never copies nothing: a builder that
# runs every stage (Docker's legacy one) gets through a source build
# without target/image/srs.
COPY Cargo.toml target/image/sr[s] /out/

FROM binary-${SRS_BINARY} AS binary

FROM ${BASE_IMAGE}
# mariadb, mariadb-dump and mariadb-binlog: backups, the binlog archive,
# re-seeding a replica; nothing else. mariadb-client would add perl and
# some 60 MB of tools srs never runs, so its two programs are taken from
# its package (the same version as mariadb-client-core, whose libraries
# they use), and mariadb-client-core's own extras are left out. No curl:
# the health check is `srs healthcheck`. No CA certificates: srs opens no
# TLS connection of its own.
RUN apt-get update \
    && apt-get install -y --no-install-recommends mariadb-client-core \
    && cd /tmp \
    && apt-get download "mariadb-client=$(dpkg-query -W -f='${Version}' mariadb-client-core)" \
    && dpkg-deb --fsys-tarfile mariadb-client_*.deb \
       | tar -x -C / ./usr/bin/mariadb-dump ./usr/bin/mariadb-binlog \
    && rm -f mariadb-client_*.deb /usr/bin/mariadb-check /usr/bin/my_print_defaults \
    && mariadb --version && mariadb-dump --version && mariadb-binlog --version \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/lib/dpkg/*-old \
    && groupadd --system --gid 10001 srs \
    && useradd --system --uid 10001 --gid srs --home-dir /var/lib/srs --shell /usr/sbin/nologin srs \
    && install -d -o srs -g srs -m 0750 /var/lib/srs
COPY --from=binary /out/srs /usr/bin/srs
# A prebuilt binary must run on this base (Debian 12's glibc): fail the
# build, not the first start.
RUN ["/usr/bin/srs", "--version"]
COPY deploy/debian/srs.toml /etc/srs/srs.toml
USER srs:srs
WORKDIR /var/lib/srs
VOLUME ["/var/lib/srs"]
# Listen on every interface inside the container; the rest comes from
# /etc/srs/srs.toml and SRS_* variables (e.g. SRS_DATABASE_URL).
ENV SRS_LISTEN=0.0.0.0:8080 \
    SRS_CONFIG=/etc/srs/srs.toml \
    SRS_LOG_FORMAT=json \
    MALLOC_ARENA_MAX=2
EXPOSE 8080
# Asks /readyz on SRS_LISTEN's port; `--url` for a controller or an edge.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/usr/bin/srs", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/srs"]
CMD ["serve"]
