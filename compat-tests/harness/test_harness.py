"""Unit tests of the harness's own logic (no server needed):

    python3 compat-tests/harness/test_harness.py
"""

import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "cli"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "hostile"))

import results  # noqa: E402
import transcript  # noqa: E402
import cases as hostile_cases  # noqa: E402
import probe as hostile_probe  # noqa: E402
from judges import differential, hostile, kazoo, node, ops  # noqa: E402
from judges.common import parse_pass_fail_lines  # noqa: E402


def write(text):
    fd, path = tempfile.mkstemp()
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


class ResultsFile(unittest.TestCase):
    def test_round_trip_keeps_rows_and_unavailable(self):
        rows = {
            ("kazoo", "zookeeper"): results.Result("kazoo", "zookeeper", 477, 0, 16, 320, "n", "d"),
            ("differential", "ferrokeeper"): results.unavailable("differential", "ferrokeeper", "x|y"),
        }
        path = write("")
        results.save(path, rows)
        back = results.load(path)
        self.assertEqual(set(back), set(rows))
        k = back[("kazoo", "zookeeper")]
        self.assertEqual((k.passed, k.failed, k.skipped, k.note), (477, 0, 16, "n"))
        d = back[("differential", "ferrokeeper")]
        self.assertFalse(d.available)
        self.assertEqual(d.note, "x/y")

    def test_ratchet_flags_only_lower_pass_counts_of_the_same_server(self):
        recorded = {
            ("cli", "ferrokeeper"): results.Result("cli", "ferrokeeper", passed=10),
            ("cli", "zookeeper"): results.Result("cli", "zookeeper", passed=99),
            ("node", "ferrokeeper"): results.Result("node", "ferrokeeper", passed=5),
        }
        run = [
            results.Result("cli", "ferrokeeper", passed=10),
            results.Result("node", "ferrokeeper", passed=4),
        ]
        problems = results.ratchet(run, recorded)
        self.assertEqual(len(problems), 1)
        self.assertIn("node: 4 passed", problems[0])
        down = [results.unavailable("cli", "ferrokeeper", "gone")]
        self.assertEqual(len(results.ratchet(down, recorded)), 1)

    def test_server_down_fails_every_reference_check(self):
        ref = results.Result("cli", "zookeeper", passed=268, failed=2)
        res = results.server_down("cli", "ferrokeeper", "no port", ref)
        self.assertEqual((res.passed, res.failed), (0, 270))
        self.assertEqual(results.server_down("cli", "ferrokeeper", "no port", None).failed, 1)


class Parsers(unittest.TestCase):
    def test_kazoo_outcomes(self):
        recs = [
            {"collected": ["a", "b", "c", "d"]},
            {"nodeid": "a", "when": "setup", "outcome": "passed"},
            {"nodeid": "a", "when": "call", "outcome": "passed"},
            {"nodeid": "a", "when": "teardown", "outcome": "passed"},
            {"nodeid": "b", "when": "setup", "outcome": "passed"},
            {"nodeid": "b", "when": "call", "outcome": "passed"},
            {"nodeid": "b", "when": "teardown", "outcome": "failed"},
            {"nodeid": "c", "when": "setup", "outcome": "skipped"},
            {"collected": ["c", "e"]},
        ]
        path = write("".join(json.dumps(r) + "\n" for r in recs))
        passed, failed, skipped, failing = kazoo.summarise(path)
        # d and e never reported: failed; b failed in teardown.
        self.assertEqual((passed, failed, skipped), (1, 3, 1))
        self.assertEqual(failing, ["b", "d", "e"])

    def test_pass_fail_lines(self):
        path = write("noise\nPASS a/b\nFAIL a/c: why\nSKIP a/d: no\n1 passed, 1 failed\n")
        self.assertEqual(parse_pass_fail_lines(path), (1, 1, 1, ["a/c: why"]))

    def test_tap_summary(self):
        path = write("not ok 1 - broken\n  not ok 1 - sub\n# pass 3\n# fail 1\n# skipped 2\n")
        counts, failures = node.parse_tap(path)
        self.assertEqual(counts, {"pass": 3, "fail": 1, "skipped": 2})
        self.assertEqual(failures, ["broken"])

    def test_differential_result_line(self):
        path = write("RESULT passed=1 failed=0\nother\nRESULT passed=4990 failed=10\n")
        self.assertEqual(differential.parse_result(path), (4990, 10))
        self.assertIsNone(differential.parse_result(write("crash\n")))
        known = write("known version difference x30: a\nknown version difference x6: b\n")
        self.assertEqual(differential.parse_known(known), 36)


