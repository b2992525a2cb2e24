# Dockerfile — the popebot-node image: one binary, coordinator or worker.
#
# Two stages, both debian:bookworm-slim. The build stage installs its tools
# with scripts/bootstrap, the very script `make test` and CI run (`--build`:
# only the compiler and -dev packages, no browser, fuzzer or test tools),
# and builds with the same cmake configuration (RelWithDebInfo) less the
# tests (POPEBOT_TESTS=OFF). The runtime stage gets only the shared
# libraries (`scripts/bootstrap --runtime`, which also brings lmdb-utils for
# backups with mdb_copy and tzdata for cron triggers' time zones), the
# binary, and the two small OpenSSL compatibility libraries civetweb needs
# for HTTPS; web/tls.c finds them in ../lib/popebot beside the binary. It runs as the unprivileged user
# popebot (uid 10001), keeps its state in the /data volume and defaults to
# a coordinator listening on all interfaces. /join (empty, the user's) is
# where examples/docker-compose.yml hands a join token to its workers.
#
#   docker build -t popebot-node .
#   docker run -d -v popebot-data:/data -p 5555:5555 -p 8080:8080 popebot-node
#   docker run -d --init --no-healthcheck -e POPEBOT_JOIN=pbj1_... popebot-node --role=worker --roles=echo
#
# See docs/OPERATIONS.md ("Containers") and examples/docker-compose.yml.

FROM debian:bookworm-slim AS build
WORKDIR /src
# bootstrap alone first, so the package layer is rebuilt only when it changes
COPY scripts/bootstrap scripts/bootstrap
RUN scripts/bootstrap --build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOPEBOT_TESTS=OFF \
 && cmake --build build -j"$(nproc)" --target popebot-node

FROM debian:bookworm-slim AS runtime
COPY scripts/bootstrap /tmp/bootstrap
RUN /tmp/bootstrap --runtime && rm -rf /var/lib/apt/lists/* /tmp/bootstrap \
 && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin popebot \
 && install -d -o popebot -g popebot -m 0700 /data /join
COPY --from=build /src/build/popebot-node /usr/local/bin/popebot-node
COPY --from=build /src/build/libpopebot-libssl.so /src/build/libpopebot-libcrypto.so /usr/local/lib/popebot/
# flags as environment (the command line wins): listen on every interface
# of the container, state and workers' job dirs in the volume
ENV POPEBOT_DATA_DIR=/data \
    POPEBOT_BIND=tcp://0.0.0.0:5555 \
    POPEBOT_HTTP=0.0.0.0:8080 \
    POPEBOT_WORK_DIR=/data/work
USER popebot
WORKDIR /data
VOLUME /data
EXPOSE 5555 8080
# The coordinator's GET /readyz on its HTTP port (from POPEBOT_HTTP), with
# bash alone (no curl in the image): healthy while the mesh loop answers and
# the store takes jobs (/healthz would only say HTTP is served). Plain HTTP
# only: with --tls-cert, or on a worker (which serves no HTTP), override or
# disable it (examples/docker-compose.yml does for its workers).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "hp=${POPEBOT_HTTP:-127.0.0.1:8080}; exec 3<>\"/dev/tcp/127.0.0.1/${hp##*:}\" && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["popebot-node"]
CMD ["--role=coordinator"]
