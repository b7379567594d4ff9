"""cli judge: scripted zkCli.sh and cli_mt sessions, compared command by command.

Each command of each session (cli/sessions/) is two checks: its normalised
output against the server under test equals the transcript recorded from the
reference release (cli/expected/VERSION/; the Java CLI is that release's zkCli),
and equals the output of the same session run live
against a fresh Apache ZooKeeper started beside it. See cli/transcript.py for
the normalisation.
"""

import difflib
import os
import sys

import results
import servers

NAME = "cli"
NEEDS_SERVER = True
REFERENCE_PORT = 22121


def _compare(out, label, got, want):
    if got == want:
        out.write(f"PASS {label}\n")
        return True
    out.write(f"FAIL {label}: output differs\n")
    for line in difflib.unified_diff(want, got, "expected", "got", lineterm="", n=2):
        out.write(f"    {line}\n")
    return False


def _check_session(out, name, got, recorded, live):
    """Write the checks of one session; returns (passed, failed, skipped, failing)."""
    passed = failed = skipped = 0
    failing = []
    for i, (cmd, lines) in enumerate(got):
        for kind, ref in (("recorded", recorded), ("live", live)):
            label = f"{kind} {name}#{i + 1} {cmd}"
            if ref is None:
                out.write(f"SKIP {label}: no {kind} reference\n")
                skipped += 1
                continue
            want = ref[i] if i < len(ref) else ("<missing>", ["<no such command>"])
            if want[0] != cmd:
                want = (cmd, [f"<reference has {want[0]!r} here: re-record>"])
            if _compare(out, label, lines, want[1]):
                passed += 1
            else:
                failed += 1
                failing.append(label)
    return passed, failed, skipped, failing


def run(ctx):
    sys.path.insert(0, ctx.path("cli"))
    import transcript  # noqa: E402  (cli/transcript.py)

    missing = [t for t in (transcript.CLI_MT,) if not os.path.exists(t)]
    if missing or servers.reference().installed():
        why = servers.reference().installed() or f"missing {', '.join(missing)}: run compat-tests/install.sh"
        return results.unavailable(NAME, ctx.server, why)

    reference = ctx.start_server("zookeeper", REFERENCE_PORT, reference=True)
    ref_address = None if reference.error else reference.address
    res = results.Result(NAME, ctx.server)
    if reference.error:
        res.note = f"live reference unavailable: {reference.error}"
    with open(ctx.log("checks.log"), "w") as out:
        for name in transcript.session_names():
            got = transcript.transcript(ctx.address, name)
            try:
                recorded = transcript.load_expected(name)
            except FileNotFoundError:
                recorded = None
            live = transcript.transcript(ref_address, name) if ref_address else None
            with open(os.path.join(ctx.work_dir, f"{name}.txt"), "w") as raw:
                raw.write(transcript.render(got))
            p, f, s, failing = _check_session(out, name, got, recorded, live)
            res.passed += p
            res.failed += f
            res.skipped += s
            res.failures += failing
    return res