class Hostile(unittest.TestCase):
    def test_case_names_are_unique_and_every_case_has_an_attack(self):
        names = [c["name"] for c in hostile_cases.CASES]
        self.assertEqual(len(names), len(set(names)))
        self.assertTrue(all(c["attack"] for c in hostile_cases.CASES))

    def test_repeated_outcomes_collapse_to_a_count(self):
        a, b = {"err": 0}, {"err": -6}
        self.assertEqual(hostile_probe._collapse([a, a, a, b, "closed"]),
                         [{"times": 3, "outcome": a}, b, "closed"])

    def test_zxids_are_relative_except_minus_one_and_zero(self):
        self.assertEqual([hostile_probe._zxid_mark(z, 10) for z in (-1, 0, 10, 12)], [-1, 0, "base+0", "base+2"])

    def test_cases_are_grouped_by_the_zoo_cfg_keys_they_need_in_order(self):
        cases = [{"name": "a"}, {"name": "b", "config": {"k": "v"}}, {"name": "c"}]
        groups = hostile._groups(cases)
        self.assertEqual([(cfg, [c["name"] for c in g]) for cfg, g in groups], [({}, ["a", "c"]), ({"k": "v"}, ["b"])])

    def test_an_accepted_difference_must_match_every_key_it_gives(self):
        got = {"attack": [{"err": -6, "xid": 1, "zxid": -1}], "closed": True, "after": []}
        self.assertTrue(hostile._matches(got, {"attack": got["attack"], "closed": True}))
        self.assertFalse(hostile._matches(got, {"attack": got["attack"], "closed": False}))


class Normalisation(unittest.TestCase):
    def test_zxids_and_sessions_become_symbols_in_order(self):
        n = transcript.Normaliser()
        self.assertEqual(n.line("cZxid = 0x1a"), "cZxid = Z1")
        self.assertEqual(n.line("mZxid = 0x1b"), "mZxid = Z2")
        self.assertEqual(n.line("pZxid = 0x1A"), "pZxid = Z1")
        self.assertEqual(n.line("\tczxid=1b"), "\tczxid=Z2")
        self.assertEqual(n.line("ephemeralOwner = 0x0"), "ephemeralOwner = 0")
        self.assertEqual(n.line("ephemeralOwner = 0x100aa"), "ephemeralOwner = S1")
        self.assertEqual(n.line("ctime = Thu Nov 26 08:05:00 UTC 2026"), "ctime = <time>")
        self.assertEqual(n.line("\tmtime=Thu Nov  6 08:05:18 2026"), "\tmtime=<time>")
        self.assertIsNone(n.line("time = 12 msec"))
        self.assertIsNone(n.line("SLF4J: whatever"))

    def test_cli_mt_children_sorted_but_stat_kept(self):
        lines = ["/a: rc = 0", "\tz", "\tb", "\tctime = <time>", "\tczxid=Z1", "other", "\tq"]
        self.assertEqual(
            transcript.sort_child_lists(lines),
            ["/a: rc = 0", "\tb", "\tz", "\tctime = <time>", "\tczxid=Z1", "other", "\tq"],
        )

    def test_zkcli_unordered_output(self):
        self.assertEqual(transcript.sort_unordered("getEphemerals /", ["[/b, /a]"]), ["[/a, /b]"])
        self.assertEqual(transcript.sort_unordered("ls -R /", ["/b", "/a"]), ["/a", "/b"])
        self.assertEqual(
            transcript.sort_unordered("whoami", ["Auth scheme: User", "ip: x", "digest: y"]),
            ["Auth scheme: User", "digest: y", "ip: x"],
        )
        self.assertEqual(transcript.sort_unordered("get /a", ["[x, a]"]), ["[a, x]"])

    def test_segments_cut_at_markers_and_watches_taken_out(self):
        lines = [
            "Connecting", transcript.MARKER,
            "Created /a", "WATCHER::", "WatchedEvent state:SyncConnected type:None path:null",
            transcript.MARKER, "x", transcript.MARKER,
        ]  # fmt: skip
        segments, watches = transcript._segment(lines, 4)
        self.assertEqual(segments[0], ["Created /a"])
        self.assertEqual(segments[1], ["x"])
        # The CLI stopped after its third command: what it printed after the last
        # marker is the third command's, and the fourth has none.
        self.assertEqual(segments[2], [])
        self.assertEqual(segments[3], ["<no output: session ended>"])
        self.assertEqual(len(watches), 1)

    def test_expected_files_parse_back(self):
        entries = [("create /a", ["Created /a"]), ("get /a", [])]
        self.assertEqual(transcript.parse(transcript.render(entries)), entries)

    def test_zkcli_3_9_event_zxids_become_the_stats_symbols(self):
        norm = transcript.Normaliser()
        self.assertEqual(norm.line("mZxid = 0x51"), "mZxid = Z1")
        self.assertEqual(
            norm.line("WatchedEvent state:SyncConnected type:NodeDataChanged path:/a zxid: 81"),
            "WatchedEvent state:SyncConnected type:NodeDataChanged path:/a zxid: Z1",
        )
        self.assertEqual(
            norm.line("WatchedEvent state:SyncConnected type:None path:null zxid: -1"),
            "WatchedEvent state:SyncConnected type:None path:null zxid: -1",
        )
        self.assertIsNone(norm.line("SLF4J(W): No SLF4J providers were found."))


