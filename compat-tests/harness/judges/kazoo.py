"""kazoo judge: kazoo's own test suite (from its pinned sdist) against the server.

kazoo's harness starts its own cluster by running `java ... QuorumPeerMain
<dir>/zoo.cfg`; kazoo/shim/java stands first on PATH and starts the server under
test from that zoo.cfg instead (see the shim). Tests that need an ensemble or a
server restart are skipped with the reason in kazoo/skiplist.txt. Outcomes are
recorded test by test by kazoo/compat_plugin.py; each test module runs in its
own pytest process (see run_suite).
"""

import glob
import json
import os
import time

import results
from judges.common import run_logged, stop_recorded_pids, tail
import servers

NAME = "kazoo"
NEEDS_SERVER = False
KAZOO_VERSION = "2.11.0"
PORT_OFFSET = 22500  # the cluster uses PORT_OFFSET .. PORT_OFFSET+4
PER_TEST_TIMEOUT = 60
# A second try is for a few timing-dependent failures, not for a broken run.
RETRY_AT_MOST = 30
RETRY_SECONDS = 600
BUDGET_SECONDS = int(os.environ.get("COMPAT_KAZOO_BUDGET", "1500"))
# Each test ends after PER_TEST_TIMEOUT by a thread that dumps its stacks; failures, errors and skips reported.
TIMEOUT_ARGS = [f"--timeout={PER_TEST_TIMEOUT}", "--timeout-method=thread", "-rfEs"]


def sdist_dir(ctx):
    return ctx.path(".cache", f"kazoo-{KAZOO_VERSION}")


def _env(ctx, cluster_size="1", port_offset=PORT_OFFSET, skiplist="skiplist.txt"):
    env = dict(os.environ)
    env.pop("CI", None)  # the suite then asks the server its version (`envi`)
    env.update(
        PATH=ctx.path("kazoo", "shim") + os.pathsep + env.get("PATH", ""),
        PYTHONPATH=os.pathsep.join([sdist_dir(ctx), ctx.path("kazoo")]),
        COMPAT_SERVER=ctx.server,
        COMPAT_PID_FILE=os.path.join(ctx.work_dir, "server-pids"),
        FERROKEEPER_BIN=ctx.ferrokeeper_bin,
        ZOOKEEPER_CLASSPATH=servers.reference().classpath(),
        ZOOKEEPER_VERSION=servers.reference().version,
        ZOOKEEPER_PORT_OFFSET=str(port_offset),
        ZOOKEEPER_CLUSTER_SIZE=cluster_size,
        COMPAT_KAZOO_SKIPLIST=ctx.path("kazoo", skiplist),
        COMPAT_KAZOO_OUTCOMES=os.path.join(ctx.work_dir, "outcomes.jsonl"),
    )
    if ctx.layout:
        env["COMPAT_MIX"] = ctx.layout  # kazoo/shim/java starts member N as the Nth letter says
    return env


def leader_at_start(ctx, probe_log):
    """`leader at start: member N (kind)` from the probe's log, when it saw the cluster elect ('' otherwise)."""
    try:
        with open(probe_log, errors="replace") as log:
            lines = log.read().splitlines()
    except OSError:
        return ""
    for line in lines:
        if line.startswith("leader: member "):
            sid = int(line.split()[-1])
            kind = ctx.server
            if ctx.layout and sid <= len(ctx.layout):
                kind = servers.MEMBER_KINDS[ctx.layout[sid - 1]]
            return f"leader at start: member {sid} ({servers.kind_name(kind)})"
    return ""


def summarise(outcomes_path):
    """(passed, failed, skipped, failing ids) from the plugin's outcome records.

    A test counts once: failed if any phase failed, skipped if it was skipped,
    passed otherwise; a collected test with no record (cut short) is failed."""
    collected, seen, state = [], set(), {}
    if os.path.exists(outcomes_path):
        with open(outcomes_path) as records:
            for line in records:
                rec = json.loads(line)
                if "collected" in rec:
                    collected += [n for n in rec["collected"] if n not in seen]
                    seen.update(rec["collected"])
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


def pytest_command(python):
    """pytest with the outcome plugin, no cache, and none of kazoo's own addopts or live logging."""
    return [python, "-m", "pytest", "-p", "compat_plugin", "-p", "no:cacheprovider",
            "-o", "addopts=", "-o", "log_cli=false"]  # fmt: skip


