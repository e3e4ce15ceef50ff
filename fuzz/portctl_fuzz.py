#!/usr/bin/env python3
"""Attack the built portctl the way a hostile local user or a careless script would.

Every case runs the real binary and fails when it crashes (a Swift fatal error, a
backtrace, death by a signal), hangs (past --deadline seconds), exits with a status the
README does not document, prints a `--json` answer that is not exactly one JSON object,
or lets a raw control character reach human output.

Families of cases (each a share of --cases, chosen with one seeded generator, so a run
is reproducible with --seed):
  args     random and adversarial port specs and option values for every command
           (kill and free always with --dry-run, never --yes or --force: nothing is
           signalled)
  explain  binary data, invalid UTF-8, NUL bytes, very long lines and mutated real bind
           errors on stdin
  limits   `ulimit -n 16` (and other small limits), a closed standard output, a reader
           that has gone away
  churn    who/list/why/check while processes fork, exit and exec continuously, a socket
           passed over SCM_RIGHTS and sockets opened by non-main threads

--big also feeds `explain` 50 MB on stdin once.

Usage: fuzz/portctl_fuzz.py [--portctl PATH] [--cases 2000] [--seed 1] [--big]
Prints one line per failure (and saves its case under --out), then
`fuzz: N passed, M failed`; exits 1 when any case failed.
"""

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

DOCUMENTED = {0, 1, 2, 3, 4, 5, 64}
COMMANDS = ["who", "list", "why", "check", "kill", "free", "find", "wait", "explain"]
# A raw control character in human output: C0 except tab and newline, DEL, ESC, C1 and the
# bidirectional and other format characters.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(ROOT, "Tests", "PortKitTests", "Fixtures", "explain")