class PrometheusFamilies(unittest.TestCase):
    REFERENCE = (
        "# HELP ack_latency ack_latency\n# TYPE ack_latency summary\n"
        "# HELP read_per_namespace read_per_namespace\n# TYPE read_per_namespace summary\n"
        'read_per_namespace{key="app",quantile="0.5",} 3.0\n'
        'read_per_namespace_count{key="app",} 1.0\nread_per_namespace_sum{key="app",} 3.0\n'
        "# HELP znode_count znode_count\n# TYPE znode_count gauge\nznode_count 5.0\n"
    )

    class Checks:
        def __init__(self):
            self.failed = []

        def check(self, label, ok, detail=""):
            if not ok:
                self.failed.append(label)

        def equal(self, label, want, got):
            self.check(label, want == got)

    def compare(self, ours):
        checks = self.Checks()
        with open(os.devnull, "w") as raw:
            ops.compare_metrics_live(checks, self.REFERENCE, ours, raw)
        return checks.failed

    def test_families_with_types_help_and_label_names(self):
        fams = ops.parse_families(self.REFERENCE)
        self.assertEqual(fams["ack_latency"], {"type": "summary", "help": "ack_latency", "labels": set()})
        self.assertEqual(
            fams["read_per_namespace"]["labels"],
            {("", ("key", "quantile")), ("_count", ("key",)), ("_sum", ("key",))},
        )
        self.assertEqual(fams["znode_count"]["labels"], {("", ())})

    def test_same_families_pass_whatever_the_values(self):
        self.assertEqual(self.compare(self.REFERENCE.replace("3.0", "7.0").replace('"app"', '"zk"')), [])

    def test_each_difference_fails(self):
        missing = self.REFERENCE.replace("# HELP ack_latency ack_latency\n# TYPE ack_latency summary\n", "")
        self.assertEqual(self.compare(missing), ["metrics/ack_latency"])
        self.assertEqual(self.compare(self.REFERENCE.replace("znode_count gauge", "znode_count counter")),
                         ["metrics/znode_count type"])
        self.assertEqual(self.compare(self.REFERENCE.replace("HELP znode_count znode_count", "HELP znode_count x")),
                         ["metrics/znode_count help"])
        self.assertEqual(self.compare(self.REFERENCE.replace("znode_count 5.0", 'znode_count{a="b",} 5.0')),
                         ["metrics/znode_count labels"])
        self.assertEqual(self.compare(self.REFERENCE + "# TYPE extra counter\nextra 1.0\n"),
                         ["metrics/no other families"])


