#!/usr/bin/env bash
# Runs a command against a private emulator on the given port, then stops that emulator by pid,
# whatever the command's outcome. Usage: localstack/with-emulator.sh PORT COMMAND...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="$1"
shift
export EMULATOR_PORT="$port"
"$here/emulator.sh" stop >/dev/null 2>&1 || true
url="$("$here/emulator.sh" start)"
# The emulator's pid and log, for `make bench` to read its CPU per AWS call and its pauses (the
# default state folder).
EMULATOR_PID="$(cat "${EMULATOR_STATE:-$here/../.emulator/$port}/emulator.pid" 2>/dev/null || true)"
EMULATOR_LOG="${EMULATOR_STATE:-$here/../.emulator/$port}/emulator.log"
export EMULATOR_PID EMULATOR_LOG
trap 'EMULATOR_PORT="$port" "$here/emulator.sh" stop >/dev/null 2>&1 || true' EXIT
export AWS_ENDPOINT_URL="$url" AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
"$@"
