"""kazoo judge: kazoo's own test suite (from its pinned sdist) against the server.

kazoo's harness starts its own cluster by running `java ... QuorumPeerMain
<dir>/zoo.cfg`; kazoo/shim/java stands first on PATH and starts the server under
test from that zoo.cfg instead (see the shim). Tests that need an ensemble or a
server restart are skipped with the reason in kazoo/skiplist.txt. Outcomes are
recorded test by test by kazoo/compat_plugin.py.
"""

import json
import os

import results
from judges.common import run_logged, stop_recorded_pids, tail
from servers import ZOOKEEPER_CLASSPATH, ZOOKEEPER_VERSION

NAME = "kazoo"
NEEDS_SERVER = False
KAZOO_VERSION = "2.11.0"
PORT_OFFSET = 22500  # the cluster uses PORT_OFFSET .. PORT_OFFSET+4
PER_TEST_TIMEOUT = 60
BUDGET_SECONDS = int(os.environ.get("COMPAT_KAZOO_BUDGET", "1500"))


def sdist_dir(ctx):
    return ctx.path(".cache", f"kazoo-{KAZOO_VERSION}")


def _env(ctx):
    env = dict(os.environ)
    env.pop("CI", None)  # the suite then asks the server its version (`envi`)
    env.update(
        PATH=ctx.path("kazoo", "shim") + os.pathsep + env.get("PATH", ""),
        PYTHONPATH=os.pathsep.join([sdist_dir(ctx), ctx.path("kazoo")]),
        COMPAT_SERVER=ctx.server,
        COMPAT_PID_FILE=os.path.join(ctx.work_dir, "server-pids"),
        FERROKEEPER_BIN=ctx.ferrokeeper_bin,
        ZOOKEEPER_CLASSPATH=ZOOKEEPER_CLASSPATH,
        ZOOKEEPER_VERSION=ZOOKEEPER_VERSION,
        ZOOKEEPER_PORT_OFFSET=str(PORT_OFFSET),
        ZOOKEEPER_CLUSTER_SIZE="1",
        COMPAT_KAZOO_SKIPLIST=ctx.path("kazoo", "skiplist.txt"),
        COMPAT_KAZOO_OUTCOMES=os.path.join(ctx.work_dir, "outcomes.jsonl"),
    )
    return env


def summarise(outcomes_path):
    """(passed, failed, skipped, failing ids) from the plugin's outcome records.

    A test counts once: failed if any phase failed, skipped if it was skipped,
    passed otherwise; a collected test with no record (cut short) is failed."""
    collected, state = [], {}
    if os.path.exists(outcomes_path):
        with open(outcomes_path) as records:
            for line in records:
                rec = json.loads(line)
                if "collected" in rec:
                    collected = rec["collected"]
                    continue
                old = state.get(rec["nodeid"])
                new = rec["outcome"]
                if old == "failed" or (old == "skipped" and new == "passed"):
                    continue
                state[rec["nodeid"]] = new
    failing = [n for n in collected if state.get(n, "failed") == "failed"]
    skipped = sum(1 for n in collected if state.get(n) == "skipped")
    passed = len(collected) - len(failing) - skipped
    return passed, len(failing), skipped, failing


def run(ctx):
    src = sdist_dir(ctx)
    python = ctx.path(".venv", "bin", "python")
    if not os.path.isdir(src) or not os.path.exists(python):
        return results.unavailable(NAME, ctx.server, "not installed: run compat-tests/install.sh")
    env = _env(ctx)
    pid_file = env["COMPAT_PID_FILE"]
    try:
        probe = run_logged(
            [python, ctx.path("kazoo", "probe.py"), "30"],
            ctx.log("probe.log"),
            timeout=90,
            cwd=src,
            env=env,
        )
    finally:
        stop_recorded_pids(pid_file)
    why = tail(probe.log_path, 1).strip() or f"probe exited with {probe.returncode}"
    if probe.returncode == 1 or probe.timed_out:
        return results.server_down(NAME, ctx.server, why, ctx.reference)
    if probe.returncode != 0:
        return results.Result(NAME, ctx.server, failed=1, note=f"harness error: {why}")
    cmd = [
        python, "-m", "pytest", "kazoo/tests",
        "-p", "compat_plugin", "-p", "no:cacheprovider",
        "-o", "addopts=", "-o", "log_cli=false",
        f"--timeout={PER_TEST_TIMEOUT}", "-rfEs",
        f"--junitxml={ctx.log('junit.xml')}",
    ]  # fmt: skip
    try:
        outcome = run_logged(cmd, ctx.log("pytest.log"), BUDGET_SECONDS, cwd=src, env=env)
    finally:
        stop_recorded_pids(pid_file)
    passed, failed, skipped, failing = summarise(env["COMPAT_KAZOO_OUTCOMES"])
    note = f"{len(failing)} failing" if failing else ""
    if outcome.timed_out:
        note = f"stopped at the {BUDGET_SECONDS}s budget; tests not run count as failed"
    res = results.Result(NAME, ctx.server, passed, failed, skipped, note=note)
    res.failures = failing
    return res
