"""ops judge: four-letter words, AdminServer commands, /metrics and zktop against the reference.

Starts Apache ZooKeeper (the run's reference, live) and the server under test from
the same zoo.cfg (the shared one plus the AdminServer's keys), brings both into
the same state with the same kazoo actions (three sessions, persistent,
ephemeral and sequential nodes, data, exists, child, persistent and
persistent-recursive watches), then compares:

- every four-letter word of 3.8/3.9 (line structure, keys, their order), and
  how answers are counted as packets;
- `GET /commands` and every `GET /commands/<name>` (JSON shapes, key order and
  value types, the pretty printer's layout), aliases included;
- zktop (Debian's) run on a pty against the server under test.

A third server (the server under test from the same zoo.cfg plus ZooKeeper's
Prometheus provider, with `metricsProvider.exportJvmInfo=false`) serves
/metrics, and its mntr and monitor must list the provider's samples as
ZooKeeper's do under that provider. When the reference has the provider on its
class path (3.9: install.sh adds it), a fourth server, the reference with the
same keys, serves the live /metrics the third one is compared with: every
metric family it exports must be exported with the same name, # TYPE, # HELP
and label names, and no other. Without it (3.8 and Debian's 3.8.0: no provider
release is served or shipped) only ferrokeeper's /metrics is checked, against
the reference's `mntr`: every metric `mntr` names (less the JVM's and the
ensemble's) must be there with its Prometheus type, labels and quantiles.

Figures that differ by nature are normalised, each rule with its reason. When
the judge runs with `--server zookeeper` the "server under test" is a second
Apache ZooKeeper: the reference figures. The kazoo actions run in a child
process with compat-tests/.venv's Python (kazoo from its sdist), this file run
as a script (`clients` below).
"""

import json
import os
import re
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request

NAME = "ops"
NEEDS_SERVER = False
KAZOO_VERSION = "2.11.0"
# client, AdminServer, Prometheus ports (all in 24000-24999)
REFERENCE_PORTS = (24010, 24011, 24012)
UNDER_TEST_PORTS = (24020, 24021, 24022)
# a third server, the server under test with the Prometheus provider, for /metrics
PROMETHEUS_PORTS = (24030, 24031, 24032)
# a fourth, the reference with the Prometheus provider (when it has it), for the live /metrics
REFERENCE_PROMETHEUS_PORTS = (24040, 24041, 24042)
PROMETHEUS_PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

# Every four-letter word of 3.8 and 3.9 (FourLetterCommands: the same set in both).
FOUR_LETTER_WORDS = [
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "icfg", "isro",
    "mntr", "ruok", "srst", "srvr", "stat", "stmk", "sysp", "wchc", "wchp", "wchs",
]


def cfg_for(ports, prometheus):
    client, admin, metrics = ports
    cfg = {
        "clientPort": str(client),
        "admin.enableServer": "true",
        "admin.serverAddress": "127.0.0.1",
        "admin.serverPort": str(admin),
    }
    if prometheus:
        cfg.update(
            {
                "metricsProvider.className": PROMETHEUS_PROVIDER,
                "metricsProvider.httpHost": "127.0.0.1",
                "metricsProvider.httpPort": str(metrics),
                # the JVM's own collectors (memory pools, GC, threads) have no counterpart in ferrokeeper
                "metricsProvider.exportJvmInfo": "false",
            }
        )
    return cfg


# ---------------------------------------------------------------- the client side (venv)


def clients(address):
    """Run in compat-tests/.venv: make the shared state, print the session ids as one
    JSON line, keep the sessions open until stdin closes."""
    from kazoo.client import KazooClient
    from kazoo.protocol.serialization import int_struct, write_string

    class AddWatch:
        """kazoo 2.11 has no addWatch (opcode 106); its reply body is empty for us."""

        type = 106

        def __init__(self, path, mode):
            self.path, self.mode = path, mode

        def serialize(self):
            out = bytearray()
            out.extend(write_string(self.path))
            out.extend(int_struct.pack(self.mode))
            return out

        @classmethod
        def deserialize(cls, data, offset):
            return True

    def connect():
        zk = KazooClient(hosts=address, timeout=30.0)
        zk.start(timeout=20)
        return zk

    def ignore(_event):
        pass

    s1 = connect()
    s1.create("/ops", b"root")
    s1.create("/ops/a", b"alpha")
    s1.create("/ops/b", b"")
    s1.create("/ops/a/child", b"x" * 100)
    s1.set("/ops/b", b"beta")
    s1.create("/ops/e1", b"eph", ephemeral=True)
    s1.create("/ops/seq-", b"", ephemeral=True, sequence=True)
    s2 = connect()
    s2.get("/ops/a", watch=ignore)  # data watch
    s2.exists("/ops/b", watch=ignore)  # exists watch on a node
    s2.exists("/ops/missing", watch=ignore)  # exists watch on no node
    s2.get_children("/ops", watch=ignore)  # child watch
    for path, mode in (("/ops/b", 0), ("/ops/a", 1)):  # persistent, persistent recursive
        done = s2.handler.async_result()
        s2._call(AddWatch(path, mode), done)
        done.get(timeout=10)
    s2.create("/ops/e2", b"", ephemeral=True)
    s3 = connect()
    s3.get("/ops/a", watch=ignore)
    s3.get_children("/ops/a", watch=ignore)
    s3.create("/ops/e3", b"three", ephemeral=True)
    for zk in (s1, s2, s3):
        zk.sync("/")
    ids = [zk.client_id[0] for zk in (s1, s2, s3)]
    print(json.dumps({"sessions": ids}), flush=True)
    sys.stdin.read()
    for zk in (s1, s2, s3):
        zk.stop()
        zk.close()


