# syntax=docker/dockerfile:1
# The services' image: api, payment-worker, refund-worker, webhook-worker, dashboard, and nothing
# else (the bank simulator is a test tool: it has a target of its own, `bank-simulator`, for docker
# compose).
# The command picks which service runs (`docker run IMAGE payment-worker`; ECS `command`,
# compose `command:`); without one it runs the api.
#
# No key or secret is in the image, nor in any ENV here: each service gets only its own at run
# time (ECS injects them from Secrets Manager, infra/terraform/ecs.tf): the api
# CARD_ENCRYPTION_KEY, WEBHOOK_SECRET_KEY, IDEMPOTENCY_FINGERPRINT_KEY (and JWT_SECRET_KEY without
# Cognito); the payment-worker CARD_ENCRYPTION_KEY; the webhook-worker WEBHOOK_SECRET_KEY; the
# dashboard DASHBOARD_SESSION_KEY; the refund-worker none. Tag each build immutably (a version or
# commit id, never `latest`): the Terraform refuses `latest` and its ECR repository will not
# overwrite a tag.
#
#   docker build -t payment-platform .
#   docker run --rm payment-platform api --help
#   docker run --rm payment-platform dashboard --help
#   docker build --target bank-simulator -t payment-platform-bank .

# --- build --------------------------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when Cargo.toml or Cargo.lock
# change. Every target path named in Cargo.toml gets a stub so the manifest resolves.
COPY Cargo.toml Cargo.lock ./
RUN set -eu; \
    for path in $(sed -n 's/^path = "\(.*\)"$/\1/p' Cargo.toml); do \
        mkdir -p "$(dirname "$path")"; echo 'fn main() {}' > "$path"; \
    done; \
    cargo build --release --locked --bins; \
    rm -rf src bin tests

# Then the sources. Copied files keep their (older) timestamps, so touch them: cargo must see
# them as newer than the stubs it just built.
COPY src ./src
COPY bin ./bin
COPY tests ./tests
RUN find src bin tests -name '*.rs' -exec touch {} + \
    && cargo build --release --locked --bins

# --- runtime base -------------------------------------------------------------------------------
FROM debian:bookworm-slim AS base

# CA roots for TLS to AWS and the bank; curl for the container health checks (GET /status).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app

# In a container every listener must bind all interfaces (the binaries default to loopback),
# and logs go out as one JSON object per line.
ENV LOG_FORMAT=json \
    RUST_LOG=info
USER 10001:10001
STOPSIGNAL SIGTERM

# --- the bank simulator (a test tool, never in the services' image) ------------------------------
FROM base AS bank-simulator
COPY --from=build /src/target/release/bank-simulator /usr/local/bin/
ENV BANK_HOST=0.0.0.0
EXPOSE 4445
ENTRYPOINT ["bank-simulator"]

# --- the services (the default target: last) ------------------------------------------------------
FROM base AS services
COPY --from=build /src/target/release/api /src/target/release/payment-worker \
    /src/target/release/refund-worker /src/target/release/webhook-worker \
    /src/target/release/dashboard /usr/local/bin/
ENV HTTP_HOST=0.0.0.0 \
    ADMIN_HOST=0.0.0.0 \
    WORKER_HTTP_HOST=0.0.0.0 \
    DASHBOARD_HOST=0.0.0.0
# api, api admin (metrics), payment-worker, refund-worker, webhook-worker (WORKER_HTTP_PORT
# defaults), dashboard
EXPOSE 4444 4448 4446 4447 4449 4490
CMD ["api"]
