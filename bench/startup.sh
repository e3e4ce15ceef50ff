#!/usr/bin/env bash
# Start-up of `portctl --version` and `portctl who PORT` for two portctl binaries (built
# before and after a change, e.g. main and the branch that added `portctl mcp`), in one
# hyperfine run each so both see the same machine. PORT is held by a port-holder started
# here, so `who` finds and describes a real listener.
#
# Usage: bench/startup.sh BEFORE AFTER [RUNS]
# Needs hyperfine; builds nothing (build both binaries first, in release mode:
# swift build -c release --product portctl).
set -euo pipefail
before=$1 after=$2 runs=${3:-200}
root=$(cd "$(dirname "$0")/.." && pwd)
holder=${HOLDER:-$root/.build/debug/port-holder}

coproc held { exec "$holder" tcp:127.0.0.1:0; }
read -r ready <&"${held[0]}"
port=$(sed -n 's/.*ports=\([0-9]*\).*/\1/p' <<<"$ready")
trap 'kill "$held_PID" 2>/dev/null || true' EXIT

for command in "--version" "who $port"; do
  echo "== portctl $command"
  hyperfine -N --warmup 20 --runs "$runs" --style basic \
    -n before "$before $command" -n after "$after $command"
done
