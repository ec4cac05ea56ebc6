#!/usr/bin/env bash
# Local AWS emulator (DynamoDB + SQS) for development and tests.
#
# Usage: localstack/emulator.sh install|start|stop|status|wait
#
# Environment:
#   EMULATOR            ministack (default) | moto | localstack
#                       localstack = an already-running LocalStack (e.g. Docker):
#                       install/start/stop do nothing, only health-check it.
#   EMULATOR_PORT       port on 127.0.0.1 (default 4566)
#   EMULATOR_STATE      state folder: pid file, log, TMPDIR, STATE_DIR
#                       (default <repo>/.emulator/<port>)
#   EMULATOR_WAIT_SECS  how long `wait`/`start` wait for health (default 60)
#   EMULATOR_SERVICES   the AWS services to emulate (default dynamodb,sqs,dynamodbstreams;
#                       `all` for every one MiniStack has, as `make infra-local` needs)
#   EMULATOR_GC_FREEZE  0: leave the emulator's garbage collector as CPython runs it (default:
#                       freeze the survivors of a slow full collection, python/sitecustomize.py)
#   EMULATOR_PERSIST    1: keep the data in EMULATOR_STATE/state across restarts (saved on
#                       stop, loaded on start; ministack only). Default 0: every start is empty.
#   PYTHON              interpreter used to create the venv (default python3)
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)

EMULATOR=${EMULATOR:-ministack}
EMULATOR_PORT=${EMULATOR_PORT:-4566}
EMULATOR_STATE=${EMULATOR_STATE:-$REPO_ROOT/.emulator/$EMULATOR_PORT}
EMULATOR_WAIT_SECS=${EMULATOR_WAIT_SECS:-60}
EMULATOR_PERSIST=${EMULATOR_PERSIST:-0}
EMULATOR_SERVICES=${EMULATOR_SERVICES:-dynamodb,sqs,dynamodbstreams}
PYTHON=${PYTHON:-python3}

HOST=127.0.0.1
URL="http://$HOST:$EMULATOR_PORT"
PID_FILE="$EMULATOR_STATE/emulator.pid"
KIND_FILE="$EMULATOR_STATE/emulator.kind"
LOG_FILE="$EMULATOR_STATE/emulator.log"
VENV="$REPO_ROOT/.tools/venv-$EMULATOR"
REQUIREMENTS="$SCRIPT_DIR/requirements-$EMULATOR.txt"
STAMP="$VENV/.emulator-requirements"
# The emulator's start-up hook (python/sitecustomize.py: once its garbage collector's full
# passes grow slow, they walk only what came since; slow ones are logged).
PYHOOKS="$SCRIPT_DIR/python${PYTHONPATH:+:$PYTHONPATH}"

log() { printf 'emulator[%s:%s]: %s\n' "$EMULATOR" "$EMULATOR_PORT" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    cat >&2 <<EOF
usage: $0 install|start|stop|status|wait
  EMULATOR=ministack|moto|localstack (now: $EMULATOR)
  EMULATOR_PORT=$EMULATOR_PORT EMULATOR_STATE=$EMULATOR_STATE EMULATOR_WAIT_SECS=$EMULATOR_WAIT_SECS
EOF
    exit 2
}

case "$EMULATOR" in
    ministack) HEALTH_URL="$URL/_ministack/health"; PROGRAM="$VENV/bin/ministack" ;;
    moto) HEALTH_URL="$URL/moto-api/"; PROGRAM="$VENV/bin/moto_server" ;;
    localstack) HEALTH_URL="$URL/_localstack/health"; PROGRAM="" ;;
    *) die "EMULATOR must be ministack, moto or localstack, not '$EMULATOR'" ;;
esac
[[ "$EMULATOR_PORT" =~ ^[0-9]+$ ]] || die "EMULATOR_PORT must be a number, not '$EMULATOR_PORT'"
[[ "$EMULATOR_WAIT_SECS" =~ ^[0-9]+$ ]] || die "EMULATOR_WAIT_SECS must be whole seconds"