def run_suite(ctx, python, src, env):
    """Collect the whole suite once, then run it one test module per pytest process.

    A test stuck where pytest-timeout's signal cannot reach it would stop the whole
    suite; with the thread method a stuck test ends only its own module's process
    (its stacks are dumped into that module's log), the servers it left are
    stopped, and the next module runs. Returns True if the budget ran out."""
    logs = os.path.join(ctx.work_dir, "pytest")
    os.makedirs(logs)
    common = pytest_command(python)
    collect = common + ["--collect-only", "-q", "kazoo/tests"]
    run_logged(collect, os.path.join(logs, "collect.log"), 120, cwd=src, env=env)
    modules = sorted(glob.glob(os.path.join(src, "kazoo", "tests", "test_*.py")))
    deadline = time.monotonic() + BUDGET_SECONDS
    for module in modules:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        name = os.path.basename(module)
        cmd = common + TIMEOUT_ARGS + [f"kazoo/tests/{name}"]
        log = os.path.join(logs, name[:-3] + ".log")
        try:
            outcome = run_logged(cmd, log, remaining, cwd=src, env=env)
        finally:
            stop_recorded_pids(env["COMPAT_PID_FILE"])
        if outcome.timed_out:
            return True
    return False


def retry_failures(ctx, python, src, env, failing):
    """Runs the failed tests once more, in one pytest process; returns (those that passed, those skipped).

    kazoo's suite has timing-dependent tests (session expiry, connection loss) that can fail
    on a loaded machine against either server; a second try tells them from real failures,
    and the note names every test that needed it. A test that skips itself on the second try (its
    setUp failed the first time, before it could) counts as skipped."""
    if len(failing) > RETRY_AT_MOST:
        return set(), set()
    retry_env = dict(env, COMPAT_KAZOO_OUTCOMES=os.path.join(ctx.work_dir, "retry-outcomes.jsonl"))
    cmd = pytest_command(python) + TIMEOUT_ARGS + list(failing)
    log = os.path.join(ctx.work_dir, "pytest", "retry.log")
    try:
        run_logged(cmd, log, RETRY_SECONDS, cwd=src, env=retry_env)
    finally:
        stop_recorded_pids(env["COMPAT_PID_FILE"])
    return second_try(retry_env["COMPAT_KAZOO_OUTCOMES"], failing)


def second_try(outcomes, failing):
    """(passed, skipped): the tests of `failing` whose second run, recorded in `outcomes`, passed every phase it
    ran, or skipped; a test with no record, or a failed phase, is neither."""
    state = {}
    if os.path.exists(outcomes):
        with open(outcomes) as records:
            for line in records:
                rec = json.loads(line)
                node, outcome = rec.get("nodeid"), rec.get("outcome")
                if not node or state.get(node) == "failed":
                    continue
                if outcome == "failed" or (outcome == "skipped" and state.get(node) != "failed"):
                    state[node] = outcome
                elif outcome == "passed":
                    state.setdefault(node, "passed")
    passed = {n for n in failing if state.get(n) == "passed"}
    skipped = {n for n in failing if state.get(n) == "skipped"}
    return passed, skipped


def run(ctx):
    return judge(ctx, NAME, _env(ctx))


def judge(ctx, name, env):
    """kazoo's suite with kazoo's harness configured by `env` (see _env); the result is named `name`."""
    src = sdist_dir(ctx)
    python = ctx.path(".venv", "bin", "python")
    if not os.path.isdir(src) or not os.path.exists(python):
        return results.unavailable(name, ctx.server, "not installed: run compat-tests/install.sh")
    if ctx.server == "zookeeper" and servers.reference().installed():
        return results.unavailable(name, ctx.server, servers.reference().installed())
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
        return results.server_down(name, ctx.server, why, ctx.reference)
    if probe.returncode != 0:
        return results.Result(name, ctx.server, failed=1, note=f"harness error: {why}")
    timed_out = run_suite(ctx, python, src, env)
    passed, failed, skipped, failing = summarise(env["COMPAT_KAZOO_OUTCOMES"])
    note = ""
    if timed_out:
        note = f"stopped at the {BUDGET_SECONDS}s budget; tests not run count as failed"
    elif failing:
        second, skipped_then = retry_failures(ctx, python, src, env, failing)
        failing = [n for n in failing if n not in second and n not in skipped_then]
        passed, failed = passed + len(second), failed - len(second) - len(skipped_then)
        skipped += len(skipped_then)
        notes = []
        if second:
            notes.append(f"{len(second)} passed on a second try: " + ", ".join(sorted(second)))
        if skipped_then:
            notes.append(f"{len(skipped_then)} skipped on a second try: " + ", ".join(sorted(skipped_then)))
        note = "; ".join(notes)
    if ctx.layout:
        started = leader_at_start(ctx, probe.log_path)
        note = "; ".join(n for n in (note, f"members by id {ctx.layout}", started) if n)
    res = results.Result(name, ctx.server, passed, failed, skipped, note=note)
    res.failures = failing
    return res