class Clients:
    """The child process holding the three sessions on one server."""

    def __init__(self, ctx, address, log_name):
        env = dict(os.environ)
        env["PYTHONPATH"] = ctx.path(".cache", f"kazoo-{KAZOO_VERSION}")
        self.log = open(ctx.log(log_name), "w")
        self.proc = subprocess.Popen(
            [ctx.path(".venv", "bin", "python"), os.path.abspath(__file__), "clients", address],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            start_new_session=True,
            env=env,
        )
        self.sessions = []
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if ready else ""
        if line:
            self.sessions = json.loads(line)["sessions"]

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------- talking to the servers


def four_letter(port, word):
    # Imported here: this file also runs on its own as the kazoo clients' process, where the harness is not
    # on the path.
    import servers

    try:
        payload = word.encode()
        if word == "stmk":  # followed by the new trace mask, a big-endian long
            payload += (0).to_bytes(8, "big")
        return servers.ask(port, payload, timeout=5)
    except OSError as err:
        return f"<no answer: {err}>"


def http_get(port, path):
    """(status, content type, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode(errors="replace")
    except OSError as err:
        return 0, "", f"<no answer: {err}>"


def wait_http(port, path, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, _, _ = http_get(port, path)
        if status:
            return True
        time.sleep(0.2)
    return False


# ---------------------------------------------------------------- normalisation

# Session ids are handed out from a time-seeded counter (6.3), so each server's
# own ids are replaced by S1, S2, S3 (the kazoo sessions, in order of creation)
# and any other id by S?.
# Times (ms since the epoch or since start), latencies, uptimes: the clock.
# Byte counts of files and memory: the JVM heap, the txn log's preallocation.
# Directory paths: each server has its own temp dataDir.
# Versions: the release and build strings differ by nature.


class Normaliser:
    def __init__(self, sessions, workdir, ports):
        self.sessions = sessions
        self.workdir = workdir
        self.ports = ports  # client, AdminServer, Prometheus: each server has its own

    def session(self, value):
        """Symbol of a session id given as int, decimal or hex text."""
        try:
            sid = value if isinstance(value, int) else int(str(value), 0)
        except ValueError:
            return value
        if sid in self.sessions:
            return f"S{self.sessions.index(sid) + 1}"
        return "S?"

    def text(self, text):
        out = text.replace(self.workdir, "<workdir>")
        for i, sid in enumerate(self.sessions):
            out = re.sub(rf"0x{sid:x}\b", f"S{i + 1}", out)
        for port, name in zip(self.ports, ("<clientPort>", "<adminPort>", "<metricsPort>")):
            out = re.sub(rf"(?<![\d:]){port}\b", name, out)
        return out

    def port(self, value):
        if isinstance(value, int) and not isinstance(value, bool) and value in self.ports:
            return ("<clientPort>", "<adminPort>", "<metricsPort>")[self.ports.index(value)]
        return value


DUMP_STATE = {"connections": False}


def norm_lines(word, raw, n):
    """The four-letter word's answer as normalised lines."""
    DUMP_STATE["connections"] = False
    text = n.text(raw)
    lines = text.split("\n")
    out = []
    for line in lines:
        line = norm_line(word, line)
        if line is not None:
            out.append(line)
    return unordered(word, out)


NUM = r"-?\d+(?:\.\d+)?(?:E-?\d+)?"


def norm_line(word, line):
    if word in ("srvr", "stat"):
        if line.startswith("Zookeeper version: "):
            return "Zookeeper version: <version>"
        line = re.sub(rf"^Latency min/avg/max: {NUM}/{NUM}/{NUM}$", "Latency min/avg/max: <l>/<l>/<l>", line)
        # packet counts since the last reset include the clients' pings, sent on a timer
        line = re.sub(r"^(Received|Sent): \d+$", r"\1: <n>", line)
    if word in ("stat", "cons"):
        # the judge's own connection and the clients' ports: ephemeral port numbers
        line = re.sub(r"^ /127\.0\.0\.1:\d+\[", " /127.0.0.1:<port>[", line)
        line = re.sub(r"recved=\d+,sent=\d+", "recved=<n>,sent=<n>", line)
    if word == "cons":
        for key in ("est", "lresp", "llat", "minlat", "avglat", "maxlat"):
            line = re.sub(rf"\b{key}={NUM}", f"{key}=<{key}>", line)
        line = re.sub(r"\blop=\w+", "lop=<op>", line)
        line = re.sub(r"\blcxid=0x[0-9a-f]+", "lcxid=<cxid>", line)
        line = re.sub(r"\blzxid=0x[0-9a-f]+", "lzxid=<zxid>", line)
    if word == "conf":
        line = re.sub(r"^(dataDirSize|dataLogSize)=\d+$", r"\1=<bytes>", line)
    if word == "dirs":
        line = re.sub(r"^(datadir_size|logdir_size): \d+$", r"\1: <bytes>", line)
    if word == "envi":
        key = line.split("=", 1)[0]
        if key.startswith("java.") or key.startswith("os.memory."):
            return None  # JVM-only facts: the JVM's version, paths and heap
        if key == "zookeeper.version":
            return "zookeeper.version=<version>"
        if key == "host.name":
            # the JVM's canonical name of the host, through the resolver
            return "host.name=<host>"
    if word == "mntr":
        if jvm_only(line.split("\t", 1)[0]):
            return None
        return norm_mntr_line(line)
    if word == "dump":
        # Session expiry buckets: their times are the clock's (the count of
        # sessions in each stays). The connection dump's buckets hold every
        # connection by its last activity, the judge's own four-letter ones
        # included: only the sessions' lines are kept, without ports.
        # Which bucket a session falls in depends on when in the tick it was last
        # touched, and ZooKeeper keeps emptied buckets until their time: the
        # buckets are dropped and their sessions compared as one sorted list.
        if re.match(r"^\d+ expire at .*:$", line):
            return None
        line = re.sub(r"^Session Sets \(\d+\)/\((\d+)\):$", r"Session Sets (<n>)/(\1):", line)
        line = re.sub(r"^Connections Sets \(\d+\)/\(\d+\):$", "Connections Sets (<n>)/(<n>):", line)
        if line.startswith("\tip: "):
            if line.endswith("sessionId: 0x0"):
                return None
            line = re.sub(r"ip: /127\.0\.0\.1:\d+", "ip: /127.0.0.1:<port>", line)
        if line == "Connections dump:":
            DUMP_STATE["connections"] = True
    return line


