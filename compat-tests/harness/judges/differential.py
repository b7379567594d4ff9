"""differential judge: differential/diff.py, the same seeded random operations
sent to a fresh Apache ZooKeeper (--a) and a fresh server under test (--b).

With run.py --ensemble or --mix both are ensembles and diff.py talks to each one's leader (with --ensemble).
Every seed gets two fresh servers, both started from the shared zoo.cfg with
the container manager held idle (diff.py's requirement: when it fires is not
deterministic). A seed counts its matched operations as passed, the operations
diff.py reports as a known version difference (ferrokeeper answering as the
later releases do where the reference, 3.8.x, predates a change) as skipped, and every other operation of the seed
(diverged, or never compared because the run stopped) as failed, so the totals
do not depend on where a run stops.
"""

import os
import re

import results
import servers
from judges.common import run_logged

NAME = "differential"
NEEDS_SERVER = False
REFERENCE_PORT = 22140
UNDER_TEST_PORT = 22141
SEEDS = [int(s) for s in os.environ.get("COMPAT_DIFF_SEEDS", "1,2,3").split(",")]
OPS = int(os.environ.get("COMPAT_DIFF_OPS", "5000"))
SEED_TIMEOUT = 900
CONTAINERS_IDLE = "-Dznode.container.checkIntervalMs=3600000"
RESULT = re.compile(r"^RESULT passed=(\d+) failed=(\d+)\s*$")
KNOWN = re.compile(r"^known version difference x(\d+):")


def parse_result(path):
    """(passed, failed) from the last RESULT line, or None."""
    found = None
    with open(path, errors="replace") as log:
        for line in log:
            m = RESULT.match(line.strip())
            if m:
                found = (int(m.group(1)), int(m.group(2)))
    return found


def parse_known(path):
    """Operations diff.py set aside as a documented 3.8/3.9 difference (neither passed nor failed)."""
    known = 0
    with open(path, errors="replace") as log:
        for line in log:
            m = KNOWN.match(line.strip())
            if m:
                known += int(m.group(1))
    return known


def run_seed(ctx, script, seed, res):
    reference = ctx.start_server("zookeeper", REFERENCE_PORT, [CONTAINERS_IDLE], reference=True)
    under_test = ctx.start_server(ctx.server, UNDER_TEST_PORT, [CONTAINERS_IDLE])
    try:
        if reference.error:
            res.skipped += OPS
            res.failures.append(f"seed {seed}: reference did not start: {reference.error}")
            return
        if under_test.error:
            res.failed += OPS
            res.failures.append(f"seed {seed}: {under_test.error}")
            return
        cmd = [
            "python3", script,
            "--a", reference.address, "--b", under_test.address,
            "--seed", str(seed), "--ops", str(OPS),
            "--reference-version", servers.reference().version,
        ]  # fmt: skip
        if isinstance(under_test, servers.Ensemble):
            cmd.append("--ensemble")  # see diff.py: what stops an Apache ZooKeeper ensemble is not sent
        outcome = run_logged(cmd, ctx.log(f"seed-{seed}.log"), SEED_TIMEOUT)
        found = parse_result(outcome.log_path)
        passed = min(found[0], OPS) if found else 0
        known = min(parse_known(outcome.log_path), OPS - passed) if found else 0
        res.passed += passed
        res.skipped += known
        res.failed += OPS - passed - known
        if found is None or found[1] or passed + known < OPS:
            why = f"RESULT passed={found[0]} failed={found[1]}" if found else "no RESULT line"
            if outcome.timed_out:
                why += f", stopped after {SEED_TIMEOUT}s"
            res.failures.append(f"seed {seed}: {why}; see seed-{seed}.log")
    finally:
        reference.stop()
        under_test.stop()


def run(ctx):
    script = ctx.path("differential", "diff.py")
    if not os.path.exists(script):
        return results.unavailable(
            NAME, ctx.server, "not available: compat-tests/differential/diff.py is missing"
        )
    res = results.Result(NAME, ctx.server)
    for seed in SEEDS:
        run_seed(ctx, script, seed, res)
    res.note = f"seeds {','.join(map(str, SEEDS))} x {OPS} ops"
    down = [f for f in res.failures if "did not open" in f or "exited with status" in f]
    if down:
        res.note += f"; server not serving for {len(down)} seed(s)"
    if any("reference did not start" in f for f in res.failures):
        res.note += "; the reference did not start for some seeds"
    elif res.skipped:
        res.note += f"; {res.skipped} known differences of {servers.reference().name}"
    return res