healthy() { curl -fsS -o /dev/null --max-time 2 "$HEALTH_URL" 2>/dev/null; }

# Something (anything) accepts TCP connections on the port.
port_in_use() { (exec 3<>"/dev/tcp/$HOST/$EMULATOR_PORT") 2>/dev/null; }

# Prints the pid from the pid file if that process is alive and is still the
# emulator we started (guards against pid reuse); else prints nothing.
running_pid() {
    [[ -f "$PID_FILE" ]] || return 0
    local pid info
    pid=$(<"$PID_FILE")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    # "STAT ARGS"; a zombie (Z) that nobody has reaped yet counts as gone.
    info=$(ps -o stat= -o args= -p "$pid" 2>/dev/null || true)
    case "$info" in
        Z*) ;;
        *ministack* | *moto_server*) printf '%s\n' "$pid" ;;
    esac
}

# Process exists and is not a zombie.
alive() {
    local stat
    stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ -n "$stat" && "$stat" != Z* ]]
}

log_tail() {
    if [[ -f "$LOG_FILE" ]]; then
        log "last lines of $LOG_FILE:"
        tail -n 40 "$LOG_FILE" >&2
    fi
}

cmd_install() {
    if [[ "$EMULATOR" == localstack ]]; then
        log "EMULATOR=localstack: nothing to install (expects a LocalStack already running on $URL)"
        return 0
    fi
    [[ -f "$REQUIREMENTS" ]] || die "missing $REQUIREMENTS"
    if [[ -x "$VENV/bin/python" && -x "$PROGRAM" && -f "$STAMP" ]] \
        && cmp -s "$REQUIREMENTS" "$STAMP" \
        && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        log "already installed: $(grep -m1 -E '^(ministack|moto)' "$REQUIREMENTS") in $VENV"
        return 0
    fi
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=...)"
    "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
        || die "$EMULATOR needs Python >= 3.10; $PYTHON is $("$PYTHON" -V 2>&1)"
    if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        log "creating venv $VENV with $("$PYTHON" -V 2>&1)"
        rm -rf -- "$VENV"
        mkdir -p -- "$(dirname -- "$VENV")"
        "$PYTHON" -m venv "$VENV"
    fi
    log "installing pinned packages from ${REQUIREMENTS#"$REPO_ROOT"/} into $VENV"
    rm -f -- "$STAMP"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$REQUIREMENTS"
    [[ -x "$PROGRAM" ]] || die "install finished but $PROGRAM is missing"
    cp -- "$REQUIREMENTS" "$STAMP"
    log "installed: $("$VENV/bin/python" -m pip list --disable-pip-version-check 2>/dev/null \
        | grep -iE '^(ministack|moto|flask|flask-cors) ' | tr -s ' ' | paste -sd, -)"
}

cmd_wait() {
    local deadline pid
    deadline=$((SECONDS + EMULATOR_WAIT_SECS))
    log "waiting up to ${EMULATOR_WAIT_SECS}s for $HEALTH_URL"
    while ! healthy; do
        if [[ "$EMULATOR" != localstack && -f "$PID_FILE" ]]; then
            # Only whether it lives: while it starts, its command line can read empty for a
            # moment (it renames its process title), which `running_pid` would take for gone.
            pid=$(<"$PID_FILE")
            if ! alive "$pid"; then
                log_tail
                die "emulator process $pid died before becoming healthy"
            fi
        fi
        if ((SECONDS >= deadline)); then
            log_tail
            die "not healthy at $HEALTH_URL after ${EMULATOR_WAIT_SECS}s"
        fi
        sleep 0.2
    done
    log "healthy: $URL"
}