def unordered(word, lines):
    """Blocks whose order ZooKeeper leaves to a HashMap's iteration are sorted."""
    if word in ("wchc", "wchp"):
        return sort_blocks(lines)
    if word == "mntr":
        # mntr's keys after the first two come from a HashMap (9.3: order unspecified)
        head, rest = lines[:2], lines[2:]
        return head + sorted(rest)
    if word in ("stat", "cons"):
        return sort_runs(lines, lambda l: l.startswith(" /"))
    if word == "dump":
        return sort_blocks_after(lines)
    return lines


def sort_blocks(lines):
    """Sort blocks made of one unindented line and its tab-indented lines (each sorted)."""
    blocks, current = [], None
    tail = []
    for line in lines:
        if line.startswith("\t") and current is not None:
            current[1].append(line)
        elif line == "":
            tail.append(line)
        else:
            current = (line, [])
            blocks.append(current)
    out = []
    for head, body in sorted(blocks):
        out.append(head)
        out.extend(sorted(body))
    return out + tail


def sort_blocks_after(lines):
    """`dump`: each header's tab-indented lines sorted, and the per-session blocks
    (headers `S<n>:`) sorted among themselves."""
    blocks = []
    for line in lines:
        if line.startswith("\t") and blocks:
            blocks[-1][1].append(line)
        else:
            blocks.append((line, []))
    blocks = [(head, sorted(body)) for head, body in blocks]
    out, run = [], []
    for block in blocks + [None]:
        if block is not None and re.match(r"^S\S*:$", block[0]):
            run.append(block)
            continue
        for head, body in sorted(run):
            out.append(head)
            out.extend(body)
        run = []
        if block is not None:
            out.append(block[0])
            out.extend(block[1])
    return out


def sort_runs(lines, member):
    out, run = [], []
    for line in lines + [None]:
        if line is not None and member(line):
            run.append(line)
            continue
        out.extend(sorted(run))
        run = []
        if line is not None:
            out.append(line)
    return out


# mntr/monitor values that are figures of the clock, of sizes, of the process
# or of the build: their value is replaced by its type.
MNTR_FIGURES = re.compile(
    r"^(version|avg_latency|max_latency|min_latency|uptime|open_file_descriptor_count|"
    r"max_file_descriptor_count|approximate_data_size|packets_received|packets_sent|"
    r"last_client_response_size|max_client_response_size|min_client_response_size|"
    r"bytes_received_count|response_bytes|watch_bytes|.*latency.*|.*time.*|.*_size.*|"
    r"(avg|min|max|cnt|sum|p50|p95|p99|p999)_.*|num_alive_connections|connection_request_count|"
    r"watch_count|response_packet_(get_children_)?cache_(hits|misses))$"
)
# The response_packet_*cache_* counters are hits and misses of Apache ZooKeeper's cache of serialised getData and
# getChildren replies, an implementation detail: ferrokeeper serialises each reply and has no such cache, so the
# counters are there with their type and read 0.
# watch_count is in MNTR_FIGURES for one known 3.8/3.9 difference, not because it varies by nature: a lone
# persistent-recursive watch counts twice in 3.8.0 (DataTree.addWatch, release-3.8.0-1, adds every addWatch to
# both dataWatches and childWatches, and getWatchCount sums both tables) and once in 3.9.3 (release-3.9.3-2's
# DataTree.addWatch skips childWatches for PERSISTENT_RECURSIVE). The reference here is 3.8.0 and ferrokeeper
# follows 3.9, so this run's 7 against 6 is that difference; wchs/wchc/wchp still compare the watches themselves.


def value_type(value):
    if re.fullmatch(r"-?\d+", value):
        return "<int>"
    if re.fullmatch(rf"{NUM}|NaN|-?Infinity", value):
        return "<double>"
    return "<text>"


def norm_mntr_line(line):
    if "\t" not in line:
        return line
    key, value = line.split("\t", 1)
    bare = key[3:] if key.startswith("zk_") else key
    if MNTR_FIGURES.match(bare):
        return f"{key}\t{value_type(value)}"
    return line


