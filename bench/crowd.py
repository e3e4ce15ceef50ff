#!/usr/bin/env python3
"""Who holds a port on a busy machine: portctl against the floor, ss, lsof, fuser, netstat and psutil.

For each scale, starts a crowd of N processes (the port-holder fixture's --crowd mode), each
holding S TCP listeners and F open files, picks a port held by the middle process, and times
in one hyperfine run:
  floor (bench/floor.c: the bare descriptor walk, the least any complete answer costs)
  portctl who P            ss -ltnpH 'sport = :P'     lsof -nP -iTCP:P     fuser P/tcp
  psutil (net_connections) portctl list               portctl list --json  ss -ltnupH
  netstat -tlnp
then prints medians, the ratios the goals are stated in, and portctl's peak RSS. Scale 0 is the
machine as it is, with one holder of one listener (idle).

Usage: bench/crowd.py [--scales 0,100,1000,3000] [--sockets 20] [--files 20] [--runs 10]
                      [--quick] [--portctl BINARY]
--quick times only the floor, portctl and ss; --portctl times another binary (an installed one).
Needs hyperfine, a C compiler, ss (iproute2), lsof, fuser (psmisc), netstat (net-tools) and
psutil (pip install psutil); builds portctl in release mode with the Swift runtime linked
statically, as `make install` does.
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


def build_floor():
    """The bare descriptor walk (bench/floor.c), compiled into the build directory."""
    out = os.path.join(ROOT, ".build", "bench")
    os.makedirs(out, exist_ok=True)
    binary = os.path.join(out, "floor")
    subprocess.run(["cc", "-O2", "-pthread", "-Wall", "-o", binary, os.path.join(ROOT, "bench", "floor.c")], check=True)
    return binary


def socket_inodes(port):
    """The inodes of every socket on local port `port` in /proc/net/{tcp,tcp6,udp,udp6}: what
    `portctl who P` looks for, handed to the floor so that it walks for the same set."""
    inodes = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = open(f"/proc/net/{table}").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == int(port) and fields[9] != "0":
                inodes.append(fields[9])
    return inodes


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


def measure(portctl, floor, port, expected_pid, args, label, idle):
    found = subprocess.run([portctl, "who", port, "--json"], capture_output=True, text=True)
    pids = [p["pid"] for s in json.loads(found.stdout)["sockets"] for p in s["processes"]]
    # Another child may hold the same port number on its own 127.x address.
    if int(expected_pid) not in pids:
        sys.exit(f"portctl who {port} gave {pids}, expected {expected_pid} among them")
    inodes = socket_inodes(port)
    walked = subprocess.run([floor] + inodes, capture_output=True, text=True, check=True)
    if int(expected_pid) not in [int(line.split()[0]) for line in walked.stdout.splitlines()]:
        sys.exit(f"the floor did not find {expected_pid} holding port {port}")
    commands = {
        "floor (bare walk)": f"{floor} {' '.join(inodes)}",
        "portctl who P": f"{portctl} who {port}",
        "ss -ltnpH 'sport = :P'": f"ss -ltnpH 'sport = :{port}'",
        "lsof -nP -iTCP:P": f"lsof -nP -iTCP:{port}",
        "fuser P/tcp": f"fuser {port}/tcp",
        "psutil": f"python3 -c \"{PSUTIL}\" {port}",
        "portctl list": f"{portctl} list",
        "portctl list --json": f"{portctl} list --json",
        "ss -ltnupH": "ss -ltnupH",
        "netstat -tlnp": "netstat -tlnp",
    }
    if args.quick:
        commands = {name: command for name, command in commands.items()
                    if name.startswith(("floor", "portctl", "ss "))}
    export = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    # Idle, every command takes milliseconds: more runs, or a busy moment decides the median.
    runs, warmup = (max(args.runs, 100), 10) if idle else (args.runs, 2)
    hyperfine = ["hyperfine", "-N", "-i", "--warmup", str(warmup), "--runs", str(runs), "--export-json", export,
                 "--style", "none"]
    for name, command in commands.items():
        hyperfine += ["-n", name, command]
    subprocess.run(hyperfine, check=True, stdout=subprocess.DEVNULL)
    results = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(export))["results"]}
    os.unlink(export)
    rss = {name: peak_rss_kib(command) for name, command in (
        ("who", [portctl, "who", port]), ("list", [portctl, "list"]), ("list --json", [portctl, "list", "--json"]),
        ("who 1-65535 --json", [portctl, "who", "1-65535", "--json"]))}
    print(f"\n{label}; {runs} runs, medians")
    for name, ms in results.items():
        print(f"  {name:<26} {ms:8.1f} ms")
    who, floor_ms = results["portctl who P"], results["floor (bare walk)"]
    ss_port, listed, ss_all = results["ss -ltnpH 'sport = :P'"], results["portctl list"], results["ss -ltnupH"]
    print(f"  ratio who / floor           {who / floor_ms:8.2f}   (goal <= 1.2)")
    print(f"  ratio who / ss sport        {who / ss_port:8.2f}   (goal <= 0.4)")
    print(f"  ratio list / ss -ltnupH     {listed / ss_all:8.2f}   (goal <= 0.5)")
    for name, kib in rss.items():
        print(f"  peak RSS {name:<19} {kib / 1024:6.1f} MiB = {kib * 1024 / 1e6:5.1f} MB   (goal < 20 MB)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="0,100,1000,3000",
                        help="crowd sizes; 0 is the machine as it is, with one holder")
    parser.add_argument("--sockets", type=int, default=20)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="time the floor, portctl and ss only")
    parser.add_argument("--portctl", help="a portctl binary to time instead of building one")
    args = parser.parse_args()
    portctl, holder = build()
    if args.portctl:
        portctl = os.path.abspath(args.portctl)
    floor = build_floor()
    for scale in [int(s) for s in args.scales.split(",")]:
        process, port, pid = start_crowd(holder, max(scale, 1), args.sockets if scale else 1, args.files if scale else 1)
        processes = len([name for name in os.listdir("/proc") if name.isdigit()])
        if scale:
            label = (f"{scale} processes x ({args.sockets} sockets + {args.files} files) = "
                     f"{scale * (args.sockets + args.files)} descriptors ({processes} processes in all)")
        else:
            label = f"idle: one holder, {processes} processes in all"
        try:
            measure(portctl, floor, port, pid, args, label, idle=scale == 0)
        finally:
            stop_crowd(process)


if __name__ == "__main__":
    main()
