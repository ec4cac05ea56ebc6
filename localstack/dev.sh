#!/usr/bin/env bash
# `make dev`: the whole system on the local emulator, in the foreground.
#
# - Each component runs under a supervisor: one that dies (a crash, `kill -9`) is shown and
#   restarted after a second, so the system can be watched recovering.
# - PAYMENT_WORKERS, REFUND_WORKERS and WEBHOOK_WORKERS (default 1 each) set how many of each
#   worker run, each with its own health/metrics port, all listed at start.
# - A webhook inbox (`webhook-inbox`, INBOX_PORT 4480) registers itself for the development
#   merchant's events and prints each delivery with its signature checked; WEBHOOK_INBOX=0 leaves
#   it out.
# - The emulator keeps its data across `make dev` restarts (saved when it stops, loaded when it
#   starts), and the bank simulator its books (BANK_DB_PATH, default bank/books.db in the state
#   folder, committed before each answer, so a kill -9 loses nothing either); `make dev-reset`
#   wipes both, so `make reconcile` keeps comparing records and books of the same history.
# - Ctrl-C (SIGINT) or SIGTERM stops everything this script started, by pid, emulator included.
#
# - INFRA=terraform: the table and queues come from infra/terraform applied to the emulator
#   (`make infra-local`), as production's definitions are; SETUP then only seeds the merchants.
#
# For tests: DEV_BIN_DIR runs already-built binaries from that folder (no cargo build), and
# DEV_STATE_DIR moves the pid files and logs (default .emulator/dev).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export HTTP_PORT="${HTTP_PORT:-4444}" BANK_PORT="${BANK_PORT:-4445}" ADMIN_PORT="${ADMIN_PORT:-4448}"
export BANK_URL="${BANK_URL:-http://127.0.0.1:$BANK_PORT}"
export RUST_LOG="${RUST_LOG:-info}"
payment_workers="${PAYMENT_WORKERS:-1}" refund_workers="${REFUND_WORKERS:-1}" webhook_workers="${WEBHOOK_WORKERS:-1}"
payment_port="${PAYMENT_WORKER_PORT:-4450}" refund_port="${REFUND_WORKER_PORT:-4460}"
webhook_port="${WEBHOOK_WORKER_PORT:-4470}" inbox_port="${INBOX_PORT:-4480}"
export DASHBOARD_PORT="${DASHBOARD_PORT:-4490}"
for n in "$payment_workers" "$refund_workers" "$webhook_workers"; do
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -le 9 ] || {
    echo "dev: PAYMENT_WORKERS, REFUND_WORKERS and WEBHOOK_WORKERS must be 0 to 9" >&2
    exit 2
  }
