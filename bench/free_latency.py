#!/usr/bin/env python3
"""How long `portctl free` takes on a holder that exits promptly on SIGTERM.

Starts a fresh holder (the port-holder fixture, detached so that its parent is init and no
respawn watch applies) for every run, then times in the same run:
  who    `portctl who PORT`            start-up plus one scan: the floor for any command
  free   `portctl free PORT --yes`     scan, pidfd, SIGTERM, exit watch, bind proof, re-scan
  fuser  `fuser -k -TERM PORT/tcp`     a peer that signals and returns without proving anything
and reports medians. `free - who` is what freeing adds on top of looking.

Usage: bench/free_latency.py [--runs N]   (builds the release products first)
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build():
    subprocess.run(["swift", "build", "-c", "release", "--product", "portctl"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["swift", "build", "-c", "release", "--product", "port-holder"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    return os.path.join(out, "portctl"), os.path.join(out, "port-holder")


def start_holder(holder):
    """A holder whose parent is init: setsid -f forks it away from this script."""
    ready = tempfile.NamedTemporaryFile(delete=False)
    ready.close()
    subprocess.run(["setsid", "-f", "sh", "-c", f'exec "{holder}" tcp:127.0.0.1:0 > "{ready.name}"'], check=True)
    deadline = time.time() + 5
    while time.time() < deadline:
        text = open(ready.name).read()
        match = re.search(r"pid=(\d+) ports=(\d+)", text)
        if match:
            os.unlink(ready.name)
            return int(match.group(1)), match.group(2)
        time.sleep(0.005)
    sys.exit("holder did not start")


def timed(command):
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    return (time.perf_counter() - start) * 1000, result


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    portctl, holder = build()
    who, free, fuser, exit_seen = [], [], [], []
    for _ in range(args.runs):
        pid, port = start_holder(holder)
        ms, _ = timed([portctl, "who", port])
        who.append(ms)
        ms, result = timed([portctl, "free", port, "--yes", "--json"])
        if result.returncode != 0 or alive(pid):
            sys.exit(f"free failed: {result.returncode} {result.stdout} {result.stderr}")
        free.append(ms)
        exit_seen.append(json.loads(result.stdout)["targets"][0]["seconds"] * 1000)
        pid, port = start_holder(holder)
        ms, _ = timed(["fuser", "-s", "-k", "-TERM", f"{port}/tcp"])
        fuser.append(ms)
        for _ in range(200):
            if not alive(pid):
                break
            time.sleep(0.005)
    med = statistics.median
    print(f"runs: {args.runs}   (medians, milliseconds)")
    print(f"  portctl who PORT                 {med(who):7.1f}")
    print(f"  portctl free PORT --yes          {med(free):7.1f}")
    print(f"    SIGTERM -> exit seen (pidfd)   {med(exit_seen):7.2f}")
    print(f"    free - who                     {med(free) - med(who):7.1f}")
    print(f"  fuser -k -TERM PORT/tcp          {med(fuser):7.1f}   (does not wait or prove the port free)")


if __name__ == "__main__":
    main()
