"""Entry point of the compatibility harness (called by compat-tests/run.sh).

Starts the chosen server from the shared zoo.cfg, runs the judges one after the
other (each against a fresh server), stops every server by its PID, prints the
table with the reference's figures beside ours, rewrites RESULTS.md and, with
--ratchet, fails when a judge passes fewer checks than RESULTS.md records.

--reference picks the Apache ZooKeeper release the judges compare with (the
live reference servers, zkCli, the recorded transcripts); RESULTS.md keeps rows
per reference: `zookeeper-<version>` for the release itself, `ferrokeeper
(<version>)` for ferrokeeper judged against it.
"""

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import results  # noqa: E402
from judges.common import Context  # noqa: E402
import servers  # noqa: E402
from servers import Server  # noqa: E402

COMPAT_DIR = os.path.dirname(HERE)
REPO_DIR = os.path.dirname(COMPAT_DIR)
RESULTS_MD = os.path.join(COMPAT_DIR, "RESULTS.md")
JUDGES = ["kazoo", "curator", "cli", "node", "differential", "interchange", "ops", "hostile", "sasl", "kazoo-ensemble"]
# Client port of the server run.py starts for each judge (all in 22000-22999;
# kazoo's cluster uses 22500-22504, see judges/kazoo.py; interchange starts its own
# servers on 23100-23107, the ops judge its own in 24000-24999, see judges/ops.py; hostile
# its own on 22150-22153, see judges/hostile.py).
JUDGE_PORTS = {"curator": 22110, "cli": 22120, "node": 22130, "differential": 22140}
# The judges whose servers can be ensembles (--ensemble): each talks to its server through one client address,
# which is then a follower's. (The differential judge's random operations read from several sessions without
# syncing, which a follower may answer from before a write another session made through it was committed: two
# Apache ZooKeeper ensembles already differ there, so it is not run on followers.)
ENSEMBLE_JUDGES = ["curator", "cli", "node"]


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="compat-tests/run.sh",
        description="Run real ZooKeeper clients against a server and count what passes.",
    )
    parser.add_argument("--server", required=True, choices=["ferrokeeper", "zookeeper"])
    parser.add_argument(
        "--reference",
        choices=list(servers.REFERENCES),
        default=servers.DEFAULT_REFERENCE,
        help="the Apache ZooKeeper release judged against (default %(default)s: "
        + ", ".join(f"{k} = {r.version}" for k, r in servers.REFERENCES.items())
        + ")",
    )
    parser.add_argument(
        "--judge", action="append", choices=JUDGES, help="run only this judge (repeatable)"
    )
    parser.add_argument(
        "--ratchet",
        action="store_true",
        help="exit non-zero when a judge passes fewer checks than RESULTS.md records",
    )
    parser.add_argument(
        "--no-build",
        action="store_true",
        help="do not run `cargo build --release` before testing ferrokeeper",
    )
    parser.add_argument(
        "--no-record", action="store_true", help="leave RESULTS.md as it is"
    )
    parser.add_argument(
        "--ensemble",
        type=int,
        default=0,
        metavar="N",
        help="run every server as an ensemble of N members of its kind, clients on a follower ("
        + ", ".join(ENSEMBLE_JUDGES)
        + " only)",
    )
    args = parser.parse_args(argv)
    if args.ensemble:
        if args.ensemble < 2:
            parser.error("--ensemble needs at least 2 members")
        others = [j for j in (args.judge or JUDGES) if j not in ENSEMBLE_JUDGES]
        if others:
            parser.error(f"--ensemble is for {', '.join(ENSEMBLE_JUDGES)}; not for {', '.join(others)}")
    return args