class Fuzzer:
    def __init__(self, portctl, rng, deadline, out):
        self.portctl = portctl
        self.rng = rng
        self.deadline = deadline
        self.out = out
        self.passed = 0
        self.failed = 0
        self.counts = {}
        self.corpus = []
        if os.path.isdir(CORPUS):
            for name in sorted(os.listdir(CORPUS)):
                if name.endswith(".txt"):
                    with open(os.path.join(CORPUS, name), "rb") as handle:
                        self.corpus.append(handle.read())

    # ----- running and judging -------------------------------------------------------

    def run(self, family, argv, stdin=b"", prologue=None, stdout_mode="pipe"):
        """Runs one case and judges it; returns the completed result or None."""
        self.counts[family] = self.counts.get(family, 0) + 1
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        if prologue is None:
            command = [self.portctl] + argv
        else:
            quoted = " ".join("'" + a.replace("'", "'\\''") + "'" if isinstance(a, str) else a for a in argv)
            command = ["/bin/sh", "-c", prologue + "; exec '" + self.portctl + "' " + quoted]
        started = time.monotonic()
        try:
            if stdout_mode == "gone":
                read_end, write_end = os.pipe()
                os.close(read_end)
                process = subprocess.run(command, input=stdin, stdout=write_end, stderr=subprocess.PIPE,
                                         timeout=self.deadline, env=env)
                os.close(write_end)
                process.stdout = b""
            else:
                process = subprocess.run(command, input=stdin, capture_output=True, timeout=self.deadline, env=env)
        except subprocess.TimeoutExpired:
            return self.fail(family, argv, stdin, prologue, "hung past %ss" % self.deadline)
        elapsed = time.monotonic() - started
        problem = self.judge(argv, process, human=stdout_mode == "pipe" and prologue is None)
        if problem:
            return self.fail(family, argv, stdin, prologue, problem, process)
        self.passed += 1
        return process

    def judge(self, argv, process, human):
        status = process.returncode
        err = process.stderr.decode("utf-8", "replace")
        if status < 0:
            return "killed by signal %d" % -status
        if status not in DOCUMENTED:
            return "undocumented exit status %d" % status
        if "Fatal error" in err or "Backtracing" in err or "Program crashed" in err:
            return "crashed: " + err.strip().splitlines()[0][:200]
        out = process.stdout.decode("utf-8", "replace")
        if "--json" in argv and process.stdout and not {"--help", "-h", "--version"} & set(argv):
            try:
                document = json.loads(out)
            except ValueError as error:
                return "--json printed no single JSON document (%s)" % error
            if not isinstance(document, dict) or "exitCode" not in document:
                return "--json document has no exitCode"
            if document["exitCode"] != status:
                return "--json exitCode %r but exit status %d" % (document["exitCode"], status)
        elif human:
            for name, text in (("stdout", out), ("stderr", err)):
                match = RAW_CONTROL.search(text)
                if match:
                    return "raw control character %r on %s" % (match.group(), name)
        return None

    def fail(self, family, argv, stdin, prologue, problem, process=None):
        self.failed += 1
        os.makedirs(self.out, exist_ok=True)
        path = os.path.join(self.out, "case-%04d.json" % self.failed)
        with open(path, "w") as handle:
            json.dump({"family": family, "argv": [a if isinstance(a, str) else repr(a) for a in argv],
                       "prologue": prologue, "stdin": stdin[:4096].decode("latin-1"), "stdinBytes": len(stdin),
                       "problem": problem,
                       "stderr": process.stderr.decode("utf-8", "replace")[-2000:] if process else None}, handle)
        print("FAIL %s: %s (%s) %s" % (family, problem, path, " ".join(map(str, argv))[:160]))
        return None

    # ----- generators ----------------------------------------------------------------

    def number(self):
        r = self.rng
        return r.choice([
            str(r.randint(0, 65535)), str(r.randint(65536, 10**12)), "-" + str(r.randint(0, 99)), "0", "65535",
            "65536", "00080", "0x50", "1e3", "+80", "8 0", "３０００", "٣٠٠٠", "", " ", "9" * r.randint(20, 400),
            str(r.randint(1, 65535)) + "\n", "nan", "inf",
        ])

    def address(self):
        r = self.rng
        return r.choice([
            "127.0.0.1", "0.0.0.0", "[::]", "[::1]", "[fe80::1%lo]", "[fe80::1%" + "x" * 300 + "]", "::1",
            "300.1.1.1", "1.2.3", "[::ffff:127.0.0.1]", "[", "]", "[[::1]]", "localhost", "[::1%]", "1.1.1.1.1",
            "[1:2:3:4:5:6:7:8:9]", "[:::]", "\u202e127.0.0.1",
        ])

    def spec(self):
        r = self.rng
        shape = r.randint(0, 11)
        if shape == 0:
            return self.number()
        if shape == 1:
            return ":" + self.number()
        if shape == 2:
            return self.number() + "-" + self.number()
        if shape == 3:
            return ",".join(self.number() for _ in range(r.randint(0, 6)))
        if shape == 4:
            return r.choice(["udp", "tcp", "UDP", "sctp", "", "udp:tcp"]) + ":" + self.number()
        if shape == 5:
            return self.number() + "/" + r.choice(["udp", "tcp", "", "x", "tcp/udp"])
        if shape == 6:
            return self.address() + ":" + self.number()
        if shape == 7:
            return self.address() + ":" + self.number() + "-" + self.number() + "/" + r.choice(["tcp", "udp"])
        if shape == 8:
            return "".join(chr(r.randint(1, 0x2FF)) for _ in range(r.randint(1, 12)))
        if shape == 9:
            return "-" * r.randint(1, 3) + r.choice(["json", "all", "bogus", "", "-", "q", "tcp", "udp"])
        if shape == 10:
            return "1-65535"
        return str(r.randint(1, 65535)) + ("," + str(r.randint(1, 65535))) * r.randint(0, 50)

    def duration(self):
        r = self.rng
        return r.choice([
            "0", "0s", "1ms", "50ms", "0.2s", "-1s", "1e309", "nan", "inf", "999999999999h", "", "1", "s", "1x",
            "0.0001s", "1m", "2 s", "٣s", "1e-9s", "-0",
        ])

    def options(self, command):
        r = self.rng
        pool = ["--json", "-q", "--quiet", "--tcp", "--udp", "--all", "-a", "--help", "--version", "--",
                "--backend", "--bogus", "-", "--json=1"]
        if command == "list":
            pool += ["--process", "--pid", "--user"]
        if command == "find":
            pool += ["--from", "--range", "--count", "-c", "--host", "--random", "--udp"]
        if command == "wait":
            pool += ["--free", "--listening"]
        if command in ("kill", "free"):
            pool += ["--signal", "--timeout", "-s", "-t", "--wait", "--wait-timeout", "--respawn-window"]
        if command == "explain":
            pool += ["--port"]
        chosen = []
        for _ in range(r.randint(0, 4)):
            option = r.choice(pool)
            chosen.append(option)
            if option == "--backend":
                chosen.append(r.choice(["auto", "procfs", "lsof", "netstat", "", "AUTO", "x" * 100]))
            elif option in ("--pid", "--from", "--count", "-c", "--port"):
                chosen.append(self.number())
            elif option in ("--process", "--user"):
                chosen.append(r.choice(["root", "0", "nobody", "", "\x1b[31m", "a" * 1000, "65534", "-1"]))
            elif option == "--range":
                chosen.append(self.number() + "-" + self.number())
            elif option == "--host":
                chosen.append(self.address().strip("[]"))
            elif option in ("--signal", "-s"):
                chosen.append(r.choice(["TERM", "SIGINT", "9", "0", "-1", "64", "65", "KILL", "sigterm", "", "HUP",
                                        "STOP", "99999999999"]))
            elif option in ("--timeout", "-t", "--wait-timeout", "--respawn-window"):
                chosen.append(self.duration())
        return chosen

    def args_case(self):
        r = self.rng
        command = r.choice(COMMANDS + [""])
        argv = [command] if command else []
        argv += [self.spec() for _ in range(r.randint(0, 3))]
        argv += self.options(command)
        r.shuffle(argv[1:] if command else argv)
        if command in ("kill", "free"):
            # Never signal anything: no --yes, no --force, and always --dry-run. A token that
            # could combine short flags is dropped.
            argv = [a for a in argv if not (a.startswith("-") and not a.startswith("--") and len(a) > 2)]
            argv = [a for a in argv if a not in ("-y", "--yes", "-f", "--force")]
            argv.insert(1, "--dry-run")
        if command == "wait":
            argv += ["--timeout", r.choice(["0.1s", "50ms", "0.3s"])]
        if command == "find" and r.random() < 0.5:
            argv += ["--range", "%d-%d" % (r.randint(1024, 60000), r.randint(60000, 65535))]
        if command == "explain" and r.random() < 0.7:
            # One argument may be at most 128 KiB (MAX_ARG_STRLEN).
            argv.append(self.explain_text().decode("utf-8", "replace").replace("\x00", "")[:30000])
        self.run("args", argv)

    def explain_text(self):
        r = self.rng
        shape = r.randint(0, 6)
        if shape == 0 or not self.corpus:
            return bytes(r.randint(0, 255) for _ in range(r.randint(0, 4096)))
        base = bytearray(r.choice(self.corpus))
        if shape == 1:
            for _ in range(r.randint(1, 20)):
                if base:
                    base[r.randrange(len(base))] = r.randint(0, 255)
            return bytes(base)
        if shape == 2:
            return bytes(base) + b"\xff\xfe\xc0\x80" + bytes(base)
        if shape == 3:
            return b"x" * r.randint(10000, 300000) + bytes(base)
        if shape == 4:
            return bytes(base).replace(b" ", b"\x00")
        if shape == 5:
            return (bytes(base) + b"\n") * r.randint(2, 200)
        return re.sub(rb"\d+", lambda m: self.number().encode("utf-8"), bytes(base))

    def explain_case(self):
        argv = ["explain"] + (["--json"] if self.rng.random() < 0.3 else [])
        if self.rng.random() < 0.2:
            argv += ["--port", self.number()]
        self.run("explain", argv, stdin=self.explain_text())

    def limits_case(self, port):
        r = self.rng
        command = r.choice(["who %d" % port, "list", "why %d" % port, "check %d" % port, "find",
                            "wait %d --free --timeout 0.2s" % port, "free %d --dry-run" % port,
                            "explain 'listen EADDRINUSE: address already in use :::%d'" % port])
        if r.random() < 0.3:
            command += " --json"
        argv = command.split(" ")
        if command.startswith("explain"):
            argv = ["explain", "listen EADDRINUSE: address already in use :::%d" % port] + (
                ["--json"] if command.endswith("--json") else [])
        mode = r.randint(0, 3)
        if mode == 0:
            self.run("limits", argv, prologue="ulimit -n %d" % r.choice([4, 5, 8, 16, 24, 40, 64]))
        elif mode == 1:
            self.run("limits", argv, prologue="exec >&-")
        elif mode == 2:
            self.run("limits", argv, stdout_mode="gone")
        else:
            self.run("limits", argv, prologue="ulimit -v %d" % r.choice([40000, 60000, 90000, 200000]))

    def churn_case(self, ports):
        r = self.rng
        port = r.choice(ports)
        command = r.choice([["who", str(port)], ["list"], ["why", str(port)], ["check", str(port)],
                            ["who", "1-65535", "--all"], ["list", "--all"], ["kill", "--dry-run", str(port)]])
        if r.random() < 0.3:
            command.append("--json")
        self.run("churn", command)

    def big_explain(self):
        chunk = b"compiled successfully in 12 ms \xff\xfe " * 2000 + b"\n"
        text = chunk * (50 * (1 << 20) // len(chunk)) + b"Error: listen EADDRINUSE: address already in use :::1\n"
        self.run("explain", ["explain"], stdin=text)


# ----- churn: processes that come and go, exec, pass sockets, thread-held sockets -------

def churn_workers(stop, ports):
    """Starts background churn; returns the threads and child processes to clean up."""
    children = []

    def forker():
        # Forks a child holding a fresh listener that exits at once, continuously.
        while not stop.is_set():
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            pid = os.fork()
            if pid == 0:
                if os.fork() == 0:
                    time.sleep(0.001)
                os._exit(0)
            listener.close()
            os.waitpid(pid, 0)

    def execer():
        # A child that holds a listener across exec of a short-lived program.
        while not stop.is_set():
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            fd = listener.detach()
            os.set_inheritable(fd, True)
            process = subprocess.Popen(["/bin/sh", "-c", "sleep 0.0$((RANDOM%9))"], pass_fds=[fd])
            os.close(fd)
            process.wait()

    def passer():
        # A listener passed over SCM_RIGHTS to another process, which holds it while the
        # sender closes its copy.
        left, right = socket.socketpair(socket.AF_UNIX)
        receiver = os.fork()
        if receiver == 0:
            # Keep nothing else this process inherited: another thread may be starting a
            # case's subprocess right now, and a copy of its pipes (the exec-status pipe
            # above all) held here would keep that start waiting forever.
            keep = right.fileno()
            os.closerange(3, keep)
            os.closerange(keep + 1, 1 << 16)
            null = os.open(os.devnull, os.O_RDWR)
            for standard in (0, 1, 2):
                os.dup2(null, standard)
            os.close(null)
            held = []
            while True:
                try:
                    message, fds, _, _ = socket.recv_fds(right, 16, 4)
                except OSError:
                    os._exit(0)
                if not message:
                    os._exit(0)
                held.extend(fds)
                if len(held) > 4:
                    os.close(held.pop(0))
        children.append(receiver)
        right.close()
        while not stop.is_set():
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            socket.send_fds(left, [b"x"], [listener.fileno()])
            listener.close()
            time.sleep(0.005)
        left.close()

    def threaded():
        # Sockets opened and closed by non-main threads.
        def one():
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.bind(("::1", 0))
            time.sleep(0.01)
            s.close()
        while not stop.is_set():
            workers = [threading.Thread(target=one) for _ in range(4)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()

    threads = [threading.Thread(target=body, daemon=True) for body in (forker, execer, passer, threaded)]
    for thread in threads:
        thread.start()
    return threads, children


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--portctl", default=os.path.join(ROOT, ".build", "debug", "portctl"))
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=20.0)
    parser.add_argument("--big", action="store_true", help="also 50 MB on explain's stdin")
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "portctl-fuzz"))
    args = parser.parse_args()
    if not os.access(args.portctl, os.X_OK):
        sys.exit("no portctl at %s (swift build first, or --portctl PATH)" % args.portctl)

    rng = random.Random(args.seed)
    fuzzer = Fuzzer(args.portctl, rng, args.deadline, args.out)
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    port = held.getsockname()[1]
    stop = threading.Event()
    threads, children = churn_workers(stop, [port])
    try:
        shares = [("args", 0.45), ("explain", 0.25), ("limits", 0.15), ("churn", 0.15)]
        for index in range(args.cases):
            pick = rng.random()
            total = 0.0
            for family, share in shares:
                total += share
                if pick < total:
                    break
            if family == "args":
                fuzzer.args_case()
            elif family == "explain":
                fuzzer.explain_case()
            elif family == "limits":
                fuzzer.limits_case(port)
            else:
                fuzzer.churn_case([port])
        if args.big:
            fuzzer.big_explain()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
            except OSError:
                pass
        held.close()
    print("cases by family: " + ", ".join("%s %d" % item for item in sorted(fuzzer.counts.items())))
    print("fuzz: %d passed, %d failed" % (fuzzer.passed, fuzzer.failed))
    sys.exit(1 if fuzzer.failed else 0)


if __name__ == "__main__":
    main()