def norm_json(command, value, n, key=None):
    """Normalise a JSON value of an AdminServer command; figures become their type."""
    if key == "expiry_time_to_session_ids" and isinstance(value, dict):
        # the session buckets, as in `dump` (see norm_line): one sorted list
        merged = sorted(n.session(sid) for ids in value.values() for sid in ids)
        return {"<time>": merged}
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            nk = k
            if command in ("dump", "watches") and k.lstrip("-").isdigit():
                nk = n.session(int(k)) if command == "watches" or key == "session_id_to_ephemeral_paths" else "<time>"
            out[nk] = norm_json(command, v, n, k)
        # Key order: dump/watches maps are HashMaps; the server_stats bean's
        # properties come in the JVM's reflection order, which changes from one
        # JVM start to the next (two Apache ZooKeepers disagree), so is sorted.
        if command in ("dump", "watches", "watches_by_path", "system_properties") or key == "server_stats":
            out = dict(sorted(out.items()))
        return out
    if isinstance(value, list):
        items = [norm_json(command, v, n, key) for v in value]
        if command in ("dump", "watches", "watches_by_path", "connections", "stats"):
            items = sorted(items, key=lambda x: json.dumps(x, sort_keys=True))
        return items
    if isinstance(value, str):
        value = n.text(value)
    value = n.port(value)
    if key in JSON_SESSION_KEYS or (command in ("watches_by_path", "dump") and isinstance(value, int)):
        return n.session(value) if value else value
    if key in JSON_FIGURES or (command == "monitor" and key and MNTR_FIGURES.match(key)):
        return json_type(value)
    if command in ("environment", "system_properties") and isinstance(value, str):
        return "<text>"
    return value


JSON_SESSION_KEYS = {"session_id"}
JSON_FIGURES = {
    "version", "uptime", "established", "last_response_time", "last_latency", "min_latency",
    "avg_latency", "max_latency", "data_dir_size", "log_dir_size", "datadir_size", "logdir_size",
    "packets_received", "packets_sent", "last_buffer_size", "min_buffer_size", "max_buffer_size",
    "remote_socket_address", "last_operation", "last_cxid", "last_zxid", "timestamp",
    "outstanding_requests", "interest_ops",
}


def json_type(value):
    if isinstance(value, bool):
        return "<bool>"
    if isinstance(value, int):
        return "<int>"
    if isinstance(value, float):
        return "<double>"
    if isinstance(value, str):
        return "<text>"
    return value


# Entries of `environment`, `system_properties` and `monitor` that only a JVM has
# (jvm_pause_time_ms: the JVM's garbage-collection pauses).
def jvm_only(key):
    return (
        key.endswith("jvm_pause_time_ms")
        or
        key.startswith("java.")
        or key.startswith("jdk.")
        or key.startswith("sun.")
        or key.startswith("os.memory.")
        or key.startswith("zookeeper.")  # the -D flags of the harness's java command line
        or key.startswith("log4j.")
        or key in ("file.encoding", "native.encoding", "stdout.encoding", "stderr.encoding",
                   "user.language", "user.country", "user.timezone", "user.variant", "jetty.git.hash",
                   "stdin.encoding", "sun.jnu.encoding")
    )


# ---------------------------------------------------------------- the checks


class Checks:
    def __init__(self, out):
        self.out = out
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []

    def check(self, label, ok, detail=""):
        if ok:
            self.passed += 1
            self.out.write(f"PASS {label}\n")
        else:
            self.failed += 1
            self.failures.append(label)
            self.out.write(f"FAIL {label}\n{detail}\n")
        self.out.flush()

    def skip(self, label, why):
        self.skipped += 1
        self.out.write(f"SKIP {label}: {why}\n")

    def equal(self, label, want, got):
        if want == got:
            self.check(label, True)
            return
        if isinstance(want, list) and isinstance(got, list):
            import difflib

            diff = "\n".join(difflib.unified_diff(
                [str(x) for x in want], [str(x) for x in got], "reference", "under test", lineterm=""))
        else:
            diff = f"reference: {json.dumps(want, indent=1)}\nunder test: {json.dumps(got, indent=1)}"
        self.check(label, False, diff)


def compare_four_letter_words(checks, ref, test, ref_n, test_n, raw):
    # srst/crst/stmk change state (stats reset, trace mask): run them last.
    order = [w for w in FOUR_LETTER_WORDS if w not in ("srst", "crst", "stmk")] + ["crst", "srst", "stmk"]
    for word in order:
        a = four_letter(ref.port, word)
        b = four_letter(test.port, word)
        raw.write(f"==== {word} (reference)\n{a}\n==== {word} (under test)\n{b}\n")
        checks.equal(f"4lw/{word}", norm_lines(word, a, ref_n), norm_lines(word, b, test_n))
    # Refusal of a word outside the whitelist is a four-letter-word answer too; the
    # whitelist is * here, so ask for an unknown word: both close without answering.
    a = four_letter(ref.port, "xyzw")
    b = four_letter(test.port, "xyzw")
    checks.equal("4lw/unknown word", a, b)


def compare_packet_counts(checks, ref, test):
    """`srvr`'s Received/Sent after srst and a few words, before any session exists
    (so no client ping falls in between): how answers are counted as packets."""
    counts = []
    for server in (ref, test):
        four_letter(server.port, "srst")
        for word in ("ruok", "envi", "wchc", "conf", "hash", "isro"):
            four_letter(server.port, word)
        answer = four_letter(server.port, "srvr")
        counts.append([line for line in answer.split("\n") if line.startswith(("Received:", "Sent:"))])
    checks.equal("4lw/packet counts", counts[0], counts[1])


def admin_names(listing):
    return re.findall(r'<a href="[^"]*/([^"/]+)">', listing)


