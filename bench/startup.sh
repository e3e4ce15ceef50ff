#!/usr/bin/env bash
# Start-up of `portctl --version` and `portctl who PORT` for two portctl binaries (built
# before and after a change, e.g. main and the branch that added `portctl mcp`), measured in
# the same hyperfine runs so that both see the same machine, over several rounds that swap
# which binary goes first. PORT is held by a port-holder started here, so `who` finds and
# describes a real listener. Prints hyperfine's summary and then the medians; then the same
# commands run interleaved, before and after by turns (INTERLEAVED runs each), which a busy
# machine's drifting load affects equally: median and 10th percentile wall time, median CPU.
#
# Usage: bench/startup.sh BEFORE AFTER [RUNS] [ROUNDS] [INTERLEAVED]
# Needs hyperfine and python3; builds nothing (build both binaries first, in release mode:
# swift build -c release --static-swift-stdlib --product portctl).
set -euo pipefail
before=$1 after=$2 runs=${3:-100} rounds=${4:-3} interleaved=${5:-300}
root=$(cd "$(dirname "$0")/.." && pwd)
holder=${HOLDER:-$root/.build/debug/port-holder}
results=$(mktemp -d)

coproc held { exec "$holder" tcp:127.0.0.1:0; }
read -r ready <&"${held[0]}"
port=$(sed -n 's/.*ports=\([0-9]*\).*/\1/p' <<<"$ready")
trap 'kill "$held_PID" 2>/dev/null || true; rm -rf "$results"' EXIT

for round in $(seq "$rounds"); do
  for command in "--version" "who $port"; do
    name=${command%% *}
    if [ $((round % 2)) = 1 ]; then
      order=(-n before "$before $command" -n after "$after $command")
    else
      order=(-n after "$after $command" -n before "$before $command")
    fi
    echo "== round $round: portctl $command"
    hyperfine -N --warmup 20 --runs "$runs" --style basic --export-json "$results/$name-$round.json" "${order[@]}" \
      | grep -E '^(Benchmark|  Time)'
  done
done

python3 - "$results" <<'PY'
import glob, json, os, statistics, sys
times = {}
for path in glob.glob(os.path.join(sys.argv[1], "*.json")):
    command = os.path.basename(path).rsplit("-", 1)[0]
    for result in json.load(open(path))["results"]:
        times.setdefault((command, result["command"]), []).extend(result["times"])
print("\nmedians over every run (ms):")
for command in ("--version", "who"):
    before, after = (statistics.median(times[(command, side)]) * 1000 for side in ("before", "after"))
    print(f"  portctl {command:<10} before {before:6.2f}  after {after:6.2f}  after/before {after / before:.3f}")
PY

python3 - "$before" "$after" "$port" "$interleaved" <<'PY'
import resource, statistics, subprocess, sys, time
before, after, port, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
samples = {}
for arguments in (["--version"], ["who", port]):
    for index in range(count):
        pair = [("before", before), ("after", after)]
        for side, binary in pair if index % 2 == 0 else reversed(pair):
            start_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([binary] + arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = usage.ru_utime - start_usage.ru_utime + usage.ru_stime - start_usage.ru_stime
            samples.setdefault((arguments[0], side), []).append((wall, cpu))
print(f"\ninterleaved, {count} runs each (ms):")
for command in ("--version", "who"):
    for side in ("before", "after"):
        walls = sorted(wall for wall, _ in samples[(command, side)])
        cpus = [cpu for _, cpu in samples[(command, side)]]
        print(f"  portctl {command:<10} {side:<6} wall median {statistics.median(walls) * 1000:6.2f}"
              f"  p10 {walls[len(walls) // 10] * 1000:6.2f}  cpu median {statistics.median(cpus) * 1000:6.2f}")
PY