def ferrokeeper_binary(args):
    """The binary to test; built with cargo when FERROKEEPER_BIN is not given."""
    given = os.environ.get("FERROKEEPER_BIN")
    if given:
        return os.path.abspath(given)
    binary = os.path.join(REPO_DIR, "target", "release", "ferrokeeper")
    if args.server == "ferrokeeper" and not args.no_build:
        print("building ferrokeeper: cargo build --release", flush=True)
        build = subprocess.run(
            ["cargo", "build", "--release"],
            cwd=REPO_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if build.returncode != 0:
            print(build.stdout[-3000:])
            print("cargo build --release failed; the judges run against no server")
    return binary


def row_server(server, ref, ensemble=0):
    """The server's name in RESULTS.md: the reference release, or ferrokeeper and the release it was judged
    against; with `ensemble`, a follower of an ensemble of that many members."""
    name = ref.name if server == "zookeeper" else f"ferrokeeper ({ref.version})"
    return f"{name} follower of {ensemble}" if ensemble else name


def run_judge(name, args, ferrokeeper_bin, recorded):
    module = importlib.import_module(f"judges.{name.replace('-', '_')}")
    ref = servers.reference()
    row = row_server(args.server, ref, args.ensemble)
    work_dir = os.path.join(COMPAT_DIR, ".work", row.replace(" ", ""), name)
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    started_servers = []

    def start_server(kind, port, jvm_props=(), extra_cfg=None):
        if args.ensemble:
            server = servers.Ensemble(kind, port, ferrokeeper_bin, work_dir, args.ensemble, jvm_props, extra_cfg)
        else:
            server = Server(kind, port, ferrokeeper_bin, work_dir, jvm_props, extra_cfg)
        started_servers.append(server)
        server.start()
        return server

    ctx = Context(
        server=args.server,
        compat_dir=COMPAT_DIR,
        work_dir=work_dir,
        ferrokeeper_bin=ferrokeeper_bin,
        reference=recorded.get((name, row_server("zookeeper", ref, args.ensemble))),
        start_server=start_server,
    )
    began = time.monotonic()
    try:
        if module.NEEDS_SERVER:
            server = start_server(args.server, JUDGE_PORTS[name])
            if server.error:
                res = results.server_down(name, args.server, server.error, ctx.reference)
            else:
                ctx.address = server.address
                res = module.run(ctx)
        else:
            res = module.run(ctx)
    finally:
        for server in started_servers:
            server.stop()
    res.server = row
    res.seconds = time.monotonic() - began
    res.date = results.today()
    if res.failures:
        with open(os.path.join(work_dir, "failures.txt"), "w") as out:
            out.write("\n".join(res.failures) + "\n")
    return res


def main(argv):
    args = parse_args(argv)
    # Set before anything starts: the judges' own processes (kazoo's java shim, the CLI) read it too.
    os.environ[servers.REFERENCE_ENV] = args.reference
    ref = servers.reference()
    judges = args.judge or JUDGES
    recorded = results.load(RESULTS_MD)
    ferrokeeper_bin = ferrokeeper_binary(args)
    began = time.monotonic()
    done = []
    for name in judges:
        print(f"== {name} against {row_server(args.server, ref, args.ensemble)}", flush=True)
        res = run_judge(name, args, ferrokeeper_bin, recorded)
        done.append(res)
        shown = "not available" if not res.available else (
            f"{res.passed} passed, {res.failed} failed, {res.skipped} skipped"
        )
        print(f"   {shown} in {res.seconds:.0f}s {res.note}".rstrip(), flush=True)
    references = {name: recorded.get((name, row_server("zookeeper", ref, args.ensemble))) for name in judges}
    print()
    print(results.table(done, references))
    print(f"\ntotal time {time.monotonic() - began:.0f}s; logs under compat-tests/.work/")
    if not args.no_record:
        # Read again: rows another run recorded meanwhile (a hand-run against another reference) are kept.
        rows = results.load(RESULTS_MD)
        for res in done:
            rows[(res.judge, res.server)] = res
        results.save(RESULTS_MD, rows)
    if args.ratchet:
        regressions = results.ratchet(done, recorded)
        for line in regressions:
            print(f"ratchet: {line}")
        if regressions:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
