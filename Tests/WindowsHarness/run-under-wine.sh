#!/usr/bin/env bash
# Compiles Sources/CPortSys/windows.c with Tests/WindowsHarness/harness.c for 64-bit Windows
# (mingw-w64, every warning an error) and runs the harness under Wine in a fresh prefix. The
# records dump goes to standard output (CR removed); timings and errors go to standard error.
#
#   run-under-wine.sh [--keep-prefix] [SPEC…]
#
# SPEC is a port a Linux process holds, passed to the harness for its bind probes: `PORT`
# (TCP on 127.0.0.1), or `tcp4:PORT`, `udp4:PORT` (127.0.0.1), `tcp6:PORT`, `udp6:PORT` (::1).
# --keep-prefix keeps the Wine prefix and the build (their directory is named on standard
# error). Exit status: 0 when the harness ran and reported no failure, 77 when mingw-w64 or
# Wine is missing, 1 on any other failure.
set -euo pipefail

# Wine stops its processes with signals: started with some blocked (children inherit the
# mask, and the worker threads of Swift's runtime, among others, block SIGTERM, SIGUSR1 and
# more), its processes outlive `wineserver -k`, and this script would not see SIGTERM. So it
# starts over with no signal blocked (perl is in every Debian and macOS base system).
if [ -z "${PORTCTL_WINE_UNBLOCKED:-}" ] && grep -q '^SigBlk:.*[1-9a-f]' /proc/self/status 2>/dev/null \
  && command -v perl >/dev/null 2>&1; then
  export PORTCTL_WINE_UNBLOCKED=1
  exec perl -MPOSIX -e 'sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die "sigprocmask: $!\n";
    exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n"' -- "$0" "$@"
fi

keep=0
if [ "${1:-}" = --keep-prefix ]; then
  keep=1
  shift
fi
for spec in "$@"; do
  if ! [[ "$spec" =~ ^((tcp|udp)[46]:)?[0-9]+$ ]]; then
    echo "run-under-wine.sh: '$spec' is not a port spec (PORT, or tcp4:, udp4:, tcp6:, udp6: and a port)." >&2
    exit 1
  fi
done

root=$(cd "$(dirname "$0")/../.." && pwd)
cc=x86_64-w64-mingw32-gcc
# Debian's wine64 puts nothing on PATH: the loader and the server are called by path.
wine=${PORTCTL_WINE64:-/usr/lib/wine/wine64}
wineserver=${PORTCTL_WINESERVER:-/usr/lib/wine/wineserver}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "run-under-wine.sh: $cc is missing; install gcc-mingw-w64-x86-64 (.ci/run does)." >&2
  exit 77
fi
if ! [ -x "$wine" ] || ! [ -x "$wineserver" ]; then
  echo "run-under-wine.sh: Wine is missing ($wine, $wineserver); install wine64 (.ci/run does)." >&2
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/portctl-wine.XXXXXX")
export WINEPREFIX="$work/prefix"
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
step=
cleanup() {
  if [ -n "$step" ]; then kill "$step" 2>/dev/null || true; fi
  # Stops this prefix's server and every Wine process in it, then waits for them.
  if [ -d "$WINEPREFIX" ]; then
    "$wineserver" -k >/dev/null 2>&1 || true
    timeout 60 "$wineserver" -w >/dev/null 2>&1 || true
  fi
  if [ "$keep" = 1 ]; then
    echo "run-under-wine.sh: kept $work (prefix $WINEPREFIX)." >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Runs a command in the background and waits for it, so that a signal to this script is
# handled at once (the trap stops it and the prefix) instead of after the command.
bounded() {
  "$@" &
  step=$!
  local status=0
  wait "$step" || status=$?
  step=
  return "$status"
}
now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

start=$(now)
if ! "$cc" -Wall -Wextra -Werror -O2 -I "$root/Sources/CPortSys/include" -o "$work/harness.exe" \
  "$root/Sources/CPortSys/windows.c" "$root/Tests/WindowsHarness/harness.c" \
  -liphlpapi -lws2_32 -ladvapi32 2>"$work/compile.log"; then
  echo "run-under-wine.sh: compiling windows.c and harness.c failed:" >&2
  cat "$work/compile.log" >&2
  exit 1
fi
compiled=$(now)
echo "run-under-wine.sh: compiled in $(seconds "$start" "$compiled") s" >&2

mkdir -m 700 "$WINEPREFIX"
status=0
bounded timeout 180 "$wine" wineboot --init >"$work/boot.log" 2>&1 || status=$?
if [ "$status" != 0 ]; then
  echo "run-under-wine.sh: wineboot --init in a fresh prefix failed with status $status:" >&2
  cat "$work/boot.log" >&2
  exit 1
fi
booted=$(now)
status=0
bounded timeout 180 "$wine" "$work/harness.exe" "$@" >"$work/dump.txt" 2>"$work/harness.log" || status=$?
finished=$(now)
tr -d '\r' <"$work/dump.txt"
echo "run-under-wine.sh: prefix booted in $(seconds "$compiled" "$booted") s, harness ran in" \
  "$(seconds "$booted" "$finished") s" >&2
if [ "$status" != 0 ]; then
  echo "run-under-wine.sh: the harness exited with status $status:" >&2
  cat "$work/harness.log" >&2
  exit 1
fi