def compare_admin(checks, ref_port, test_port, ref_n, test_n, raw):
    ra = http_get(ref_port, "/commands")
    tb = http_get(test_port, "/commands")
    raw.write(f"==== /commands (reference)\n{ra}\n==== /commands (under test)\n{tb}\n")
    checks.equal("admin/listing", ra[2], tb[2])
    checks.equal("admin/listing content type", ra[:2], tb[:2])
    names = admin_names(ra[2])
    # aliases answer as their primary name; ask each once
    aliases = ["crst", "conf", "config", "cons", "env", "envi", "gtmk", "icfg", "isro", "lsnp", "lead",
               "mntr", "orst", "obsr", "srvr", "stmk", "srst", "stat", "sysp", "wchs", "wchc", "wchp"]
    resetting = {"connection_stat_reset", "stat_reset", "set_trace_mask", "crst", "srst", "stmk",
                 "observer_connection_stat_reset", "orst"}
    order = [x for x in names + aliases + ["no_such_command"] if x not in resetting]
    order += [x for x in names + aliases if x in resetting]
    for name in order:
        a = http_get(ref_port, f"/commands/{name}")
        b = http_get(test_port, f"/commands/{name}")
        raw.write(f"==== /commands/{name} (reference)\n{a}\n==== /commands/{name} (under test)\n{b}\n")
        checks.equal(f"admin/{name} status", a[:2], b[:2])
        try:
            ja = json.loads(a[2])
            jb = json.loads(b[2])
        except ValueError:
            checks.equal(f"admin/{name}", a[2], b[2])
            continue
        primary = ja.get("command", name) if isinstance(ja, dict) else name
        if primary == "initial_configuration" and isinstance(jb.get(primary), str):
            # the Prometheus lines only the server under test can have (see run)
            jb[primary] = "".join(
                line for line in jb[primary].splitlines(True) if not line.startswith("metricsProvider."))
        if primary in ("environment", "system_properties"):
            ja = {k: v for k, v in ja.items() if not jvm_only(k)}
            jb = {k: v for k, v in jb.items() if not jvm_only(k)}
        if primary == "monitor":
            ja = {k: v for k, v in ja.items() if not jvm_only(k)}
            jb = {k: v for k, v in jb.items() if not jvm_only(k)}
            # key order of monitor comes from a HashMap in ZooKeeper: compare sorted
            ja = dict(sorted(ja.items()))
            jb = dict(sorted(jb.items()))
        na = norm_json(primary, ja, ref_n)
        nb = norm_json(primary, jb, test_n)
        checks.equal(f"admin/{name}", json.dumps(na, indent=1).split("\n"), json.dumps(nb, indent=1).split("\n"))
        # the answer's text layout (Jackson's pretty printer) must match too
        checks.equal(f"admin/{name} layout", layout(a[2]), layout(b[2]))


def layout(body):
    """The shapes of the JSON text's lines, every scalar replaced (indentation,
    separators, where arrays break), as a sorted set: the order of entries is
    compared on the parsed JSON. An empty array and a filled one are one shape
    (ZooKeeper's emptied session buckets, see norm_line)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null', "v", body)
    text = re.sub(r"\[ (v(, v)* )?\]", "[ v... ]", text)
    return sorted(set(text.split("\n")))


# ---------------------------------------------------------------- metrics

SUMMARY_PARTS = ("avg", "min", "max", "cnt", "sum")
PERCENTILE_PARTS = ("p50", "p95", "p99", "p999")
# Gauges of ZooKeeperServer.registerMetrics (the rest of mntr's numbers are counters or summaries).
GAUGES = {
    "avg_latency", "max_latency", "min_latency", "packets_received", "packets_sent",
    "num_alive_connections", "outstanding_requests", "uptime", "znode_count", "watch_count",
    "ephemerals_count", "approximate_data_size", "global_sessions", "local_sessions",
    "open_file_descriptor_count", "max_file_descriptor_count", "connection_drop_probability",
    "last_client_response_size", "max_client_response_size", "min_client_response_size",
    "outstanding_tls_handshake", "auth_failed_count", "non_mtls_remote_conn_count",
    "non_mtls_local_conn_count",
}


def expected_metrics(mntr_text):
    """{name: (type, quantiles)} of the Prometheus provider, from the reference's mntr
    (DefaultMetricsProvider): summaries are the avg/min/max/cnt/sum groups, with
    0.5/0.9/0.99 quantiles when ZooKeeper keeps percentiles (ADVANCED) and 0.5
    otherwise; gauges are registerMetrics' names; everything else is a counter."""
    keys = []
    for line in mntr_text.split("\n"):
        if "\t" in line and line.startswith("zk_"):
            keys.append(line.split("\t", 1)[0][3:])
    keyset = set(keys)
    out = {}
    for key in keys:
        if key in ("version", "server_state"):
            continue
        part, _, rest = key.partition("_")
        # A summary set (ServerMetrics.getSummarySet, BASIC): the default provider keys a member
        # `avg_<key>_<set>`, the Prometheus one labels it `<set>{key="<key>",...}`.
        member = re.fullmatch(r"(.+)_(read_per_namespace|write_per_namespace)", rest)
        if part in SUMMARY_PARTS and member:
            out.setdefault(member.group(2), ("summary", ()))
            sets = out.setdefault(("set", member.group(2)), set())
            sets.add(member.group(1))
            continue
        if part in SUMMARY_PARTS and all(f"{p}_{rest}" in keyset for p in SUMMARY_PARTS):
            advanced = f"p99_{rest}" in keyset
            out[rest] = ("summary", ("0.5", "0.9", "0.99") if advanced else ("0.5",))
            continue
        if part in PERCENTILE_PARTS and f"cnt_{rest}" in keyset:
            continue
        out[key] = ("gauge" if key in GAUGES else "counter", ())
    return out


