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
# The judges whose servers can be ensembles (--ensemble, --mix): each talks to its server through one client
# address, a follower's. The differential judge is sent to the leader of each ensemble instead (LEADER_JUDGES),
# or to a follower of each with --differential-member follower (see README.md).
ENSEMBLE_JUDGES = ["curator", "cli", "node"]
LEADER_JUDGES = ["differential"]
# The judges --kill-leader runs (against a follower of the ensemble the survivors elect).
KILL_LEADER_JUDGES = ENSEMBLE_JUDGES
# The judges --mix runs: those above, and kazoo's suite on kazoo's own three-member cluster made of the layout.
MIX_JUDGES = ENSEMBLE_JUDGES + LEADER_JUDGES + ["kazoo-ensemble"]


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
    parser.add_argument(
        "--mix",
        metavar="LAYOUT",
        help="make the server under test a mixed ensemble: one letter per member by id, f = ferrokeeper, "
        "z = Apache ZooKeeper of --reference (e.g. fzz: clients on member 1, ferrokeeper; "
        + ", ".join(MIX_JUDGES)
        + " only; with --server ferrokeeper)",
    )
    parser.add_argument(
        "--kill-leader",
        action="store_true",
        help="kill the ensemble's leader with SIGKILL once it has formed and judge a follower of the members "
        "that survive (with --ensemble or --mix; " + ", ".join(KILL_LEADER_JUDGES) + " only)",
    )
    parser.add_argument(
        "--differential-member",
        choices=["leader", "follower"],
        default="leader",
        help="the member of each ensemble the differential judge talks to (default %(default)s)",
    )
    args = parser.parse_args(argv)
    judges = args.judge or JUDGES
    if args.mix:
        try:
            args.layout = servers.parse_layout(args.mix)
        except ValueError as err:
            parser.error(f"--mix {err}")
        if args.server != "ferrokeeper":
            parser.error("--mix is for --server ferrokeeper (the layout names the Apache ZooKeeper members)")
        if args.ensemble and args.ensemble != len(args.layout):
            parser.error(f"--ensemble {args.ensemble} and --mix {args.mix} disagree on the number of members")
        args.ensemble = len(args.layout)
        allowed = MIX_JUDGES
        if "kazoo-ensemble" in judges and len(args.layout) != 3:
            parser.error("kazoo-ensemble's cluster has 3 members: --mix needs 3 letters")
    else:
        args.layout = None
        allowed = ENSEMBLE_JUDGES + LEADER_JUDGES
    if args.kill_leader:
        if not args.ensemble:
            parser.error("--kill-leader needs --ensemble N or --mix LAYOUT")
        if args.ensemble < 3:
            parser.error("--kill-leader needs at least 3 members (the survivors must be a majority)")
        allowed = KILL_LEADER_JUDGES
    if args.ensemble:
        if args.ensemble < 2:
            parser.error("--ensemble needs at least 2 members")
        others = [j for j in judges if j not in allowed]
        if others:
            what = "--kill-leader" if args.kill_leader else "--mix" if args.mix else "--ensemble"
            parser.error(f"{what} is for {', '.join(allowed)}; not for {', '.join(others)}")
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


def row_server(server, ref, ensemble=0, judge=None, mix=None, kill_leader=False, member="leader"):
    """The server's name in RESULTS.md: the reference release, or ferrokeeper and the release it was judged
    against; with `ensemble`, a follower of an ensemble of that many members (the differential judge: the
    `member` of each of two); with `mix`, a mixed ensemble of that layout (`mixed fzz (3.9.5)`, the note says
    which member the clients used and which led; the differential judge's `member` when a follower:
    `mixed fzz (3.9.5) follower`); with `kill_leader`, after its first leader was killed."""
    role = member if judge in LEADER_JUDGES else "follower"
    if mix:
        name = f"mixed {mix.lower()} ({ref.version})"
        if judge in LEADER_JUDGES and role != "leader":
            name = f"{name} {role}"
    else:
        name = ref.name if server == "zookeeper" else f"ferrokeeper ({ref.version})"
        if ensemble and judge != "kazoo-ensemble":
            name = f"{name} {role} of {ensemble}"
    return f"{name}, leader killed" if kill_leader else name


def reference_row(name, ref, args):
    """The row of the reference run that a run of judge `name` with these options compares with: an all-Apache
    ensemble of the same size (the leader killed the same way) for --ensemble and --mix, the reference's own
    kazoo-ensemble row for kazoo's cluster."""
    return row_server("zookeeper", ref, args.ensemble, name, kill_leader=args.kill_leader,
                      member=args.differential_member)


def run_judge(name, args, ferrokeeper_bin, recorded):
    module = importlib.import_module(f"judges.{name.replace('-', '_')}")
    ref = servers.reference()
    row = row_server(args.server, ref, args.ensemble, name, args.mix, args.kill_leader, args.differential_member)
    work_dir = os.path.join(COMPAT_DIR, ".work", row.replace(" ", "").replace(",", "-"), name)
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    started_servers = []
    ensembles = []

    def start_server(kind, port, jvm_props=(), extra_cfg=None, reference=False):
        """Start a server of `kind`; `reference` marks a live Apache ZooKeeper a judge compares with (never
        mixed, never killed): the server under test is every other one."""
        if args.ensemble and name != "kazoo-ensemble":
            under_test = not reference
            kinds = args.layout if (args.layout and under_test) else [kind] * args.ensemble
            client = args.differential_member if name in LEADER_JUDGES else "follower"
            kill = args.kill_leader and under_test
            server = servers.Ensemble(kinds, port, ferrokeeper_bin, work_dir, jvm_props, extra_cfg, client, kill)
            if under_test:
                ensembles.append(server)
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
        reference=recorded.get((name, reference_row(name, ref, args))),
        start_server=start_server,
        layout=args.mix.lower() if args.mix else "",
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
    described = sorted({e.describe() for e in ensembles if e.describe()})
    if described:
        # What the ensemble did (its leader, the member judged) goes into the row: the election decides it.
        res.note = "; ".join(([res.note] if res.note else []) + described)
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
        row = row_server(args.server, ref, args.ensemble, name, args.mix, args.kill_leader, args.differential_member)
        print(f"== {name} against {row}", flush=True)
        res = run_judge(name, args, ferrokeeper_bin, recorded)
        done.append(res)
        shown = "not available" if not res.available else (
            f"{res.passed} passed, {res.failed} failed, {res.skipped} skipped"
        )
        print(f"   {shown} in {res.seconds:.0f}s {res.note}".rstrip(), flush=True)
    references = {name: recorded.get((name, reference_row(name, ref, args))) for name in judges}
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
