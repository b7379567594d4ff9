"""interchange judge: one data directory, written by one server, opened by the other.

Four moves, each on a fresh dataDir and dataLogDir: Apache ZooKeeper 3.8
writes and the server under test reads, then the other way round, first with
plain snapshots, then again with gz snapshots written by Apache ZooKeeper and
snappy ones written by the server under test (against `--server zookeeper` every
move is reference to reference, the baseline of the judge itself). Both servers
of a move run from the same zoo.cfg (extendedTypesEnabled=true for TTL nodes, a
snapCount small enough that the writer takes snapshots under load, so the reader
recovers from a snapshot and the log after it, the container manager held idle);
that the writer left at least two snapshots in the chosen format is a check.

The writer side (this file run as a script under compat-tests/.venv with kazoo)
builds a tree of more than 10,000 znodes of every kind: persistent, sequential,
ephemeral and ephemeral sequential (owned by three sessions), container, TTL and
TTL sequential; data from 0 bytes to 100 KB; ACLs of the world, auth, digest and
ip schemes, single and combined; nodes whose data and ACL were set again
(version, aversion) and whose children came and went (cversion, pzxid); and a
session that closed (its ephemerals are gone). It dumps every znode outside
/zookeeper (path, data, ACL and the stat fields that carry over) while its
sessions are still alive, saves the session ids and passwords, and leaves
without closing them. The writer is killed with SIGKILL, and the reader starts
at once on the same directories, within the 40 s session timeout.

The reader side resumes every live session with its id and password (one check
each), checks that the closed one does not come back, that `dump` lists the
sessions that own ephemerals, that the server reported no digest mismatch while
loading, and that a new write after the move gets a higher zxid and the resumed
session as its owner; then it dumps the tree again: one check per znode (same
path, data, ACL and stat), and every znode the writer never had fails. When the
reader does not start, every check it would have made fails.

Ports 23100-23107 (127.0.0.1). A move takes 15 to 45 seconds.
"""

import json
import os
import re
import signal
import sys
import time

NAME = "interchange"
NEEDS_SERVER = False
SESSION_TIMEOUT = 40  # seconds: maxSessionTimeout at tickTime=2000
DIGEST_USERS = [("ix-user", "ix-pass"), ("ix-other", "other-pass")]
CONTAINERS_IDLE = "-Dznode.container.checkIntervalMs=3600000"
WRITE_TIMEOUT = 600
READ_TIMEOUT = 300
# (writer, reader, snapshot compression, (writer port, reader port)); None is the server under test.
DIRECTIONS = [
    ("zookeeper", None, "none", (23100, 23101)),
    (None, "zookeeper", "none", (23102, 23103)),
    ("zookeeper", None, "gz", (23104, 23105)),
    (None, "zookeeper", "snappy", (23106, 23107)),
]
# Checks of the reader besides one per znode and three per live session (resumed, listed by `dump`,
# owning its ephemerals): the closed session, digests, and the write after the move (zxid, owner).
READER_FIXED_CHECKS = 4


# ----------------------------------------------------------------------------
# The judge (run by compat-tests/harness/run.py under the system python)


def _zoo_cfg(path, port, data_dir, log_dir, compression):
    with open(path, "w") as cfg:
        cfg.write(
            "tickTime=2000\n"
            f"dataDir={data_dir}\n"
            f"dataLogDir={log_dir}\n"
            f"clientPort={port}\n"
            "clientPortAddress=127.0.0.1\n"
            "4lw.commands.whitelist=*\n"
            "admin.enableServer=false\n"
            "extendedTypesEnabled=true\n"
            "snapCount=3000\n"
            "maxSessionTimeout=40000\n"
            f"snapshot.compression.method={compression}\n"
        )


def _start(ctx, kind, port, data_dir, log_dir, compression, started):
    from servers import Server

    server = Server(kind, port, ctx.ferrokeeper_bin, ctx.work_dir, [CONTAINERS_IDLE])
    _zoo_cfg(server.cfg_path, port, data_dir, log_dir, compression)
    started.append(server)
    server.start()
    return server


def _kill(server):
    """SIGKILL, as a crash: sessions stay in the data directory."""
    if server.process is not None and server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)


def _count_reader_checks(state_path):
    try:
        with open(state_path) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return 0
    return len(state["dump"]) + 3 * len(state["sessions"]) + READER_FIXED_CHECKS


