"""node judge: our smoke suite (node/test) over node-zookeeper-client, pinned in
node/package-lock.json, run with node's built-in test runner against the server."""

import glob
import os
import re
import shutil

import results
from judges.common import run_logged

NAME = "node"
NEEDS_SERVER = True
TIMEOUT_SECONDS = 300
SUMMARY = re.compile(r"^# (pass|fail|skipped|cancelled|todo) (\d+)$")
NOT_OK = re.compile(r"^not ok \d+ - (.*)$")


def parse_tap(path):
    counts, failures = {}, []
    with open(path, errors="replace") as tap:
        for line in tap:
            line = line.rstrip("\n")
            m = SUMMARY.match(line)
            if m:
                counts[m.group(1)] = int(m.group(2))
            m = NOT_OK.match(line)  # top level only: subtests are indented
            if m:
                failures.append(m.group(1))
    return counts, failures


def run(ctx):
    node_dir = ctx.path("node")
    module = os.path.join(node_dir, "node_modules", "node-zookeeper-client")
    if shutil.which("node") is None or not os.path.isdir(module):
        return results.unavailable(NAME, ctx.server, "not installed: run compat-tests/install.sh")
    tests = sorted(glob.glob(os.path.join(node_dir, "test", "*.test.js")))
    env = dict(os.environ, COMPAT_ZK_ADDRESS=ctx.address)
    outcome = run_logged(
        ["node", "--test", "--test-reporter=tap"] + tests,
        ctx.log("tap.log"),
        timeout=TIMEOUT_SECONDS,
        cwd=node_dir,
        env=env,
    )
    counts, failures = parse_tap(outcome.log_path)
    res = results.Result(
        NAME,
        ctx.server,
        passed=counts.get("pass", 0),
        failed=counts.get("fail", 0) + counts.get("cancelled", 0),
        skipped=counts.get("skipped", 0) + counts.get("todo", 0),
        failures=failures,
    )
    if outcome.timed_out or not counts:
        res.failed = max(res.failed, 1, ctx.reference.passed if ctx.reference else 1)
        res.note = f"the test runner did not finish (exit {outcome.returncode}; see tap.log)"
    return res
