"""hostile judge: what an outsider can send on the client port, answered by Apache ZooKeeper and compared.

The cases (compat-tests/hostile/cases.py, data) are server-internal opcodes a client can send (deleteContainer,
createSession, closeSession, error, reconfig while disabled, a top-level check, unknown numbers, ...), bad
paths, malformed frames (negative and oversized lengths, truncated records, bytes before the handshake) and auth
floods. Each case is run on a fresh Apache ZooKeeper (the reference) and on the server under test, both started once
for every zoo.cfg the cases need (the shared one on 22150 and 22151; the keys a case's `config` adds, such as
enforce.auth, on the next two ports; every case has its own paths), and what an outsider observes is
compared (hostile/probe.py): every reply header (xid, err, zxid relative to the zxid before the attack), whether
the connection was closed, and what the attack left behind. A case passes when both observations are equal; a
case whose observation differs but matches what ZooKeeper 3.9 observes (the case's `v39`) is skipped as a known
3.8/3.9 difference, and one that matches the case's `deliberate` answer (ferrokeeper only; cases.py says why) as
a deliberate divergence; any other difference fails, with both observations in failures.txt.
"""

import json
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


def _groups(cases):
    """The cases by the zoo.cfg keys they need (`config`), in order of first appearance."""
    groups = {}
    for case in cases:
        groups.setdefault(json.dumps(case.get("config", {}), sort_keys=True), []).append(case)
    return [(json.loads(key), group) for key, group in groups.items()]


def run(ctx):
    if not os.path.exists(ctx.path("hostile", "cases.py")):
        return results.unavailable(NAME, ctx.server, "not available: compat-tests/hostile/cases.py is missing")
    cases, probe = _load_cases(ctx)
    res = results.Result(NAME, ctx.server)
    known, deliberate = [], []
    with open(ctx.log("cases.log"), "w") as log:
        for offset, (extra_cfg, group) in enumerate(_groups(cases)):
            ports = (REFERENCE_PORT + 2 * offset, UNDER_TEST_PORT + 2 * offset)
            reference = ctx.start_server("zookeeper", ports[0], extra_cfg=extra_cfg)
            under_test = ctx.start_server(ctx.server, ports[1], extra_cfg=extra_cfg)
            try:
                if reference.error:
                    res.skipped += len(group)
                    res.failures.append(f"the reference did not start with {extra_cfg}: {reference.error}")
                    continue
                if under_test.error:
                    res.failed += len(group)
                    res.failures.append(f"{ctx.server} did not start with {extra_cfg}: {under_test.error}")
                    continue
                for case in group:
                    verdict = _compare(ctx, probe, case, ports, res, known, deliberate)
                    want, got = verdict[1], verdict[2]
                    log.write(f"{verdict[0]} {case['name']}\n  zookeeper:   {want!r}\n  {ctx.server}: {got!r}\n")
                    log.flush()
            finally:
                reference.stop()
                under_test.stop()
    res.note = f"{len(cases)} cases (opcodes, paths, frames, floods)"
    down = [f for f in res.failures if "did not start" in f]
    if down:
        res.note += f"; {len(down)} server(s) did not start"
    if known:
        res.note += f"; {len(known)} known 3.8/3.9 difference(s): {', '.join(known)}"
    if deliberate:
        res.note += f"; {len(deliberate)} deliberate divergence(s): {', '.join(deliberate)}"
    return res


def _compare(ctx, probe, case, ports, res, known, deliberate):
    """Runs one case on both servers and counts it; returns (verdict, reference's, server under test's)."""
    want = _observe(probe, ports[0], case)
    got = _observe(probe, ports[1], case)
    if got == want:
        res.passed += 1
        return "PASS", want, got
    if "v39" in case and _matches(got, case["v39"]):
        res.skipped += 1
        known.append(case["name"])
        return "KNOWN 3.8/3.9 difference", want, got
    if ctx.server == "ferrokeeper" and "deliberate" in case and _matches(got, case["deliberate"]):
        res.skipped += 1
        deliberate.append(case["name"])
        return "DELIBERATE divergence", want, got
    res.failed += 1
    res.failures.append(f"{case['name']}: zookeeper {want!r}; {ctx.server} {got!r}")
    return "FAIL", want, got