def _snapshots_in(data_dir, compression):
    """The snapshot files the writer left in the format it was told to write."""
    names = os.listdir(os.path.join(data_dir, "version-2"))
    suffix = {"gz": ".gz", "snappy": ".snappy"}.get(compression)
    return [
        n
        for n in names
        if n.startswith("snapshot.")
        and (n.endswith(suffix) if suffix else n.count(".") == 1)
    ]


def _direction(ctx, python, env, writer_kind, reader_kind, compression, ports, res, started):
    from judges.common import parse_pass_fail_lines, run_logged

    label = f"{writer_kind}-{compression}-to-{reader_kind}"
    if writer_kind == reader_kind:
        label += f"-{ports[0]}"
    base = ctx.log(label)
    data_dir, log_dir = os.path.join(base, "data"), os.path.join(base, "datalog")
    os.makedirs(data_dir)
    os.makedirs(log_dir)
    state_path = os.path.join(base, "state.json")
    script = os.path.abspath(__file__)

    writer = _start(ctx, writer_kind, ports[0], data_dir, log_dir, compression, started)
    if writer.error:
        res.failed += 1
        res.failures.append(f"{label}: the writer did not start: {writer.error}")
        return
    write_log = ctx.log(f"{label}-write.log")
    cmd = [python, script, "write", "--hosts", writer.address, "--state", state_path]
    outcome = run_logged(cmd, write_log, WRITE_TIMEOUT, env=env)
    _kill(writer)
    passed, failed, _, failures = parse_pass_fail_lines(write_log)
    res.passed += passed
    res.failed += failed
    res.failures += [f"{label}: {f}" for f in failures]
    expected = _count_reader_checks(state_path)
    if outcome.returncode != 0 or expected == 0:
        res.failed += 1
        res.failures.append(f"{label}: writing the tree failed; see {os.path.basename(write_log)}")
        return

    # The start-up snapshot and at least one taken under load.
    snaps = _snapshots_in(data_dir, compression)
    if len(snaps) >= 2:
        res.passed += 1
    else:
        res.failed += 1
        res.failures.append(f"{label}: the writer left {snaps} as {compression} snapshots")
    reader = _start(ctx, reader_kind, ports[1], data_dir, log_dir, compression, started)
    if reader.error:
        res.failed += expected
        res.failures.append(f"{label}: the reader did not start: {reader.error}")
        return
    read_log = ctx.log(f"{label}-read.log")
    cmd = [
        python, script, "read", "--hosts", reader.address, "--state", state_path,
        "--server-log", reader.log_path,
    ]  # fmt: skip
    outcome = run_logged(cmd, read_log, READ_TIMEOUT, env=env)
    reader.stop()
    passed, failed, _, failures = parse_pass_fail_lines(read_log)
    res.passed += passed
    res.failed += failed + max(0, expected - passed - failed)
    res.failures += [f"{label}: {f}" for f in failures]
    if outcome.returncode != 0 or passed + failed < expected:
        res.failures.append(
            f"{label}: the reader made {passed + failed} of {expected} checks; "
            f"see {os.path.basename(read_log)}"
        )


def run(ctx):
    import results
    from judges.kazoo import sdist_dir

    python = ctx.path(".venv", "bin", "python")
    src = sdist_dir(ctx)
    if not os.path.exists(python) or not os.path.isdir(src):
        return results.unavailable(NAME, ctx.server, "not installed: run compat-tests/install.sh")
    env = dict(os.environ)
    env["PYTHONPATH"] = src
    res = results.Result(NAME, ctx.server)
    started = []
    try:
        for writer, reader, compression, ports in DIRECTIONS:
            writer = writer or ctx.server
            reader = reader or ctx.server
            _direction(ctx, python, env, writer, reader, compression, ports, res, started)
    finally:
        for server in started:
            server.stop()
    res.note = "4 moves (both ways; snapshots plain, gz, snappy), 10,000+ znodes, live sessions"
    return res


# ----------------------------------------------------------------------------
# The writer and the reader (this file as a script, under compat-tests/.venv)


def _client(hosts, client_id=None, auth=True):
    from kazoo.client import KazooClient

    auth_data = [("digest", f"{u}:{p}") for u, p in DIGEST_USERS] if auth else None
    client = KazooClient(
        hosts=hosts, timeout=SESSION_TIMEOUT, client_id=client_id, auth_data=auth_data
    )
    client.start(timeout=30)
    return client


