#!/usr/bin/env python3
"""Validate the judge itself: run diff.py with A and B both a real Apache ZooKeeper.

    selfcheck.py [--seeds 1,2,3] [--ops 10000] [--sessions 4] [--ports 23001,23002] [--mutate-op 500]

For each seed, two fresh ZooKeeper servers (zkserver.py) are started and diff.py must report failed=0: any
divergence between two identical servers is a normalisation bug in the judge. Then one more run flips one bit of
server B's reply to operation --mutate-op (--self-test-mutate) and must report exactly failed=1, which shows that a
wrong reply is caught and that one wrong reply does not cascade into later operations. Exit 0 iff all hold.
"""

import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zkserver  # noqa: E402

DIFF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "diff.py")
RESULT = re.compile(r"^RESULT passed=(\d+) failed=(\d+)$")


def run_pair(ports, seed, ops, extra):
    servers = [zkserver.ZkServer(p) for p in ports]
    try:
        for s in servers:
            s.wait_ready()
        cmd = [sys.executable, DIFF, "--a", f"127.0.0.1:{ports[0]}", "--b", f"127.0.0.1:{ports[1]}",
               "--seed", str(seed), "--ops", str(ops)] + extra
        start = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        elapsed = time.monotonic() - start
    finally:
        for s in servers:
            s.stop()
    lines = proc.stdout.strip().splitlines()
    m = RESULT.match(lines[-1]) if lines else None
    if not m:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        raise SystemExit(f"seed {seed}: no RESULT line (exit {proc.returncode})")
    return int(m.group(1)), int(m.group(2)), proc.returncode, elapsed, proc.stdout


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--ops", type=int, default=10000)
    p.add_argument("--ports", default="23001,23002")
    p.add_argument("--mutate-op", type=int, default=500)
    p.add_argument("--sessions", type=int, default=4)
    args = p.parse_args()
    ports = [int(x) for x in args.ports.split(",")]
    ok = True
    for seed in [int(s) for s in args.seeds.split(",")]:
        passed, failed, rc, elapsed, out = run_pair(ports, seed, args.ops, ["--sessions", str(args.sessions)])
        good = failed == 0 and rc == 0
        ok &= good
        print(f"seed {seed}: passed={passed} failed={failed} exit={rc} in {elapsed:.1f}s "
              f"{'ok' if good else 'FAILED'}", flush=True)
        if not good:
            print(out[-20000:])
    seed = int(args.seeds.split(",")[0])
    passed, failed, rc, elapsed, out = run_pair(ports, seed, min(args.ops, 2 * args.mutate_op), [
        "--self-test-mutate", str(args.mutate_op)])
    good = failed == 1 and rc == 1
    ok &= good
    print(f"mutated run (seed {seed}, bit flipped in B's reply to op {args.mutate_op}): passed={passed} "
          f"failed={failed} exit={rc} {'ok' if good else 'FAILED'}")
    if not good:
        print(out[-20000:])
    print(f"{int(ok)} passed, {int(not ok)} failed: selfcheck")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