cmd_start() {
    local pid
    if [[ "$EMULATOR" == localstack ]]; then
        log "EMULATOR=localstack: not starting anything, checking the running LocalStack"
        cmd_wait
        printf '%s\n' "$URL"
        return 0
    fi
    pid=$(running_pid)
    if [[ -n "$pid" ]]; then
        local kind
        kind=$(cat "$KIND_FILE" 2>/dev/null || echo unknown)
        [[ "$kind" == "$EMULATOR" ]] \
            || die "a $kind emulator (pid $pid) already runs on port $EMULATOR_PORT; stop it first"
        log "already running (pid $pid)"
        cmd_wait
        printf '%s\n' "$URL"
        return 0
    fi
    rm -f -- "$PID_FILE" "$KIND_FILE"
    if port_in_use; then
        die "port $EMULATOR_PORT on $HOST is already in use by a process this script did not start"
    fi
    cmd_install
    mkdir -p -- "$EMULATOR_STATE/tmp" "$EMULATOR_STATE/state"
    : >"$LOG_FILE"

    local -a cmd launcher=()
    if [[ "$EMULATOR" == ministack ]]; then
        local services=("SERVICES=$EMULATOR_SERVICES")
        [[ "$EMULATOR_SERVICES" != all ]] || services=(-u SERVICES)
        cmd=(env "${services[@]}" BIND_HOST="$HOST" GATEWAY_PORT="$EMULATOR_PORT"
            PERSIST_STATE="$EMULATOR_PERSIST" PYTHONPATH="$PYHOOKS"
            TMPDIR="$EMULATOR_STATE/tmp" STATE_DIR="$EMULATOR_STATE/state"
            S3_DATA_DIR="$EMULATOR_STATE/state/s3" "$PROGRAM")
    else
        cmd=(env PYTHONPATH="$PYHOOKS" TMPDIR="$EMULATOR_STATE/tmp" "$PROGRAM" -H "$HOST" -p "$EMULATOR_PORT")
    fi
    # setsid: own session, so the caller's Ctrl-C / terminal hang-up does not
    # reach it. A background job of a non-interactive shell is not a process
    # group leader, so setsid does not fork and $! stays the emulator's pid.
    if command -v setsid >/dev/null; then launcher=(setsid); fi
    log "starting: ${cmd[*]}"
    nohup "${launcher[@]}" "${cmd[@]}" >>"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$PID_FILE"
    printf '%s\n' "$EMULATOR" >"$KIND_FILE"
    log "pid $pid, log $LOG_FILE"
    cmd_wait
    printf '%s\n' "$URL"
}

cmd_stop() {
    local pid deadline target
    if [[ "$EMULATOR" == localstack ]]; then
        log "EMULATOR=localstack: not stopping an emulator this script did not start"
        return 0
    fi
    pid=$(running_pid)
    if [[ -z "$pid" ]]; then
        log "not running"
        rm -f -- "$PID_FILE" "$KIND_FILE"
        return 0
    fi
    # If it leads its own process group (setsid), signal the whole group.
    target="$pid"
    if [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$pid" ]]; then target="-$pid"; fi
    log "stopping pid $pid (TERM)"
    kill -TERM -- "$target" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while alive "$pid"; do
        if ((SECONDS >= deadline)); then
            log "still alive after 10s, sending KILL"
            kill -KILL -- "$target" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    deadline=$((SECONDS + 5))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if alive "$pid"; then die "pid $pid would not die"; fi
    rm -f -- "$PID_FILE" "$KIND_FILE"
    log "stopped"
}

cmd_status() {
    local pid=""
    [[ "$EMULATOR" == localstack ]] || pid=$(running_pid)
    if healthy; then
        if [[ -n "$pid" ]]; then
            echo "$(cat "$KIND_FILE" 2>/dev/null || echo "$EMULATOR") running, pid $pid, $URL"
        else
            echo "$EMULATOR healthy at $URL (not started by this script)"
        fi
        return 0
    fi
    if [[ -n "$pid" ]]; then
        echo "$EMULATOR pid $pid alive but not healthy at $HEALTH_URL"
    else
        echo "$EMULATOR not running on $URL"
    fi
    return 1
}

[[ $# -eq 1 ]] || usage
case "$1" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    wait) cmd_wait ;;
    -h | --help | help) usage ;;
    *) usage ;;
esac