def _typed_create(client, opcode, path, data, acl, flags, ttl=None):
    """createContainer (19) and createTTL (21), which kazoo does not offer."""
    from collections import namedtuple

    from kazoo.protocol.serialization import int_struct, long_struct, read_string
    from kazoo.protocol.serialization import write_buffer, write_string

    class TypedCreate(namedtuple("TypedCreate", "path data acl flags ttl")):
        type = opcode

        def serialize(self):
            b = bytearray()
            b.extend(write_string(self.path))
            b.extend(write_buffer(self.data))
            b.extend(int_struct.pack(len(self.acl)))
            for entry in self.acl:
                b.extend(int_struct.pack(entry.perms))
                b.extend(write_string(entry.id.scheme) + write_string(entry.id.id))
            b.extend(int_struct.pack(self.flags))
            if self.ttl is not None:
                b.extend(long_struct.pack(self.ttl))
            return b

        @classmethod
        def deserialize(cls, bytes, offset):
            return read_string(bytes, offset)[0]

    result = client.handler.async_result()
    client._call(TypedCreate(path, data, acl, flags, ttl), result)
    return result


def _wait_all(results):
    for r in results:
        r.get(timeout=120)


def _batched(calls, size=400):
    pending = []
    for call in calls:
        pending.append(call())
        if len(pending) >= size:
            _wait_all(pending)
            pending = []
    _wait_all(pending)


def _acls():
    from kazoo.security import (
        ACL,
        CREATOR_ALL_ACL,
        OPEN_ACL_UNSAFE,
        READ_ACL_UNSAFE,
        Id,
        Permissions,
        make_digest_acl,
    )

    user, other = DIGEST_USERS
    ip = ACL(Permissions.READ | Permissions.WRITE | Permissions.ADMIN, Id("ip", "127.0.0.1"))
    return [
        ("open", OPEN_ACL_UNSAFE, True),
        ("read-only", READ_ACL_UNSAFE, False),
        ("creator", CREATOR_ALL_ACL, True),
        ("digest", [make_digest_acl(user[0], user[1], all=True)], True),
        (
            "digest+world-read",
            [make_digest_acl(user[0], user[1], all=True)] + READ_ACL_UNSAFE,
            True,
        ),
        (
            "two-digests",
            [
                make_digest_acl(other[0], other[1], read=True, admin=True),
                make_digest_acl(user[0], user[1], all=True),
            ],
            True,
        ),
        ("ip", [ip], True),
        ("other-only", [make_digest_acl(other[0], other[1], all=True)], False),
    ]