class References(unittest.TestCase):
    def test_rows_name_the_release(self):
        import run
        import servers

        ref = servers.REFERENCES["3.9"]
        self.assertEqual(run.row_server("zookeeper", ref), "zookeeper-3.9.5")
        self.assertEqual(run.row_server("ferrokeeper", ref), "ferrokeeper (3.9.5)")
        self.assertEqual(servers.REFERENCES["3.8.0"].cli_command(), ["/usr/share/zookeeper/bin/zkCli.sh"])

    def test_the_reference_comes_from_the_environment(self):
        import servers

        old = os.environ.get(servers.REFERENCE_ENV)
        try:
            os.environ.pop(servers.REFERENCE_ENV, None)
            self.assertEqual(servers.reference().version, "3.9.5")
            os.environ[servers.REFERENCE_ENV] = "3.8.0"
            self.assertTrue(servers.reference().debian)
            os.environ[servers.REFERENCE_ENV] = "4.0"
            with self.assertRaises(SystemExit):
                servers.reference()
        finally:
            if old is None:
                os.environ.pop(servers.REFERENCE_ENV, None)
            else:
                os.environ[servers.REFERENCE_ENV] = old

    def test_rows_sort_references_first_newest_first(self):
        rows = {}
        for server in ("ferrokeeper (3.8.0)", "zookeeper-3.8.0", "ferrokeeper (3.9.5)", "zookeeper-3.9.5",
                       "zookeeper-3.8.6"):
            rows[("node", server)] = results.Result("node", server, passed=1)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "RESULTS.md")
            results.save(path, rows)
            with open(path) as md:
                order = [line.split("|")[2].strip() for line in md if line.startswith("| node ")]
        self.assertEqual(order, ["zookeeper-3.9.5", "zookeeper-3.8.6", "zookeeper-3.8.0",
                                 "ferrokeeper (3.9.5)", "ferrokeeper (3.8.0)"])


class KazooSecondTry(unittest.TestCase):
    def test_a_test_that_skips_itself_the_second_time_is_skipped_not_passed(self):
        recs = [
            {"nodeid": "a", "when": "setup", "outcome": "passed"},
            {"nodeid": "a", "when": "call", "outcome": "passed"},
            {"nodeid": "a", "when": "teardown", "outcome": "passed"},
            {"nodeid": "s", "when": "setup", "outcome": "skipped"},
            {"nodeid": "s", "when": "teardown", "outcome": "passed"},
            {"nodeid": "f", "when": "setup", "outcome": "passed"},
            {"nodeid": "f", "when": "call", "outcome": "failed"},
            {"nodeid": "f", "when": "teardown", "outcome": "passed"},
        ]
        path = write("".join(json.dumps(r) + "\n" for r in recs))
        self.assertEqual(kazoo.second_try(path, ["a", "s", "f", "never-ran"]), ({"a"}, {"s"}))


