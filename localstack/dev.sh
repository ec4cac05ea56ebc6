#!/usr/bin/env bash
# `make dev`: the whole system on the local emulator, in the foreground. Ctrl-C stops everything
# this script started (by pid), the emulator included.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export HTTP_PORT="${HTTP_PORT:-4444}" BANK_PORT="${BANK_PORT:-4445}"
export BANK_URL="${BANK_URL:-http://127.0.0.1:$BANK_PORT}"
export RUST_LOG="${RUST_LOG:-info}"
logs="$root/.emulator/dev-logs"
mkdir -p "$logs"

echo "dev: building the binaries (first time: a few minutes)" >&2
cargo build --bins --locked

if [ "${EMULATOR:-ministack}" = localstack ]; then
  export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}"
  localstack/emulator.sh wait >/dev/null
else
  export EMULATOR_PORT="${EMULATOR_PORT:-4566}"
  AWS_ENDPOINT_URL="$(localstack/emulator.sh start)"
  export AWS_ENDPOINT_URL
fi

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo "dev: stopping" >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ "${EMULATOR:-ministack}" = localstack ] || localstack/emulator.sh stop >/dev/null 2>&1 || true
}
trap stop_all INT TERM EXIT

start() { # name, then the command; output to the terminal and to .emulator/dev-logs/<name>.log
  local name="$1"
  shift
  "$@" > >(tee "$logs/$name.log" | sed -u "s/^/[$name] /") 2>&1 &
  pids+=("$!")
}

wait_http() { # url, what
  local deadline=$((SECONDS + 60))
  until curl -sf "$1" >/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "dev: $2 did not come up; see $logs" >&2; exit 1; }
    sleep 0.2
  done
}

start bank-simulator target/debug/bank-simulator
SETUP=true start api target/debug/api
wait_http "http://127.0.0.1:$HTTP_PORT/status" api
start payment-worker target/debug/payment-worker
start refund-worker target/debug/refund-worker
wait_http "http://127.0.0.1:$BANK_PORT/status" bank-simulator

cat >&2 <<MSG

dev: up. API http://localhost:$HTTP_PORT  bank http://127.0.0.1:$BANK_PORT  emulator $AWS_ENDPOINT_URL
dev: try   TOKEN=\$(curl -s localhost:$HTTP_PORT/token | jq -r .AuthenticationToken)
dev: logs  $logs   (Ctrl-C stops everything)

MSG
# Any component exiting brings the rest down, so a half-running system is never left behind.
wait -n "${pids[@]}" || true