def _data(i):
    sizes = [0, 1, 10, 100, 1000, 3000, 17]
    size = 100_000 if i % 997 == 0 else sizes[i % len(sizes)]
    seed = f"{i}:".encode()
    return (seed * (size // len(seed) + 1))[:size]


def _record(data, acl, stat):
    import hashlib

    return {
        "data_sha256": hashlib.sha256(data or b"").hexdigest(),
        "acl": sorted([a.perms, a.id.scheme, a.id.id] for a in acl),
        "czxid": stat.czxid,
        "mzxid": stat.mzxid,
        "pzxid": stat.pzxid,
        "version": stat.version,
        "cversion": stat.cversion,
        "aversion": stat.aversion,
        "ephemeralOwner": stat.ephemeralOwner,
        "dataLength": stat.dataLength,
        "numChildren": stat.numChildren,
        "ctime": stat.ctime,
        "mtime": stat.mtime,
    }


def dump(client):
    """Every znode outside /zookeeper: path -> record."""
    out = {}
    frontier = ["/"]
    while frontier:
        chunk, frontier = frontier[:300], frontier[300:]
        asked = [
            (p, client.get_async(p), client.get_acls_async(p), client.get_children_async(p))
            for p in chunk
        ]
        for path, got, acls, children in asked:
            data, stat = got.get(timeout=120)
            acl, _ = acls.get(timeout=120)
            out[path] = _record(data, acl, stat)
            for child in sorted(children.get(timeout=120)):
                full = ("/" if path == "/" else path + "/") + child
                if full != "/zookeeper":
                    frontier.append(full)
    return out


def _check(ok, name, why=""):
    if ok:
        print(f"PASS {name}")
    else:
        print(f"FAIL {name}: {why}")
    sys.stdout.flush()
    return ok


def write(hosts, state_path):
    from kazoo.security import OPEN_ACL_UNSAFE

    main = _client(hosts)
    owners = [_client(hosts) for _ in range(2)]
    gone = _client(hosts)
    acls = _acls()
    main.create("/ix", b"interchange", acl=OPEN_ACL_UNSAFE)
    for top in ["p", "seq", "eph", "cont", "ttl", "deep"]:
        main.create(f"/ix/{top}", top.encode(), acl=OPEN_ACL_UNSAFE)

    # Persistent znodes: 41 directories of 210 children, every ACL kind, data of every size.
    dirs, leaves = 41, 210
    _batched(
        (lambda d=d: main.create_async(f"/ix/p/d{d}", f"dir {d}".encode(), acl=OPEN_ACL_UNSAFE))
        for d in range(dirs)
    )
    calls, writable = [], []
    for d in range(dirs):
        for n in range(leaves):
            i = d * leaves + n
            kind, acl, can_write = acls[i % len(acls)]
            path = f"/ix/p/d{d}/n{n}-{kind}"
            calls.append(lambda p=path, i=i, acl=acl: main.create_async(p, _data(i), acl=acl))
            if can_write and kind != "ip":
                writable.append((i, path))
    _batched(calls)
    # Versions: data set again 1 to 4 times, ACLs set again.
    _batched(
        (lambda p=p, i=i, k=k: main.set_async(p, f"set {k} of {i}".encode()))
        for i, p in writable
        if i % 7 == 0
        for k in range(1 + i % 4)
    )
    _batched(
        (lambda p=p, i=i: main.set_acls_async(p, acls[i % 2 * 3][1]))
        for i, p in writable
        if i % 11 == 0
    )
    # Children that came and went (cversion, pzxid).
    for d in range(0, dirs, 3):
        for k in range(3):
            main.create(f"/ix/p/d{d}/gone-{k}", b"")
            main.delete(f"/ix/p/d{d}/gone-{k}")
    # Sequential znodes.
    _batched(
        (lambda i=i: main.create_async("/ix/seq/s-", _data(i), sequence=True)) for i in range(600)
    )
    # Containers, each with a child, and one emptied (cversion > 0, no children).
    for i in range(100):
        _typed_create(main, 19, f"/ix/cont/c{i}", f"container {i}".encode(), OPEN_ACL_UNSAFE, 4).get(
            timeout=60
        )
        main.create(f"/ix/cont/c{i}/child", b"x")
    main.delete("/ix/cont/c0/child")
    # TTL znodes (an hour, so the TTL manager leaves them), plain and sequential.
    _batched(
        (
            lambda i=i: _typed_create(
                main, 21, f"/ix/ttl/t{i}", _data(i), OPEN_ACL_UNSAFE, 5, 3_600_000 + i
            )
        )
        for i in range(100)
    )
    _batched(
        (
            lambda i=i: _typed_create(
                main, 21, "/ix/ttl/ts-", _data(i), OPEN_ACL_UNSAFE, 6, 7_200_000
            )
        )
        for i in range(50)
    )
    # A deep path and names beyond ASCII.
    path = "/ix/deep"
    for level in range(30):
        path += f"/l{level}"
        main.create(path, str(level).encode())
    for name in ["ünïcødé", "日本語", "sp ace", "dots..x"]:
        main.create(f"/ix/deep/{name}", name.encode())
    # Ephemerals of three live sessions and of one that closes.
    sessions = [main] + owners
    for s, client in enumerate(sessions):
        main.create(f"/ix/eph/s{s}", b"")
        _batched(
            (lambda c=client, s=s, i=i: c.create_async(f"/ix/eph/s{s}/e{i}", _data(i), ephemeral=True))
            for i in range(150)
        )
        _batched(
            (
                lambda c=client, s=s, i=i: c.create_async(
                    f"/ix/eph/s{s}/es-", _data(i), ephemeral=True, sequence=True
                )
            )
            for i in range(30)
        )
    main.create("/ix/eph/gone", b"")
    _batched(
        (lambda i=i: gone.create_async(f"/ix/eph/gone/e{i}", b"bye", ephemeral=True))
        for i in range(20)
    )
    gone_id = gone.client_id[0]
    gone_password = gone.client_id[1].hex()
    gone.stop()
    gone.close()

    tree = dump(main)
    _check(len(tree) >= 10_000, "tree of at least 10,000 znodes", f"only {len(tree)}")
    _check(
        not any(p.startswith("/ix/eph/gone/") for p in tree),
        "the closed session's ephemerals are gone on the writer",
    )
    owned = {}
    for record in tree.values():
        owner = record["ephemeralOwner"]
        if owner and (owner >> 56) & 0xFF != 0xFF:  # TTL nodes keep their TTL here
            owned[owner] = owned.get(owner, 0) + 1
    state = {
        "dump": tree,
        "sessions": [
            {"id": c.client_id[0], "password": c.client_id[1].hex(), "ephemerals": owned.get(c.client_id[0], 0)}
            for c in sessions
        ],
        "gone": {"id": gone_id, "password": gone_password},
        "max_zxid": max(max(r["czxid"], r["mzxid"], r["pzxid"]) for r in tree.values()),
    }
    with open(state_path + ".tmp", "w") as out:
        json.dump(state, out)
    os.rename(state_path + ".tmp", state_path)
    print(f"wrote {len(tree)} znodes; sessions left open: {[hex(s['id']) for s in state['sessions']]}")
    sys.stdout.flush()
    # Leave without closing the sessions: their ephemerals must survive the move.
    os._exit(0)


def _four_letter(hosts, word):
    import socket

    host, port = hosts.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(word.encode())
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def read(hosts, state_path, server_log):
    with open(state_path) as f:
        state = json.load(f)
    # Sessions first: they must be resumed within their timeout.
    resumed = []
    for s in state["sessions"]:
        sid = s["id"]
        try:
            client = _client(hosts, client_id=(sid, bytes.fromhex(s["password"])))
            got = client.client_id[0]
            resumed.append(client)
            _check(got == sid, f"session {sid:#x} resumes", f"got a new session {got:#x}")
        except Exception as err:  # noqa: BLE001 - any failure is a failed check
            _check(False, f"session {sid:#x} resumes", repr(err))
    gone = state["gone"]
    try:
        client = _client(hosts, client_id=(gone["id"], bytes.fromhex(gone["password"])))
        got = client.client_id[0]
        client.stop()
        client.close()
        _check(got != gone["id"], f"closed session {gone['id']:#x} stays closed", "it was resumed")
    except Exception as err:  # noqa: BLE001
        _check(True, f"closed session {gone['id']:#x} stays closed ({type(err).__name__})")
    answer = _four_letter(hosts, "dump")
    for s in state["sessions"]:
        _check(
            f"{s['id']:#x}".lower() in answer.lower(),
            f"dump lists session {s['id']:#x}",
            answer[:300].replace("\n", " | "),
        )
    try:
        with open(server_log, errors="replace") as f:
            log = f.read().lower()
    except OSError:
        log = ""
    _check(
        "digests are not matching" not in log and "digest mismatch" not in log,
        "the reader found no digest mismatch while loading",
    )
    main = resumed[0] if resumed else _client(hosts)
    try:
        main.create("/ix/after-move", b"after", ephemeral=True)
        stat = main.exists("/ix/after-move")
        _check(
            stat.czxid > state["max_zxid"],
            "a write after the move gets a higher zxid",
            f"{stat.czxid:#x} <= {state['max_zxid']:#x}",
        )
        _check(
            stat.ephemeralOwner == state["sessions"][0]["id"],
            "the resumed session owns what it creates",
            f"{stat.ephemeralOwner:#x}",
        )
        main.delete("/ix/after-move")
    except Exception as err:  # noqa: BLE001
        _check(False, "a write after the move", repr(err))
        _check(False, "the resumed session owns what it creates", repr(err))
    tree = dump(main)
    tree.pop("/ix/after-move", None)
    written = state["dump"]
    # The root and /ix changed with /ix/after-move (pzxid, cversion): compare them before it.
    for path, record in written.items():
        got = tree.get(path)
        if got is None:
            _check(False, f"znode {path}", "missing")
            continue
        if path in ("/ix",):
            got = dict(got, pzxid=record["pzxid"], cversion=record["cversion"])
        diff = {k: (v, got.get(k)) for k, v in record.items() if got.get(k) != v}
        _check(not diff, f"znode {path}", f"written {{k: (written, read)}} = {diff}")
    for path in sorted(set(tree) - set(written)):
        _check(False, f"znode {path}", "never written")
    # The ephemerals each session owns, as the reader counts them.
    owned = {}
    for record in tree.values():
        owner = record["ephemeralOwner"]
        if owner and (owner >> 56) & 0xFF != 0xFF:
            owned[owner] = owned.get(owner, 0) + 1
    for s in state["sessions"]:
        _check(
            owned.get(s["id"], 0) == s["ephemerals"],
            f"session {s['id']:#x} owns its {s['ephemerals']} ephemerals",
            f"it owns {owned.get(s['id'], 0)}",
        )
    for client in resumed:
        client.stop()
        client.close()


def main(argv):
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["write", "read"])
    parser.add_argument("--hosts", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--server-log", default="")
    args = parser.parse_args(argv)
    if args.mode == "write":
        write(args.hosts, args.state)
    else:
        read(args.hosts, args.state, args.server_log)
    return 0


if __name__ == "__main__":
    # This directory holds judges/kazoo.py, which must not shadow the kazoo package.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    sys.exit(main(sys.argv[1:]))
