# One image for Beacon's three programs: registry_svc, replica_svc, client_app.
#
#   docker build -t beacon .            (docker-compose build does the same)
#
# One image rather than three: the programs share one build (the same CMake
# tree, generated Thrift code and core libraries) and the same runtime
# libraries, so one build stage compiles all three at once and the layers are
# stored once; the client in the image is also the replicas' and registry's
# healthcheck probe. Which program a container runs is chosen by its command.
#
# Base: debian:bookworm-slim. Where no image registry is reachable,
# scripts/docker-base builds it locally with debootstrap first.
# Classic builder syntax (no BuildKit features), so docker.io and
# docker-compose 1.29 build it as is.

# --- build stage: the same Debian packages as a developer machine ------------
FROM debian:bookworm-slim AS build
# Marks every layer of ours, so old ones can be pruned by this label alone.
LABEL beacon.stage=build
ARG DEBIAN_FRONTEND=noninteractive
# Kept before any COPY so this layer stays cached across code changes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      cmake g++ ninja-build pkg-config \
      thrift-compiler libthrift-dev \
      libsqlitecpp-dev libsqlite3-dev libpq-dev \
      libboost-program-options-dev libspdlog-dev nlohmann-json3-dev \
      libboost-dev prometheus-cpp-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# .dockerignore keeps build trees, .git, tests and benchmarks out of the context.
COPY . .
ARG BUILD_JOBS=2
RUN cmake -S . -B /build -G Ninja \
      -DCMAKE_BUILD_TYPE=Release \
      -DBEACON_BUILD_TESTS=OFF -DBEACON_BUILD_BENCH=OFF \
 && cmake --build /build --target registry_svc replica_svc client_app -j "${BUILD_JOBS}" \
 && mkdir -p /out/bin /out/lib \
 && for prog in registry_svc replica_svc client_app; do \
      path="$(find /build -type f -name "${prog}" -perm -u+x | head -n 1)"; \
      [ -n "${path}" ] || { echo "build produced no ${prog}" >&2; exit 1; }; \
      install -s "${path}" /out/bin/; \
    done \
 # Debian's libthrift-0.17.0 package also ships the Qt5 binding and so drags in
 # Qt5 and ICU (~60 MB); the programs need only the plain Thrift libraries,
 # which need nothing beyond libssl and libstdc++. Copy just those.
 && ldd /out/bin/* | awk '$1 ~ /^libthrift/ && $3 ~ /^\// { print $3 }' | sort -u \
      | xargs -r cp -L -t /out/lib/

# --- runtime stage: only the shared libraries the programs load --------------
FROM debian:bookworm-slim AS runtime
LABEL beacon.stage=runtime
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libsqlite3-0 libpq5 libboost-program-options1.74.0 libspdlog1.10 libssl3 \
      libprometheus-cpp-core1.0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin beacon \
 # /data holds the SQLite database. A new named volume mounted here starts as
 # a copy of this directory, so it is owned by the non-root user too.
 && install -d -o beacon -g beacon -m 0755 /data

COPY --from=build /out/lib/ /usr/local/lib/
COPY --from=build /out/bin/ /usr/local/bin/
# Fail the build, not the first container start, if a library is missing.
RUN ldconfig \
 && if ldd /usr/local/bin/* | grep 'not found'; then exit 1; fi

USER beacon
WORKDIR /data
ENV BEACON_DB=/data/beacon.db \
    BEACON_LOG_LEVEL=info
CMD ["client_app", "--help"]
