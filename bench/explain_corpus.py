#!/usr/bin/env python3
"""How well `portctl explain` reads the captured bind-error corpus.

Runs `portctl explain --json -` on every message listed in
Tests/PortKitTests/Fixtures/explain-corpus/corpus.tsv and compares what it read with the
manifest: the port (where the message names one), the kind (in use, permission, address
not available, connect-side), the address and the protocol (where the message names them),
and all four together; and the program named (apart from the four). Prints the rates and, with --misses, every message it got wrong.

    bench/explain_corpus.py [--portctl PATH] [--corpus DIR] [--misses]
"""
import argparse
import csv
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "Tests", "PortKitTests", "Fixtures", "explain-corpus")

# The manifest's kinds as `explain --json` names them (failure.kind, failure.operation).
KINDS = {
    "in-use": ("address-in-use", "bind"),
    "permission": ("permission-denied", "bind"),
    "address-not-available": ("address-not-available", "bind"),
    "connect-side": (None, "connect"),
    "unstated": (None, None),
}


PROGRAM_UNNAMED = "a program"


def read(portctl, path):
    with open(path, "rb") as message:
        result = subprocess.run(
            [portctl, "explain", "--json", "-"], stdin=message, capture_output=True, timeout=60)
    try:
        return json.loads(result.stdout).get("failure") or {}
    except ValueError:
        return {}


def kind_right(expected, failure):
    kind, operation = KINDS[expected]
    if expected == "unstated":
        # The message does not say why the bind failed: right is not claiming a cause.
        return failure.get("kind") in (None, "unspecified")
    if operation == "connect":
        return failure.get("operation") == "connect"
    if expected == "permission":
        return failure.get("kind") in ("permission-denied", "access-forbidden") and failure.get("operation") != "connect"
    return failure.get("kind") == kind and failure.get("operation") != "connect"


def address_right(expected, failure):
    if not expected:
        return True
    got = failure.get("address") or failure.get("host")
    return got is not None and got.strip("[]") == expected.strip("[]")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--portctl", default=os.path.join(ROOT, ".build", "debug", "portctl"))
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--corpus", default=CORPUS, help="a directory with a corpus.tsv and its messages")
    options = parser.parse_args()
    with open(os.path.join(options.corpus, "corpus.tsv"), newline="") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t", quoting=csv.QUOTE_NONE))
    totals = {
        "port": [0, 0], "kind": [0, 0], "address": [0, 0], "protocol": [0, 0], "all": [0, 0], "program": [0, 0]}
    misses = []
    for row in rows:
        failure = read(options.portctl, os.path.join(options.corpus, row["file"]))
        checks = {
            "kind": kind_right(row["kind"], failure),
            "address": address_right(row["address"], failure),
            "protocol": row["protocol"] in ("", "unknown") or failure.get("protocol") == row["protocol"],
        }
        if row["kind"] == "unstated" and not failure:
            # Not recognised, as it may be: there is no port or address to compare.
            checks["address"] = True
        elif row["port"]:
            checks["port"] = str(failure.get("port")) == row["port"]
        for name, right in checks.items():
            totals[name][0] += right
            totals[name][1] += 1
        together = all(checks.values())
        totals["all"][0] += together
        totals["all"][1] += 1
        # The program is reported apart: the goals are for the four above together.
        named = failure.get("runtime") == (PROGRAM_UNNAMED if row["program"] == "program" else row["program"])
        totals["program"][0] += named or not failure
        totals["program"][1] += 1
        if failure and not named:
            misses.append(f"{row['file']}: program {failure.get('runtime')!r}, expected {row['program']!r}")
        if not together:
            wrong = ", ".join(name for name, right in checks.items() if not right)
            misses.append(f"{row['file']}: {wrong} (read {json.dumps(failure, sort_keys=True)})")
    print(f"{len(rows)} messages")
    for name, (right, count) in totals.items():
        print(f"{name:9} {right:4}/{count:<4} {100.0 * right / max(count, 1):5.1f}%")
    if options.misses:
        print("\n".join(misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
