# syntax=docker/dockerfile:1
# Build: docker build -t lagwatch .
# Run:   docker run -p 9358:9358 -v $PWD/lagwatch.yaml:/etc/lagwatch/lagwatch.yaml:ro lagwatch

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev zlib1g-dev make g++ perl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so source edits do not rebuild librdkafka.
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
RUN mkdir src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
 && cargo build --release --locked || true
COPY . .
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin lagwatch \
 && strip target/release/lagwatch

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/lagwatch --create-home lagwatch \
 && mkdir -p /etc/lagwatch
COPY --from=build /src/target/release/lagwatch /usr/local/bin/lagwatch
COPY examples/lagwatch.yaml /etc/lagwatch/lagwatch.example.yaml
USER lagwatch
WORKDIR /var/lib/lagwatch
EXPOSE 9358
ENV LAGWATCH_CONFIG=/etc/lagwatch/lagwatch.yaml
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/lagwatch", "healthcheck", "--url", "http://127.0.0.1:9358/healthz"]
ENTRYPOINT ["/usr/local/bin/lagwatch"]
CMD ["run", "--config", "/etc/lagwatch/lagwatch.yaml"]
