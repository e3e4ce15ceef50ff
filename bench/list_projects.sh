#!/usr/bin/env bash
# What reading projects costs `list`: hyperfine runs two portctl binaries (built before and
# after a change) on the machine as it is, then on a crowd of port-holder processes (N
# processes, S listeners each) started inside a git repository (every holder has a project,
# all in one directory) and outside any project (every walk comes up empty).
#
# Usage: bench/list_projects.sh BEFORE AFTER [N] [S] [RUNS]
# Needs hyperfine; builds nothing (build the two binaries first, e.g. in release mode).
set -euo pipefail
before=$1 after=$2 count=${3:-1000} sockets=${4:-5} runs=${5:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
holder=${HOLDER:-$root/.build/debug/port-holder}

compare() {
  hyperfine -N --warmup 3 --runs "$runs" --style basic -n before "$before list" -n after "$after list"
}

echo "== the machine as it is"
compare

for place in "$root" /tmp; do
  echo "== a crowd of $count processes x $sockets listeners, working in $place"
  coproc crowd { cd "$place" && exec setsid "$holder" --crowd "$count" --sockets "$sockets" --files 0; }
  read -r ready <&"${crowd[0]}"
  leader=$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<<"$ready")
  compare
  kill -KILL -- "-$leader"
  wait "$crowd_PID" 2>/dev/null || true
  sleep 1
done