def parse_prometheus(text):
    """{name: (type, {sample lines' label sets})} of a Prometheus text exposition."""
    types = {}
    samples = {}
    for line in text.split("\n"):
        m = re.match(r"^# TYPE (\S+) (\S+)$", line)
        if m:
            types[m.group(1)] = m.group(2)
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
        if m:
            samples.setdefault(m.group(1), []).append(m.group(2) or "")
    return types, samples


# Metrics of an ensemble, of quorum peers or of parts a standalone server does not
# run: they stay 0 on a standalone server, whatever it is.
QUORUM_ONLY = re.compile(
    r"^(learner_.*|.*proposal.*|ack_latency|election_time|looking_count|diff_count|snap_count|"
    r"trunc_count|follower_sync_time|observer_sync_time|leader_unavailable_time|quorum_.*|"
    r"om_.*|.*observer.*|sync_processor_.*|reads_after_write_in_session_queue|"
    r"reads_issued_from_session_queue|commit_count|proposal_count|propagation_latency|"
    r"uptodate_.*|startup_.*|.*learner.*|leader_.*|synced_.*|pending_syncs|revalidate_count|"
    r"concurrent_request_processing_in_commit_processor|inflight_(diff|snap)_count|"
    r"digest_mismatches_count|commit_propagation_latency|.*_in_commit_processor.*)$"
)


def compare_metrics(checks, ref_mntr, metrics_text, raw):
    expected = expected_metrics(ref_mntr)
    types, samples = parse_prometheus(metrics_text)
    raw.write(f"==== /metrics (under test)\n{metrics_text}\n")
    summary_sets = {k[1]: v for k, v in expected.items() if isinstance(k, tuple)}
    expected = {k: v for k, v in expected.items() if not isinstance(k, tuple)}
    for name, (kind, quantiles) in sorted(expected.items()):
        label = f"metrics/{name}"
        if name in summary_sets:
            # The server with the provider runs no client workload, so its members (one per namespace)
            # are not the reference's: check the type and the shape of whatever members it has.
            labels = samples.get(name, [])
            keys = [m.group(1) for m in (re.fullmatch(r'\{key="([^"]*)",quantile="0\.5",\}', x) for x in labels) if m]
            counts = sorted(samples.get(name + "_count", []))
            ok = (types.get(name) == "summary" and len(keys) == len(labels)
                  and counts == sorted(f'{{key="{k}",}}' for k in keys))
            checks.check(label, ok, f"want # TYPE {name} summary and {{key=...,quantile=\"0.5\",}} samples "
                                    f"+ _count/_sum per key, got {types.get(name)} {labels} {counts}")
            continue
        if jvm_only(name):
            checks.skip(label, "a JVM fact (garbage-collection pauses)")
            continue
        if QUORUM_ONLY.match(name):
            checks.skip(label, "ensemble metric: always 0 on a standalone server")
            continue
        got = types.get(name)
        if got != kind:
            checks.check(label, False, f"want # TYPE {name} {kind}, got {got}")
            continue
        if kind == "summary":
            labels = sorted(samples.get(name, []))
            want = sorted(f'{{quantile="{q}",}}' for q in quantiles)
            ok = labels == want and name + "_count" in samples and name + "_sum" in samples
            checks.check(label, ok, f"want samples {want} + _count/_sum, got {labels}")
        else:
            checks.check(label, samples.get(name) == [""], f"want one unlabelled sample, got {samples.get(name)}")


def parse_families(text):
    """{family: {"type", "help", "labels"}} of a Prometheus text exposition: the
    # TYPE and # HELP of each family and the label-name sets of its samples
    (a sample `<family>_count` or `_sum` of a summary counts as the family's,
    its suffix kept in the label set's key)."""
    families = {}
    for line in text.split("\n"):
        m = re.match(r"^# (TYPE|HELP) (\S+) ?(.*)$", line)
        if m:
            fam = families.setdefault(m.group(2), {"type": None, "help": None, "labels": set()})
            fam[m.group(1).lower()] = m.group(3)
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? \S+$", line)
        if not m:
            continue
        name, suffix = m.group(1), ""
        if name not in families:
            for end in ("_count", "_sum", "_bucket"):
                if name.endswith(end) and name[: -len(end)] in families:
                    name, suffix = name[: -len(end)], end
        names = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(2) or "")))
        fam = families.setdefault(name, {"type": None, "help": None, "labels": set()})
        fam["labels"].add((suffix, names))
    return families


def compare_metrics_live(checks, ref_text, test_text, raw):
    """The server under test's /metrics against the reference's, both under the
    Prometheus provider: every family the reference exports, with the same type,
    help text and label names; no family the reference does not export. Sample
    values and label values (a summary set's keys come from the workload) are
    not compared."""
    raw.write(f"==== /metrics (reference)\n{ref_text}\n==== /metrics (under test)\n{test_text}\n")
    ref = parse_families(ref_text)
    ours = parse_families(test_text)
    for name in sorted(ref):
        want, got = ref[name], ours.get(name)
        label = f"metrics/{name}"
        if got is None:
            checks.check(label, False, f"not exported; the reference exports # TYPE {want['type']}")
            continue
        checks.equal(f"{label} type", want["type"], got["type"])
        checks.equal(f"{label} help", want["help"], got["help"])
        checks.equal(f"{label} labels", sorted(want["labels"]), sorted(got["labels"]))
    extra = sorted(set(ours) - set(ref))
    checks.check("metrics/no other families", not extra, f"not exported by the reference: {extra}")