done
state="${DEV_STATE_DIR:-$root/.emulator/dev}"
logs="$state/logs" pids="$state/pids"
mkdir -p "$logs" "$pids" "$state/bank"
export BANK_DB_PATH="${BANK_DB_PATH:-$state/bank/books.db}"
rm -f "$pids"/*.pid

if [ -n "${DEV_BIN_DIR:-}" ]; then
  bin="$DEV_BIN_DIR"
else
  echo "dev: building the binaries (first time: a few minutes)" >&2
  cargo build --bins --locked
  bin="$root/target/debug"
fi

managed_emulator=true
# Installed before anything starts, so a Ctrl-C at any point (even mid-apply) stops what began.
# The components run in sessions of their own, so a signal to this script's process group (Ctrl-C,
# a closing terminal, a service manager's SIGTERM) reaches only this script and its supervisors,
# which leave it to stop_all: it stops the components in order, the API first (no new work), then
# the workers (their running jobs finish, the bank and the emulator still up), then the bank and the
# inbox, then the emulator (it saves its data). Were the group signal to reach every process at
# once, the bank would be gone in milliseconds while a worker's running charges retried it for the
# whole SHUTDOWN_GRACE_SECS (20 s), the emulator stopped only after that.
front=() workers=() back=()
stop_supervisors() { # pids: each stops its component (TERM, by pid) and returns
  local pid
  for pid in "$@"; do kill -USR1 "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}
stop_all() {
  trap - INT TERM HUP EXIT
  trap '' INT TERM HUP
  echo "dev: stopping" >&2
  stop_supervisors ${front[@]+"${front[@]}"}
  stop_supervisors ${workers[@]+"${workers[@]}"}
  stop_supervisors ${back[@]+"${back[@]}"}
  if $managed_emulator; then
    localstack/emulator.sh stop >/dev/null 2>&1 || true
    rm -f "$pids/emulator.pid"
  fi
  echo "dev: stopped" >&2
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ "${EMULATOR:-ministack}" = localstack ]; then
  managed_emulator=false
  export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}"
  localstack/emulator.sh wait >/dev/null
else
  export EMULATOR_PORT="${EMULATOR_PORT:-4566}" EMULATOR_PERSIST=1
  export EMULATOR_STATE="${EMULATOR_STATE:-$root/.emulator/$EMULATOR_PORT}"
  [ "${INFRA:-setup}" != terraform ] || export EMULATOR_SERVICES=all
  AWS_ENDPOINT_URL="$(localstack/emulator.sh start)"
  export AWS_ENDPOINT_URL
  cp "$EMULATOR_STATE/emulator.pid" "$pids/emulator.pid"
fi

if [ "${INFRA:-setup}" = terraform ]; then
  echo "dev: applying infra/terraform to the emulator (first time: a couple of minutes)" >&2
  outputs="$(localstack/infra-local.sh apply)"
  name() { python3 -c 'import json,sys; o=json.load(sys.stdin)["'"$1"'"]["value"]; print(o if isinstance(o,str) else o["'"${2:-}"'"].rsplit("/",1)[-1])'; }
  DYNAMODB_TABLE="$(name table_name <<<"$outputs")"
  PAYMENTS_QUEUE="$(name queue_urls payments <<<"$outputs")"
  REFUNDS_QUEUE="$(name queue_urls refunds <<<"$outputs")"
  WEBHOOKS_QUEUE="$(name queue_urls webhooks <<<"$outputs")"
  export DYNAMODB_TABLE PAYMENTS_QUEUE REFUNDS_QUEUE WEBHOOKS_QUEUE
  echo "dev: on Terraform's table $DYNAMODB_TABLE and queues $PAYMENTS_QUEUE, $REFUNDS_QUEUE, $WEBHOOKS_QUEUE" >&2
fi

# supervise NAME COMMAND...: runs COMMAND, restarts it whenever it exits; on USR1 (from stop_all)
# stops it (TERM, by pid) and returns. The group's signals are left to this script's trap: the
# component runs in a session of its own (setsid) and dies with its supervisor (setpriv
# --pdeathsig, so a kill -9 of the whole group leaves none behind). Output goes to the terminal,
# prefixed, and to logs/NAME.log, by a tee and sed that ignore the group's signals and end with it.
own_session=()
if command -v setsid >/dev/null; then own_session=(setsid); fi
if command -v setpriv >/dev/null && setpriv --pdeathsig TERM true 2>/dev/null; then
  own_session+=(setpriv --pdeathsig TERM)
fi
supervise() {
  local name="$1" child="" rc started delay=1
  shift
  trap '' TERM INT HUP
  trap '[ -z "$child" ] || { kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; }; rm -f "$pids/$name.pid"; exit 0' USR1
  while :; do
    started=$SECONDS
    # Not a process group leader (a background job without job control), so setsid does not
    # fork: $! is the component's pid.
    (trap - TERM INT HUP; exec ${own_session[@]+"${own_session[@]}"} "$@") \
      > >(tee -a "$logs/$name.log" | sed -u "s/^/[$name] /") 2>&1 &
    child=$!
    echo "$child" >"$pids/$name.pid"
    rc=0
    wait "$child" || rc=$?
    # A component that keeps dying at once (a port taken, a bad setting) is retried ever more
    # slowly, up to every 30 s; one that ran a while comes back after a second.
    if ((SECONDS - started < 10)); then delay=$((delay * 2 > 30 ? 30 : delay * 2)); else delay=1; fi
    echo "dev: $name (pid $child) exited with status $rc; restarting it in $delay s (log: ${logs#"$root"/}/$name.log)" >&2
    sleep "$delay" &
    wait $! || true
  done
}

start() { # front|workers|back, name, then the command
  local order="$1"
  shift
  supervise "$@" &
  eval "$order+=(\"\$!\")"
}

wait_http() { # url, what
  local deadline=$((SECONDS + 60))
  until curl -sf "$1" >/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "dev: $2 did not come up; see $logs" >&2; exit 1; }
    sleep 0.2
  done
}

listing=("emulator|$AWS_ENDPOINT_URL|")
start back bank-simulator "$bin/bank-simulator"
listing+=("bank-simulator|http://127.0.0.1:$BANK_PORT|$pids/bank-simulator.pid")
start front api env SETUP=true "$bin/api"
listing+=("api|http://localhost:$HTTP_PORT (admin, metrics: http://127.0.0.1:$ADMIN_PORT)|$pids/api.pid")
wait_http "http://127.0.0.1:$HTTP_PORT/status" api
# The dashboard calls only the API; development mode (the emulator) gives it the one-click sign-in.
start front dashboard env DASHBOARD_API_URL="http://127.0.0.1:$HTTP_PORT" \
  DASHBOARD_BASE_URL="http://127.0.0.1:$DASHBOARD_PORT" "$bin/dashboard"
listing+=("dashboard|http://127.0.0.1:$DASHBOARD_PORT (open it: one click signs in as ${MERCHANT_ID:-test@merchant})|$pids/dashboard.pid")
for ((i = 0; i < payment_workers; i++)); do
  start workers "payment-worker-$((i + 1))" env WORKER_HTTP_PORT=$((payment_port + i)) "$bin/payment-worker"
  listing+=("payment-worker-$((i + 1))|http://127.0.0.1:$((payment_port + i))|$pids/payment-worker-$((i + 1)).pid")
done
for ((i = 0; i < refund_workers; i++)); do
  start workers "refund-worker-$((i + 1))" env WORKER_HTTP_PORT=$((refund_port + i)) "$bin/refund-worker"
  listing+=("refund-worker-$((i + 1))|http://127.0.0.1:$((refund_port + i))|$pids/refund-worker-$((i + 1)).pid")
done
for ((i = 0; i < webhook_workers; i++)); do
  start workers "webhook-worker-$((i + 1))" env WORKER_HTTP_PORT=$((webhook_port + i)) "$bin/webhook-worker"
  listing+=("webhook-worker-$((i + 1))|http://127.0.0.1:$((webhook_port + i))|$pids/webhook-worker-$((i + 1)).pid")
done
if [ "${WEBHOOK_INBOX:-1}" != 0 ]; then
  start back webhook-inbox env INBOX_PORT="$inbox_port" API_URL="http://127.0.0.1:$HTTP_PORT" "$bin/webhook-inbox"
  listing+=("webhook-inbox|http://127.0.0.1:$inbox_port (GET: the latest deliveries)|$pids/webhook-inbox.pid")
fi
wait_http "http://127.0.0.1:$BANK_PORT/status" bank-simulator
# "up" means every component answers, workers included.
for ((i = 0; i < payment_workers; i++)); do
  wait_http "http://127.0.0.1:$((payment_port + i))/status" "payment-worker-$((i + 1))"
done
for ((i = 0; i < refund_workers; i++)); do
  wait_http "http://127.0.0.1:$((refund_port + i))/status" "refund-worker-$((i + 1))"
done
for ((i = 0; i < webhook_workers; i++)); do
  wait_http "http://127.0.0.1:$((webhook_port + i))/status" "webhook-worker-$((i + 1))"
done
[ "${WEBHOOK_INBOX:-1}" = 0 ] || wait_http "http://127.0.0.1:$inbox_port/" webhook-inbox
wait_http "http://127.0.0.1:$DASHBOARD_PORT/status" dashboard

{
  echo
  echo "dev: up. Components (status and metrics at each URL; pid files for kill -9 experiments):"
  for row in "${listing[@]}"; do
    IFS='|' read -r name url pidfile <<<"$row"
    printf '  %-18s %-70s %s\n' "$name" "$url" "${pidfile#"$root"/}"
  done
  echo "dev: try   TOKEN=\$(curl -s localhost:$HTTP_PORT/token | jq -r .AuthenticationToken)"
  echo "dev: logs  ${logs#"$root"/}   data and the bank's books (${BANK_DB_PATH#"$root"/}) kept across restarts (make dev-reset wipes them)   Ctrl-C stops everything"
  echo
} >&2

# Watch the emulator too: the others are restarted by their supervisors. If it dies, it is
# started again from its last saved state, and the API restarted so SETUP runs again.
while :; do
  sleep 2 &
  wait $! || true
  # By pid, not by health: a busy emulator is slow, not dead.
  if $managed_emulator && ! kill -0 "$(cat "$pids/emulator.pid")" 2>/dev/null; then
    echo "dev: the emulator died; restarting it (data since its last save is lost)" >&2
    if localstack/emulator.sh start >/dev/null; then
      cp "$EMULATOR_STATE/emulator.pid" "$pids/emulator.pid"
      [ ! -f "$pids/api.pid" ] || kill -TERM "$(cat "$pids/api.pid")" 2>/dev/null || true
    fi
  fi
done
