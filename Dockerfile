# kinesin in a container: a static (musl) binary on Alpine, run as a non-root user, data in a
# volume, health from the admin port. See docs/docker.md.
#
#   docker build -t kinesin .
#   docker run -p 4567:4567 -p 4568:4568 -v kinesin-data:/data kinesin

FROM rust:1-alpine AS build
# musl-dev for the C parts of ring; git so that `kinesin --version` names the commit.
RUN apk add --no-cache musl-dev git
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin kinesin && strip target/release/kinesin

FROM alpine:3
RUN addgroup -S kinesin && adduser -S -G kinesin -h /data kinesin \
    && mkdir -p /data && chown kinesin:kinesin /data && chmod 0700 /data
COPY --from=build /src/target/release/kinesin /usr/local/bin/kinesin
USER kinesin
VOLUME /data
# Every flag of `kinesin serve` is also an environment variable (README, "kinesin serve flags").
ENV KINESIN_HOST=0.0.0.0 \
    KINESIN_DATA_DIR=/data \
    KINESIN_ADMIN_HOST=0.0.0.0
EXPOSE 4567 4568
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 \
    CMD wget -q -O /dev/null http://127.0.0.1:4568/ready || exit 1
# SIGTERM (docker stop) finishes in-flight requests and leaves a clean-stop mark.
STOPSIGNAL SIGTERM
ENTRYPOINT ["kinesin"]
CMD ["serve"]