def check_provider_mntr(checks, ports, raw):
    """Under the Prometheus provider ZooKeeper's mntr and monitor list the
    provider's samples (PrometheusMetricsProvider.dump): after zk_version and
    zk_server_state, one `zk_<name>[{label="value"}]` line per /metrics sample,
    with a Java double. Checked against the same server's /metrics."""
    client, admin, metrics = ports
    mntr = four_letter(client, "mntr")
    _, _, text = http_get(metrics, "/metrics")
    raw.write(f"==== mntr under the provider\n{mntr}\n")
    samples = set()
    for line in text.split("\n"):
        if line and not line.startswith("#"):
            samples.add(line.rsplit(" ", 1)[0].replace(",}", "}"))
    lines = [line for line in mntr.split("\n") if line]
    head = [line.split("\t")[0] for line in lines[:2]]
    checks.equal("metrics/mntr under the provider: first lines", ["zk_version", "zk_server_state"], head)
    keys = {line.split("\t")[0][3:] for line in lines[2:]}
    checks.equal("metrics/mntr under the provider: one line per sample", sorted(samples), sorted(keys))
    doubles = [line for line in lines[2:] if not re.fullmatch(r"-?\d+\.\d+(E-?\d+)?|NaN|-?Infinity", line.split("\t")[1])]
    checks.check("metrics/mntr under the provider: values are doubles", not doubles, "\n".join(doubles[:10]))
    status, _, body = http_get(admin, "/commands/monitor")
    try:
        monitor = json.loads(body)
    except ValueError:
        monitor = {}
    got = sorted(k for k in monitor if k not in ("version", "server_state", "command", "error"))
    checks.equal("metrics/monitor under the provider", sorted(samples), got)


# ---------------------------------------------------------------- zktop


ZKTOP_MODULE = "/usr/lib/python3/dist-packages/zktop.py"


def run_zktop(ctx, port):
    """Run Debian's zktop on a pty for a few seconds; return (screen text, parsed ZKServer)."""
    if not os.path.exists(ZKTOP_MODULE):
        return None, None
    import pty

    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm"
        os.environ["LINES"], os.environ["COLUMNS"] = "30", "120"
        # /usr/bin/zktop's entry-point wrapper looks zktop up in the package
        # metadata of whichever python3 comes first on PATH; run its module.
        os.execv("/usr/bin/python3", ["python3", ZKTOP_MODULE, "--servers", f"127.0.0.1:{port}"])
    screen = []
    deadline = time.monotonic() + 4
    sent_quit = False
    while True:
        timeout = max(0.0, deadline - time.monotonic())
        if timeout == 0 and not sent_quit:
            os.write(fd, b"q")
            sent_quit = True
            deadline = time.monotonic() + 3
            continue
        ready, _, _ = select.select([fd], [], [], timeout if not sent_quit else 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            screen.append(data.decode(errors="replace"))
        elif sent_quit and time.monotonic() > deadline:
            break
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == 0:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    os.close(fd)
    # zktop's parser itself, on the same server: its ZKServer class (module level
    # code parses sys.argv, so give it the same arguments). zktop polls every 3 s
    # and shows a failed poll as "Unavailable": a poll can fail when the server
    # resets the connection (zktop sends "stat\n" and the server closes with the
    # "\n" unread), so up to five polls are made, as zktop would go on polling.
    probe = subprocess.run(
        ["/usr/bin/python3", "-c",
         "import sys, json; sys.argv=['zktop','--servers','127.0.0.1:%d']\n"
         "sys.path.insert(0,'/usr/lib/python3/dist-packages')\nimport zktop\n"
         "import time\n"
         "for attempt in range(5):\n"
         "    s=zktop.ZKServer('127.0.0.1:%d',0)\n"
         "    if not s.unavailable: break\n"
         "    time.sleep(0.5)\n"
         "print(json.dumps({'unavailable':s.unavailable,'mode':s.mode,'version':s.version,"
         "'sessions':len(s.sessions),'node_count':getattr(s,'node_count',None),"
         "'latency':getattr(s,'latency_min_avg_max',None),'zxid':getattr(s,'zxid',None)}))" % (port, port)],
        capture_output=True, text=True, timeout=30,
    )
    try:
        parsed = json.loads(probe.stdout.strip().split("\n")[-1])
    except (ValueError, IndexError):
        parsed = {"error": probe.stdout + probe.stderr}
    return "".join(screen), parsed


def compare_zktop(checks, ctx, ref_port, test_port, raw):
    ref_screen, ref_parsed = run_zktop(ctx, ref_port)
    if ref_screen is None:
        checks.skip("zktop", "zktop is not installed: run compat-tests/install.sh")
        return
    screen, parsed = run_zktop(ctx, test_port)
    raw.write(f"==== zktop (reference)\n{ref_parsed}\n{ref_screen!r}\n==== zktop (under test)\n{parsed}\n{screen!r}\n")
    checks.check("zktop/parses stat", parsed.get("unavailable") is False, f"zktop: {parsed}")
    same = {k: parsed.get(k) for k in ("mode", "sessions", "node_count", "zxid")}
    want = {k: ref_parsed.get(k) for k in ("mode", "sessions", "node_count", "zxid")}
    checks.equal("zktop/same figures", want, same)
    # the curses screen without its escape sequences: the summary line and the
    # server's row (mode S for standalone) as zktop draws them
    plain = re.sub(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Z0-9]|[=>])", " ", screen or "")
    summary = re.search(r"Ensemble -- nodecount:(\d+) zxid:0x[0-9a-f]+ sessions:(\d+)", plain)
    checks.check("zktop/summary line", summary is not None and summary.group(1) == str(ref_parsed.get("node_count")),
                 f"screen: {plain!r}")
    checks.check("zktop/server row", re.search(rf"127\.0\.0\.1\s+{test_port} S\b", plain) is not None,
                 f"screen: {plain!r}")


