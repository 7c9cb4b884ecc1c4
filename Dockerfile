# omnigate built from source in a container (README.md, "Containers").
# Stage 1 builds on Debian 12 with the libraries' -dev packages; stage 2 is
# the daemon, its connectors and the runtime libraries only, run as user
# omnigate with /etc/omnigate/omnigate.json = config/omnigate.container.json
# (Redis at redis://redis:6379, as compose.yaml names it). Mount your own
# config over that file.
FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake pkg-config gcc libc6-dev make \
      libcurl4-gnutls-dev libmicrohttpd-dev libssl-dev libjson-c-dev libhiredis-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
      -DOG_BUILD_TESTS=OFF -DOG_BUILD_BENCH=OFF \
 && cmake --build /build -j"$(nproc)" \
 && DESTDIR=/out cmake --install /build --strip

FROM debian:12-slim
# What the .deb's dpkg-shlibdeps finds the daemon and connectors link, and
# the CA certificates for the platforms' HTTPS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libcurl3-gnutls \
      libmicrohttpd12 libssl3 libjson-c5 libhiredis0.14 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --no-create-home --home-dir /var/lib/omnigate \
      --shell /usr/sbin/nologin omnigate \
 && install -d -o omnigate -g omnigate -m 0750 /var/lib/omnigate
COPY --from=build /out/usr/ /usr/
COPY --from=build /out/usr/share/omnigate/omnigate.container.json /etc/omnigate/omnigate.json
USER omnigate
WORKDIR /var/lib/omnigate
EXPOSE 8080
ENTRYPOINT ["/usr/bin/omnigate"]
CMD ["--config", "/etc/omnigate/omnigate.json"]
