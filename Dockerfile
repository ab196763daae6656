# onshi as a container image: `docker compose up` (docker-compose.yml) runs one container per service.
#
# Stage 1 builds the dependencies alone from the manifests (a layer cached until Cargo.toml/Cargo.lock change),
# then the workspace; stage 2 is a small runtime image running as a non-root user.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY wire/Cargo.toml wire/
COPY platform/Cargo.toml platform/
COPY services/insurer/Cargo.toml services/insurer/
COPY services/eligibility/Cargo.toml services/eligibility/
COPY services/portal/Cargo.toml services/portal/
COPY services/consent/Cargo.toml services/consent/
COPY services/medication/Cargo.toml services/medication/
COPY services/reader/Cargo.toml services/reader/
COPY services/checkup/Cargo.toml services/checkup/
COPY seed/Cargo.toml seed/
COPY cli/Cargo.toml cli/
COPY benches/Cargo.toml benches/
COPY load-tests/Cargo.toml load-tests/
# Stub targets: enough for cargo to resolve and build every dependency of the onshi binary.
RUN for d in wire platform services/insurer services/eligibility services/portal services/consent \
        services/medication services/reader services/checkup seed cli benches load-tests; do \
      mkdir -p $d/src && echo "" > $d/src/lib.rs; \
    done \
 && echo "fn main() {}" > cli/src/main.rs \
 && echo "fn main() {}" > load-tests/src/main.rs \
 && mkdir -p load-tests/src/bin benches/benches \
 && echo "fn main() {}" > load-tests/src/bin/hello.rs \
 && for b in siquc01 seed_load reader_flow extraction checkup bulk; do echo "fn main() {}" > benches/benches/$b.rs; done \
 && cargo build --release -p onshi \
 && rm -rf target/release/.fingerprint/onshi*
COPY . .
# The sources copied keep their own times: make sure cargo sees them as newer than the stubs.
RUN find wire platform services seed cli -name '*.rs' -exec touch {} + \
 && cargo build --release -p onshi \
 && cp target/release/onshi /usr/local/bin/onshi

FROM debian:bookworm-slim
RUN useradd --system --create-home --uid 10001 onshi \
 && mkdir -p /var/lib/onshi /opt/onshi \
 && chown onshi: /var/lib/onshi
COPY --from=build /usr/local/bin/onshi /usr/local/bin/onshi
# The demo's ready requests, claim file and checkup archive, for the README's tour from inside a container.
COPY seed/demo /opt/onshi/seed/demo
USER onshi
WORKDIR /opt/onshi
ENV ONSHI_HOME=/var/lib/onshi ONSHI_LOG=info
VOLUME /var/lib/onshi
EXPOSE 8080 8443
HEALTHCHECK --interval=5s --timeout=3s --retries=30 CMD ["onshi", "probe", "127.0.0.1:8080"]
ENTRYPOINT ["onshi"]
CMD ["serve", "eligibility", "--bind", "0.0.0.0:8080", "--tls-bind", "0.0.0.0:8443"]