# ---------------------------------------------------------------- the judge


def run(ctx):
    import results
    import servers

    python = ctx.path(".venv", "bin", "python")
    sdist = ctx.path(".cache", f"kazoo-{KAZOO_VERSION}")
    if not os.path.exists(python) or not os.path.isdir(sdist):
        return results.unavailable(NAME, ctx.server, "missing .venv or kazoo sdist: run compat-tests/install.sh")
    res = results.Result(NAME, ctx.server)
    reference = ctx.start_server("zookeeper", REFERENCE_PORTS[0], extra_cfg=cfg_for(REFERENCE_PORTS, False))
    if reference.error:
        return results.server_down(NAME, ctx.server, f"reference: {reference.error}", ctx.reference)
    under_test = ctx.start_server(
        ctx.server, UNDER_TEST_PORTS[0], extra_cfg=cfg_for(UNDER_TEST_PORTS, False)
    )
    if under_test.error:
        return results.server_down(NAME, ctx.server, under_test.error, ctx.reference)
    # The provider changes what mntr and monitor list, so the comparisons above
    # run without it on both sides, and /metrics is scraped from a third server:
    # the server under test from the same zoo.cfg plus the provider's keys; and,
    # when the reference has the provider on its class path, from a fourth: the
    # reference with the same keys. A reference without it (3.8: no provider
    # release is served; Debian ships none) would not start naming it.
    live = servers.reference().prometheus_provider()
    prometheus = ref_prometheus = None
    if ctx.server == "ferrokeeper" or live:
        prometheus = ctx.start_server(
            ctx.server, PROMETHEUS_PORTS[0], extra_cfg=cfg_for(PROMETHEUS_PORTS, True)
        )
    if live:
        ref_prometheus = ctx.start_server(
            "zookeeper", REFERENCE_PROMETHEUS_PORTS[0], extra_cfg=cfg_for(REFERENCE_PROMETHEUS_PORTS, True)
        )
    for port in (REFERENCE_PORTS[1], UNDER_TEST_PORTS[1]):
        wait_http(port, "/commands")
    early = Checks(open(ctx.log("checks-early.log"), "w"))
    compare_packet_counts(early, reference, under_test)
    early.out.close()
    ref_clients = Clients(ctx, reference.address, "clients-reference.log")
    test_clients = Clients(ctx, under_test.address, "clients-under-test.log")
    try:
        if len(ref_clients.sessions) != 3 or len(test_clients.sessions) != 3:
            res.failed = max(1, ctx.reference.passed if ctx.reference else 1)
            res.note = "the kazoo clients could not make the shared state (see clients-*.log)"
            return res
        ref_n = Normaliser(ref_clients.sessions, reference.workdir, REFERENCE_PORTS)
        test_n = Normaliser(test_clients.sessions, under_test.workdir, UNDER_TEST_PORTS)
        with open(ctx.log("checks.log"), "w") as out, open(ctx.log("raw.txt"), "w") as raw:
            checks = Checks(out)
            # the checks made before the clients connected
            checks.passed, checks.failed, checks.failures = early.passed, early.failed, list(early.failures)
            ref_mntr = four_letter(reference.port, "mntr")
            compare_admin(checks, REFERENCE_PORTS[1], UNDER_TEST_PORTS[1], ref_n, test_n, raw)
            compare_four_letter_words(checks, reference, under_test, ref_n, test_n, raw)
            compare_zktop(checks, ctx, reference.port, under_test.port, raw)
            if ref_prometheus is not None and ref_prometheus.error:
                checks.check("metrics/reference scrape", False, f"the reference with the provider: {ref_prometheus.error}")
            elif prometheus is not None and not prometheus.error:
                status, _, text = http_get(PROMETHEUS_PORTS[2], "/metrics")
                checks.check("metrics/scrape", status == 200, f"GET /metrics: {status} {text[:200]}")
                if ref_prometheus is not None:
                    ref_status, _, ref_text = http_get(REFERENCE_PROMETHEUS_PORTS[2], "/metrics")
                    checks.check("metrics/reference scrape", ref_status == 200, f"GET /metrics: {ref_status} {ref_text[:200]}")
                    compare_metrics_live(checks, ref_text, text, raw)
                else:
                    compare_metrics(checks, ref_mntr, text, raw)
                check_provider_mntr(checks, PROMETHEUS_PORTS, raw)
            elif prometheus is not None:
                checks.check("metrics/scrape", False, f"the server with the provider: {prometheus.error}")
            else:
                for name in sorted(k for k in expected_metrics(ref_mntr) if isinstance(k, str)):
                    checks.skip(f"metrics/{name}", "the reference has no Prometheus provider on its class path")
        res.passed, res.failed, res.skipped = checks.passed, checks.failed, checks.skipped
        res.failures = checks.failures
    finally:
        ref_clients.close()
        test_clients.close()
    return res


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "clients":
    # judges/ holds kazoo.py (the kazoo judge), which would shadow the kazoo package
    sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
    clients(sys.argv[2])
