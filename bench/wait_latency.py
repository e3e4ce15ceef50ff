#!/usr/bin/env python3
"""How quickly `portctl wait PORT --free` notices that a holder exited, and what it costs.

For each run: a fresh holder, `portctl wait PORT --free` started and left waiting for a
while, then the holder is killed; the time from the kill until wait exits is the reaction
time. CPU time of the waiting process is reported too (it polls with back-off to 100 ms).

Usage: bench/wait_latency.py [--runs N] [--hold SECONDS]   (builds the release products first)
"""
import argparse, os, resource, signal, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from free_latency import build, start_holder  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--hold", type=float, default=1.0, help="seconds wait polls before the holder exits")
    args = parser.parse_args()
    portctl, holder = build()
    reactions, cpu = [], []
    for _ in range(args.runs):
        pid, port = start_holder(holder)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        waiter = subprocess.Popen([portctl, "wait", port, "--free", "--timeout", "30s"], stdout=subprocess.DEVNULL)
        time.sleep(args.hold)
        killed = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        waiter.wait()
        reactions.append((time.perf_counter() - killed) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000)
        if waiter.returncode != 0:
            sys.exit(f"wait exited {waiter.returncode}")
    med = statistics.median
    print(f"runs: {args.runs}, holder exits after {args.hold:.1f} s of waiting   (medians)")
    print(f"  reaction: kill -> wait exits     {med(reactions):6.1f} ms   (max {max(reactions):.1f} ms)")
    print(f"  CPU used by wait over the run    {med(cpu):6.1f} ms   ({med(cpu) / (args.hold * 1000) * 100:.1f}% of one core)")


if __name__ == "__main__":
    main()
