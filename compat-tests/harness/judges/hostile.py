"""hostile judge: what an outsider can send on the client port, answered by Apache ZooKeeper and compared.

The cases (compat-tests/hostile/cases.py, data) are server-internal opcodes a client can send (deleteContainer,
createSession, closeSession, error, reconfig while disabled, a top-level check, unknown numbers, ...), bad
paths, malformed frames (negative and oversized lengths, truncated records, bytes before the handshake) and auth
floods. Each case is run on a fresh Apache ZooKeeper (the reference) and on the server under test, both started
once for the whole run from the shared zoo.cfg (every case has its own paths), and what an outsider observes is
compared (hostile/probe.py): every reply header (xid, err, zxid relative to the zxid before the attack), whether
the connection was closed, and what the attack left behind. A case passes when both observations are equal; a
case whose observation differs but matches what ZooKeeper 3.9 observes (the case's `v39`) is skipped as a known
3.8/3.9 difference, and one that matches the case's `deliberate` answer (ferrokeeper only; cases.py says why) as
a deliberate divergence; any other difference fails, with both observations in failures.txt.
"""

import os
import sys

import results

NAME = "hostile"
NEEDS_SERVER = False
REFERENCE_PORT = 22150
UNDER_TEST_PORT = 22151


def _load_cases(ctx):
    sys.path.insert(0, ctx.path("hostile"))
    import cases  # noqa: E402
    import probe  # noqa: E402

    return cases.CASES, probe


def _observe(probe, port, case):
    """The probe's observation; an answer the probe cannot decode is an observation too, not a crash."""
    try:
        return probe.observe("127.0.0.1", port, case)
    except Exception as err:  # noqa: BLE001 - any decoding failure is what this server answered
        return {"probe error": f"{type(err).__name__}: {err}"}


def _matches(observed, expected):
    return all(observed.get(key) == value for key, value in expected.items())


def run(ctx):
    if not os.path.exists(ctx.path("hostile", "cases.py")):
        return results.unavailable(NAME, ctx.server, "not available: compat-tests/hostile/cases.py is missing")
    cases, probe = _load_cases(ctx)
    res = results.Result(NAME, ctx.server)
    reference = ctx.start_server("zookeeper", REFERENCE_PORT)
    under_test = ctx.start_server(ctx.server, UNDER_TEST_PORT)
    if reference.error:
        res.skipped = len(cases)
        res.note = f"the reference did not start: {reference.error}"
        return res
    if under_test.error:
        res.failed = len(cases)
        res.failures.append(under_test.error)
        res.note = f"server not serving: {under_test.error}"
        return res
    log_path = ctx.log("cases.log")
    known, deliberate = [], []
    with open(log_path, "w") as log:
        for case in cases:
            want = _observe(probe, REFERENCE_PORT, case)
            got = _observe(probe, UNDER_TEST_PORT, case)
            if got == want:
                res.passed += 1
                verdict = "PASS"
            elif "v39" in case and _matches(got, case["v39"]):
                res.skipped += 1
                known.append(case["name"])
                verdict = "KNOWN 3.8/3.9 difference"
            elif ctx.server == "ferrokeeper" and "deliberate" in case and _matches(got, case["deliberate"]):
                res.skipped += 1
                deliberate.append(case["name"])
                verdict = "DELIBERATE divergence"
            else:
                res.failed += 1
                verdict = "FAIL"
                res.failures.append(f"{case['name']}: zookeeper {want!r}; {ctx.server} {got!r}")
            log.write(f"{verdict} {case['name']}\n  zookeeper:   {want!r}\n  {ctx.server}: {got!r}\n")
            log.flush()
    res.note = f"{len(cases)} cases (opcodes, paths, frames, floods)"
    if known:
        res.note += f"; {len(known)} known 3.8/3.9 difference(s): {', '.join(known)}"
    if deliberate:
        res.note += f"; {len(deliberate)} deliberate divergence(s): {', '.join(deliberate)}"
    return res
