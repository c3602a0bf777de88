# syntax=docker/dockerfile:1
# srs in a container: `docker build -t srs .` then see deploy/compose/.
# The runtime image runs as an unprivileged user, keeps its data in the
# /var/lib/srs volume and writes nothing else, so it runs with a read-only
# root filesystem (`--read-only --tmpfs /tmp`).

FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p srs \
    && strip target/release/srs

FROM debian:bookworm-slim
# mariadb-client: mariadb-dump/mariadb-binlog for backups and the binlog
# archive; curl: the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl mariadb-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 srs \
    && useradd --system --uid 10001 --gid srs --home-dir /var/lib/srs --shell /usr/sbin/nologin srs \
    && install -d -o srs -g srs -m 0750 /var/lib/srs
COPY --from=build /src/target/release/srs /usr/bin/srs
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
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/srs"]
CMD ["serve"]
