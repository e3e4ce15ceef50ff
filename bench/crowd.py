#!/usr/bin/env python3
"""Who holds a port on a busy machine: portctl against ss, lsof, fuser, netstat and psutil.

For each scale, starts a crowd of N processes (the port-holder fixture's --crowd mode), each
holding S TCP listeners and F open files, picks a port held by the middle process, and times
in one hyperfine run:
  portctl who P            ss -ltnpH 'sport = :P'     lsof -nP -iTCP:P     fuser P/tcp
  portctl list             ss -ltnupH                 netstat -tlnp        psutil (net_connections)
then prints medians, the ratios the goals are stated in, and portctl's peak RSS.

Usage: bench/crowd.py [--scales 100,1000,3000] [--sockets 20] [--files 20] [--runs 10]
Needs hyperfine, ss (iproute2), lsof, fuser (psmisc), netstat (net-tools) and psutil
(pip install psutil); builds portctl in release mode with the Swift runtime linked statically.
"""
import argparse, json, os, re, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PSUTIL = ("import psutil, sys; p = int(sys.argv[1]); "
          "print([c.pid for c in psutil.net_connections('tcp') if c.laddr and c.laddr.port == p])")


def build():
    flags = ["swift", "build", "-c", "release", "--static-swift-stdlib"]
    for product in ("portctl", "port-holder"):
        subprocess.run(flags + ["--product", product], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    path = subprocess.run(flags + ["--show-bin-path"], cwd=ROOT, check=True, capture_output=True, text=True)
    out = path.stdout.strip()
    return os.path.join(out, "portctl"), os.path.join(out, "port-holder")


def start_crowd(holder, count, sockets, files):
    process = subprocess.Popen([holder, "--crowd", str(count), "--sockets", str(sockets), "--files", str(files)],
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    line = process.stdout.readline()
    match = re.search(r"ports=([\d,]+) children=([\d,]+)", line)
    if not match:
        process.kill()
        sys.exit(f"crowd did not start: {line!r}")
    ports = match.group(1).split(",")
    children = match.group(2).split(",")
    return process, ports[len(ports) // 2], children[len(children) // 2]


def stop_crowd(process):
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    time.sleep(1.5)


def peak_rss_kib(command):
    best = 0
    for _ in range(3):
        result = subprocess.run(["/usr/bin/time", "-f", "%M"] + command, capture_output=True, text=True)
        best = max(best, int(result.stderr.strip().splitlines()[-1]))
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="100,1000,3000")
    parser.add_argument("--sockets", type=int, default=20)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    portctl, holder = build()
    for scale in [int(s) for s in args.scales.split(",")]:
        process, port, pid = start_crowd(holder, scale, args.sockets, args.files)
        try:
            found = subprocess.run([portctl, "who", port, "--json"], capture_output=True, text=True)
            pids = [p["pid"] for s in json.loads(found.stdout)["sockets"] for p in s["processes"]]
            # Another child may hold the same port number on its own 127.x address.
            if int(pid) not in pids:
                sys.exit(f"portctl who {port} gave {pids}, expected {pid} among them")
            commands = {
                "portctl who P": f"{portctl} who {port}",
                "ss -ltnpH 'sport = :P'": f"ss -ltnpH 'sport = :{port}'",
                "lsof -nP -iTCP:P": f"lsof -nP -iTCP:{port}",
                "fuser P/tcp": f"fuser {port}/tcp",
                "psutil": f"python3 -c \"{PSUTIL}\" {port}",
                "portctl list": f"{portctl} list",
                "ss -ltnupH": "ss -ltnupH",
                "netstat -tlnp": "netstat -tlnp",
            }
            export = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
            hyperfine = ["hyperfine", "-N", "-i", "--warmup", "2", "--runs", str(args.runs), "--export-json", export,
                         "--style", "none"]
            for name, command in commands.items():
                hyperfine += ["-n", name, command]
            subprocess.run(hyperfine, check=True, stdout=subprocess.DEVNULL)
            results = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(export))["results"]}
            os.unlink(export)
            rss_who = peak_rss_kib([portctl, "who", port])
            rss_list = peak_rss_kib([portctl, "list"])
            rss_json = peak_rss_kib([portctl, "list", "--json"])
            rss_who_json = peak_rss_kib([portctl, "who", "1-65535", "--json"])
            fds = scale * (args.sockets + args.files)
            print(f"\n{scale} processes x ({args.sockets} sockets + {args.files} files) = {fds} descriptors; "
                  f"{args.runs} runs, medians")
            for name, ms in results.items():
                print(f"  {name:<26} {ms:8.1f} ms")
            who, ss_port = results["portctl who P"], results["ss -ltnpH 'sport = :P'"]
            listed, ss_all = results["portctl list"], results["ss -ltnupH"]
            print(f"  ratio who / ss sport        {who / ss_port:8.2f}   (goal <= 0.45)")
            print(f"  ratio list / ss -ltnupH     {listed / ss_all:8.2f}   (goal <= 0.60)")
            def both(kib):
                return f"{kib / 1024:.1f} MiB = {kib * 1024 / 1e6:.1f} MB"
            print(f"  peak RSS: who {both(rss_who)}, list {both(rss_list)}   (goal < 20 MB)")
            print(f"  peak RSS: list --json {both(rss_json)}, who 1-65535 --json {both(rss_who_json)}")
        finally:
            stop_crowd(process)


if __name__ == "__main__":
    main()