class Ensembles(unittest.TestCase):
    def setUp(self):
        import run
        import servers

        self.run = run
        self.servers = servers
        self.ref = servers.REFERENCES["3.9"]

    def parse(self, *argv):
        with open(os.devnull, "w") as quiet:
            old = sys.stderr
            sys.stderr = quiet
            try:
                return self.run.parse_args(list(argv))
            finally:
                sys.stderr = old

    def test_rows_name_the_ensemble_the_mix_and_the_kill(self):
        row = self.run.row_server
        self.assertEqual(row("ferrokeeper", self.ref, 3, "cli"), "ferrokeeper (3.9.5) follower of 3")
        self.assertEqual(row("zookeeper", self.ref, 3, "differential"), "zookeeper-3.9.5 leader of 3")
        self.assertEqual(row("ferrokeeper", self.ref, 3, "node", "FZZ"), "mixed fzz (3.9.5)")
        self.assertEqual(row("ferrokeeper", self.ref, 3, "kazoo-ensemble", "fzz"), "mixed fzz (3.9.5)")
        self.assertEqual(row("zookeeper", self.ref, 3, "curator", kill_leader=True),
                         "zookeeper-3.9.5 follower of 3, leader killed")
        self.assertEqual(row("ferrokeeper", self.ref, 3, "curator", "zff", True), "mixed zff (3.9.5), leader killed")
        self.assertEqual(row("zookeeper", self.ref, 3, "differential", member="follower"),
                         "zookeeper-3.9.5 follower of 3")
        self.assertEqual(row("ferrokeeper", self.ref, 3, "differential", "fzz", member="follower"),
                         "mixed fzz (3.9.5) follower")
        self.assertEqual(row("ferrokeeper", self.ref, 3, "cli", "fzz", member="follower"), "mixed fzz (3.9.5)")

    def test_a_mixed_run_compares_with_an_apache_ensemble_of_its_size(self):
        args = self.parse("--server", "ferrokeeper", "--mix", "zzf", "--judge", "node", "--judge", "differential")
        self.assertEqual((args.ensemble, args.layout), (3, ["zookeeper", "zookeeper", "ferrokeeper"]))
        self.assertEqual(self.run.reference_row("node", self.ref, args), "zookeeper-3.9.5 follower of 3")
        self.assertEqual(self.run.reference_row("differential", self.ref, args), "zookeeper-3.9.5 leader of 3")
        on_followers = self.parse("--server", "ferrokeeper", "--mix", "fzz", "--judge", "differential",
                                  "--differential-member", "follower")
        self.assertEqual(self.run.reference_row("differential", self.ref, on_followers),
                         "zookeeper-3.9.5 follower of 3")
        kazoo = self.parse("--server", "ferrokeeper", "--mix", "fzz", "--judge", "kazoo-ensemble")
        self.assertEqual(self.run.reference_row("kazoo-ensemble", self.ref, kazoo), "zookeeper-3.9.5")
        killed = self.parse("--server", "zookeeper", "--ensemble", "3", "--kill-leader", "--judge", "cli")
        self.assertEqual(self.run.reference_row("cli", self.ref, killed), "zookeeper-3.9.5 follower of 3, leader killed")

    def test_options_that_do_not_fit_are_refused(self):
        refused = [
            ("--server", "zookeeper", "--mix", "fzz", "--judge", "node"),  # the layout names the Apache members
            ("--server", "ferrokeeper", "--mix", "fxz", "--judge", "node"),
            ("--server", "ferrokeeper", "--mix", "f", "--judge", "node"),
            ("--server", "ferrokeeper", "--mix", "fzz", "--ensemble", "5", "--judge", "node"),
            ("--server", "ferrokeeper", "--mix", "fzzzz", "--judge", "kazoo-ensemble"),  # kazoo's cluster is 3
            ("--server", "ferrokeeper", "--mix", "fzz", "--judge", "kazoo"),
            ("--server", "ferrokeeper", "--kill-leader", "--judge", "node"),  # no ensemble
            ("--server", "ferrokeeper", "--ensemble", "2", "--kill-leader", "--judge", "node"),  # no majority left
            ("--server", "ferrokeeper", "--ensemble", "3", "--kill-leader", "--judge", "differential"),
            ("--server", "ferrokeeper", "--ensemble", "3", "--judge", "kazoo-ensemble"),
            ("--server", "ferrokeeper", "--ensemble", "3"),  # every judge
        ]
        for argv in refused:
            with self.subTest(argv=argv), self.assertRaises(SystemExit):
                self.parse(*argv)
        self.parse("--server", "ferrokeeper", "--mix", "ffz", "--kill-leader", "--judge", "cli")
        self.parse("--server", "ferrokeeper", "--ensemble", "3", "--judge", "differential")

    def test_layouts(self):
        self.assertEqual(self.servers.parse_layout("fZz"), ["ferrokeeper", "zookeeper", "zookeeper"])
        for bad in ("", "f", "fq", "f z"):
            with self.subTest(layout=bad), self.assertRaises(ValueError):
                self.servers.parse_layout(bad)

    def test_the_kazoo_row_names_the_leader_the_probe_saw(self):
        from judges.common import Context

        ctx = Context(server="ferrokeeper", compat_dir="", work_dir="", ferrokeeper_bin="", layout="zzf")
        log = write("kazoo cluster is serving\nleader: member 3\nmodes: member 1 follower, member 2 follower, "
                    "member 3 leader\n")
        self.assertEqual(kazoo.leader_at_start(ctx, log), "leader at start: member 3 (ferrokeeper)")
        ctx.layout = "fzz"
        self.assertEqual(kazoo.leader_at_start(ctx, log), "leader at start: member 3 (zookeeper-3.9.5)")
        self.assertEqual(kazoo.leader_at_start(ctx, write("kazoo cluster is serving\n")), "")
        self.assertEqual(kazoo._env(ctx)["COMPAT_MIX"], "fzz")


if __name__ == "__main__":
    unittest.main()
