# The dromos controller image. Never built in this repository's development environment (no
# container engine there); see charts/dromos/README.md.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p dromos && cp target/release/dromos /dromos

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /dromos /usr/local/bin/dromos
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/dromos"]
CMD ["controller"]
