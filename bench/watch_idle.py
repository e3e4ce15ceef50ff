#!/usr/bin/env python3
"""How much CPU an idle `portctl watch` uses: it should be cheap enough to leave running.

Starts `portctl watch` (release build, default interval 250 ms) in three ways and leaves it
idle for --seconds while nothing changes:
  all        `portctl watch`                 every listener on the machine
  held port  `portctl watch PORT`            a port one holder (port-holder) listens on
  free port  `portctl watch PORT`            a port nothing listens on
For each, the watcher's CPU time (utime + stime from /proc/PID/stat, all its threads) over
the window is reported as a share of one core, next to the machine's own load over the same
window (from /proc/stat: busy time of all cores, as cores' worth) and the number of
processes and listeners it had to look at.

With --crowd N the same is measured again with a crowd of N processes (the fixture's --crowd
mode, each holding 20 TCP listeners and 20 files) started by the script: a busy machine, where
the watch of every listener has 20 N sockets and N holders to check at every poll.

With --netns (root) everything runs in a network namespace of its own (`unshare --net`, with
its loopback up): its socket table holds only the script's sockets, so listeners that other
programs open and close meanwhile are no change for the watch; /proc is still the machine's.

Usage: bench/watch_idle.py [--seconds S] [--interval 250ms] [--crowd N] [--netns]
(builds the release products first)
"""
import argparse, os, subprocess, sys, time
from shlex import quote as shlex_quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from free_latency import build, start_holder  # noqa: E402
from crowd import start_crowd, stop_crowd  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy():
    """Busy and total jiffies of all cores, from the first line of /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def listeners():
    out = subprocess.run(["ss", "-Hltnu"], capture_output=True, text=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


def measure(portctl, arguments, seconds):
    watcher = subprocess.Popen([portctl, "watch", "--json", *arguments], stdout=subprocess.PIPE, text=True)
    # The starting state ends with `ready`: from then on the watch only polls.
    for line in watcher.stdout:
        if '"event":"ready"' in line:
            break
    else:
        sys.exit(f"watch {arguments} ended before it was ready (status {watcher.wait()})")
    time.sleep(1)  # let start-up work settle
    busy0, total0 = machine_busy()
    cpu0, wall0 = cpu_seconds(watcher.pid), time.monotonic()
    time.sleep(seconds)
    cpu1, wall1 = cpu_seconds(watcher.pid), time.monotonic()
    busy1, total1 = machine_busy()
    watcher.terminate()
    watcher.communicate(timeout=5)
    if watcher.returncode != 0:
        sys.exit(f"watch {arguments} exited {watcher.returncode} on SIGTERM")
    share = (cpu1 - cpu0) / (wall1 - wall0) * 100
    load = (busy1 - busy0) / (total1 - total0) * os.cpu_count()
    return share, cpu1 - cpu0, load


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--interval", default=None, help="passed as --interval (default: portctl's, 250ms)")
    parser.add_argument("--crowd", type=int, default=0, help="measure again with a crowd of N processes")
    parser.add_argument("--netns", action="store_true", help="run in a network namespace of its own (root)")
    args = parser.parse_args()
    portctl, holder = build()
    if args.netns and os.environ.get("WATCH_BENCH_NETNS") != "1":
        script = "ip link set lo up && exec " + " ".join(map(shlex_quote, [sys.executable, *sys.argv]))
        os.environ["WATCH_BENCH_NETNS"] = "1"
        os.execvp("unshare", ["unshare", "--net", "sh", "-c", script])
    extra = ["--interval", args.interval] if args.interval else []
    holder_pid, held = start_holder(holder)
    free = subprocess.run([portctl, "find"], capture_output=True, text=True).stdout.strip()
    try:
        for crowd in [0, args.crowd] if args.crowd else [0]:
            process = start_crowd(holder, crowd, 20, 20)[0] if crowd else None
            count = len([name for name in os.listdir("/proc") if name.isdigit()])
            print(f"idle `portctl watch` for {args.seconds:.0f} s each; {os.cpu_count()} cores, {count} processes, "
                  f"{listeners()} listeners{f' (a crowd of {crowd})' if crowd else ''}; "
                  f"interval {args.interval or '250ms (default)'}")
            try:
                for label, arguments in [("all listeners", []), (f"held port {held}", [held]),
                                         (f"free port {free}", [free])]:
                    share, used, load = measure(portctl, arguments + extra, args.seconds)
                    print(f"  {label:<18} {share:5.2f}% of one core  ({used * 1000:4.0f} ms CPU)   "
                          f"machine load meanwhile: {load:4.2f} cores busy", flush=True)
            finally:
                if process:
                    stop_crowd(process)
    finally:
        os.kill(holder_pid, 9)


if __name__ == "__main__":
    main()
