#!/usr/bin/env python3
"""Capture Apache ZooKeeper 3.8.0 quorum-port traffic for the golden tests.

Runs a three-member ensemble of real servers on 127.0.0.1-3 (same ports, one
address each). Every member's zoo.cfg names the other members at a relay
address 127.0.0.(10+sid), where this script forwards both ports to the real
member and records each quorum-port connection byte for byte, in both
directions. Every learner-to-leader connection of the run is therefore
recorded, whoever leads. The run:

1. members 2 and 3 start (3 leads, 2 joins with an empty DIFF);
2. a client writes through the leader: createSession, create, setData,
   delete, multi, closeSession (PROPOSAL, ACK, COMMIT) and keeps a session
   open (PING with the sessions touched);
3. member 1 starts with an empty data dir after the leader has a snapshot:
   SNAP, the serialized database and its signature;
4. member 1 stops, the leader takes more writes, member 1 restarts: DIFF
   with the PROPOSAL/COMMIT pairs it lacks;
5. a client resumes its session on member 1 (REVALIDATE), writes through it
   (REQUEST), calls sync (REQUEST, then SYNC), opens and closes a session
   there (REQUEST createSession / closeSession);
6. the relay stops delivering the leader's quorum traffic, the leader logs a
   write nobody receives and is killed (kill -9); 1 and 2 elect 2, take a
   write, and member 3 restarts and is told to TRUNC its log.

    python3 tools/capture/quorum.py               # writes jute/tests/golden/quorum
    python3 tools/capture/quorum.py --out /tmp/q --port 24400

Output: one file per direction of each recorded connection,
`NN-<learner>-to-<leader>-<learner|leader>.bin` (what that side sent, exactly
as sent), and `manifest.json`: for each stream its packets in order with
offset, length, type, zxid and the decoded body (this script's own reader,
independent of the Rust codec), with `seq` ordering packets across the two
directions of a connection (the relay read that completed the packet).
"""

import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import datadir as D  # noqa: E402
from election import read_exact  # noqa: E402
import jutedec as J  # noqa: E402
from jutedec import DecodeError, Reader  # noqa: E402
from zkserver import DEBIAN, SERVER_MAIN, server_java, server_mode, stop_process  # noqa: E402

PACKET_TYPES = {
    1: "REQUEST", 2: "PROPOSAL", 3: "ACK", 4: "COMMIT", 5: "PING", 6: "REVALIDATE",
    7: "SYNC", 8: "INFORM", 9: "COMMITANDACTIVATE", 10: "NEWLEADER", 11: "FOLLOWERINFO",
    12: "UPTODATE", 13: "DIFF", 14: "TRUNC", 15: "SNAP", 16: "OBSERVERINFO",
    17: "LEADERINFO", 18: "ACKEPOCH", 19: "INFORMANDACTIVATE",
}
SIDS = (1, 2, 3)


def addr(sid):
    return f"127.0.0.{sid}"


def relay_addr(sid):
    return f"127.0.0.{10 + sid}"


# ---------------------------------------------------------------------------
# Decoding, independent of the Rust codec.

def read_packet(r):
    start = r.pos
    ptype, zxid, data = r.int(), r.long(), r.buffer()
    auth = r.vector(lambda rr: {"scheme": rr.ustring(), "id": rr.ustring()})
    return start, ptype, zxid, data, auth


def decode_snap_stream(r):
    """SerializeUtils.serializeSnapshot (no file header, no seals) + the signature."""
    sessions, acls, nodes = D.read_serialized_db(r)
    signature = r.ustring()
    if signature != "BenWasHere":
        raise DecodeError(f"snapshot signature {signature!r}")
    return {"sessions": sessions, "acls": acls, "nodes": nodes, "signature": signature}


def decode_body(ptype, data, from_leader):
    """The decoded payload of one packet, by type and direction."""
    name = PACKET_TYPES.get(ptype)
    if name is None:
        raise DecodeError(f"packet type {ptype}")
    if data is None:
        return None
    r = Reader(data)
    if name in ("FOLLOWERINFO", "OBSERVERINFO"):
        body = {"serverid": r.long(), "protocol_version": r.int(), "config_version": r.long()}
    elif name in ("LEADERINFO",):
        body = {"protocol_version": r.int()}
    elif name == "ACKEPOCH":
        body = {"current_epoch": r.int()}
    elif name == "NEWLEADER":
        body = {"config": r._take(r.remaining()).decode("utf-8")}
    elif name in ("PROPOSAL", "INFORM"):
        body = D.decode_txn(r._take(r.remaining()))
    elif name == "PING":
        if from_leader:
            raise DecodeError("PING from the leader with data")
        body = {"sessions": []}
        while r.remaining():
            body["sessions"].append({"session_id": r.long(), "timeout": r.int()})
    elif name == "REVALIDATE":
        body = ({"session_id": r.long(), "valid": r.bool()} if from_leader
                else {"session_id": r.long(), "timeout": r.int()})
    elif name == "REQUEST":
        session_id, cxid, op = r.long(), r.int(), r.int()
        body = {"session_id": session_id, "cxid": cxid, "type": op,
                "type_name": J.OPCODES.get(op)}
        if op == -10:
            body["request"] = {"time_out": r.int()}
        else:
            body["request"] = J.decode_request_body(op, r)
    else:
        raise DecodeError(f"{name} with data {data.hex()}")
    r.expect_end(f"{name} body")
    return body


def decode_stream(blob, chunks, from_leader):
    """Every packet of one direction of a connection; a SNAP packet is followed by its snapshot."""
    r = Reader(blob)
    out = []
    while r.remaining():
        start, ptype, zxid, data, auth = read_packet(r)
        entry = {"offset": start, "length": r.pos - start, "type": ptype,
                 "type_name": PACKET_TYPES.get(ptype), "zxid": zxid,
                 "data_len": None if data is None else len(data), "authinfo": auth,
                 "body": decode_body(ptype, data, from_leader)}
        if ptype == 15 and from_leader:
            s = r.pos
            entry["snapshot"] = decode_snap_stream(r)
            entry["snapshot"]["offset"] = s
            entry["snapshot"]["length"] = r.pos - s
        entry["seq"] = seq_at(chunks, r.pos)
        out.append(entry)
    return out


def seq_at(chunks, end):
    """The sequence number of the relay read that delivered byte `end - 1`."""
    total = 0
    for seq, data in chunks:
        total += len(data)
        if total >= end:
            return seq
    raise DecodeError("offset past the stream")


# ---------------------------------------------------------------------------
# The relay.

# One counter for every relay, so `seq` also orders connections by when they opened.
SEQ_LOCK = threading.Lock()
SEQ = [0]


class Relay:
    """Forwards 127.0.0.(10+sid):port to 127.0.0.sid:port; records the quorum port."""

    def __init__(self, sid, ports, quorum_port):
        self.sid = sid
        self.quorum_port = quorum_port
        self.listeners = []
        self.conns = []
        self.lock = SEQ_LOCK
        self.seq = SEQ
        self.sockets = []
        self.frozen = False
        for port in ports:
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((relay_addr(sid), port))
            ls.listen(16)
            self.listeners.append(ls)
            threading.Thread(target=self._accept, args=(ls, port), daemon=True).start()

    def _accept(self, ls, port):
        while True:
            try:
                down, _ = ls.accept()
            except OSError:
                return
            try:
                up = socket.create_connection((addr(self.sid), port), 5)
            except OSError:
                down.close()
                continue
            up.settimeout(None)
            record = None
            if port == self.quorum_port:
                record = {"leader": self.sid, "chunks": []}
                with self.lock:
                    self.conns.append(record)
            self.sockets += [down, up]
            threading.Thread(target=self._pump, args=(down, up, record, "learner"), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down, record, "leader"), daemon=True).start()

    def _pump(self, src, dst, record, side):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if self.frozen and record is not None:
                # Held back and never delivered: as if the network between the members were cut.
                continue
            if record is not None:
                with self.lock:
                    self.seq[0] += 1
                    record["chunks"].append((self.seq[0], side, data))
            try:
                dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        """Stops delivering quorum traffic through this relay (election traffic still flows)."""
        self.frozen = True

    def reset(self):
        """Closes every connection made through this relay and delivers again from then on."""
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass
        self.sockets = []
        self.frozen = False

    def close(self):
        for s in self.listeners + self.sockets:
            try:
                s.close()
            except OSError:
                pass


# ---------------------------------------------------------------------------
# Members.

class Member:
    def __init__(self, sid, root, ports, version):
        self.version = version
        self.sid = sid
        self.ports = ports
        self.dir = os.path.join(root, f"m{sid}")
        self.data = os.path.join(self.dir, "data")
        self.proc = None
        self.log = os.path.join(self.dir, "server.log")

    def write_config(self):
        os.makedirs(self.data, exist_ok=True)
        with open(os.path.join(self.data, "myid"), "w") as f:
            f.write(f"{self.sid}\n")
        q, e, c = self.ports
        cfg = {"tickTime": "500", "initLimit": "20", "syncLimit": "5", "dataDir": self.data,
               "clientPort": str(c), "clientPortAddress": addr(self.sid), "snapCount": "10",
               "admin.enableServer": "false", "4lw.commands.whitelist": "*"}
        for s in SIDS:
            host = addr(s) if s == self.sid else relay_addr(s)
            cfg[f"server.{s}"] = f"{host}:{q}:{e}"
        with open(os.path.join(self.dir, "zoo.cfg"), "w") as f:
            f.write("".join(f"{k}={v}\n" for k, v in cfg.items()))

    def start(self):
        self.write_config()
        cmd = [*server_java(self.version, self.dir), "-Djava.awt.headless=true",
               "-Dzookeeper.preAllocSize=16", SERVER_MAIN, os.path.join(self.dir, "zoo.cfg")]
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "a"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def mode(self):
        return server_mode(addr(self.sid), self.ports[2])


def wait_modes(want, seconds=90, alive=()):
    """Waits until the members have the modes wanted, pinging the sessions of `alive` meanwhile (a member's
    start can take longer than a session's timeout)."""
    deadline = time.monotonic() + seconds
    got = {}
    while time.monotonic() < deadline:
        for c in alive:
            c.ping()
        got = {m.sid: m.mode() for m in want}
        if all(got[m.sid] == mode for m, mode in want.items()):
            return
        time.sleep(0.3)
    raise RuntimeError(f"modes {got}, wanted { {m.sid: v for m, v in want.items()} }")


# ---------------------------------------------------------------------------
# A minimal client: enough to make the writes, sessions and syncs this run needs.

def _frame(payload):
    return struct.pack(">i", len(payload)) + payload


def _ustring(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def _read_exact(sock, n):
    out = read_exact(sock, n)
    if out is None:
        raise RuntimeError("connection closed")
    return out


OPEN_ACL = struct.pack(">ii", 1, 31) + _ustring("world") + _ustring("anyone")


class Client:
    def __init__(self, sid, port, session=(0, bytes(16)), timeout=6000):
        self.sock = socket.create_connection((addr(sid), port), 10)
        sid_, passwd = session
        self.sock.sendall(_frame(struct.pack(">iqiq", 0, 0, timeout, sid_)
                                 + struct.pack(">i", 16) + passwd + b"\x00"))
        n = struct.unpack(">i", _read_exact(self.sock, 4))[0]
        r = Reader(_read_exact(self.sock, n))
        r.int()
        self.timeout, self.session_id, self.passwd = r.int(), r.long(), r.buffer()
        if self.session_id == 0:
            raise RuntimeError("session refused")
        self.xid = 0

    def call(self, op, body=b""):
        self.xid += 1
        self.sock.sendall(_frame(struct.pack(">ii", self.xid, op) + body))
        while True:
            n = struct.unpack(">i", _read_exact(self.sock, 4))[0]
            reply = _read_exact(self.sock, n)
            xid, _zxid, err = struct.unpack(">iqi", reply[:16])
            if xid == self.xid:
                return err
            # watch events (-1) and pings (-2) are skipped

    def send_only(self, op, body=b""):
        self.xid += 1
        self.sock.sendall(_frame(struct.pack(">ii", self.xid, op) + body))

    def create(self, path, data=b"x", flags=0):
        return self.call(1, _ustring(path) + struct.pack(">i", len(data)) + data + OPEN_ACL
                         + struct.pack(">i", flags))

    def set_data(self, path, data):
        return self.call(5, _ustring(path) + struct.pack(">i", len(data)) + data
                         + struct.pack(">i", -1))

    def delete(self, path):
        return self.call(2, _ustring(path) + struct.pack(">i", -1))

    def multi(self, path):
        ops = (struct.pack(">i?i", 1, False, -1) + _ustring(path) + struct.pack(">i", 1) + b"m"
               + OPEN_ACL + struct.pack(">i", 0)
               + struct.pack(">i?i", 13, False, -1) + _ustring(path) + struct.pack(">i", 0)
               + struct.pack(">i?i", 5, False, -1) + _ustring(path) + struct.pack(">i", 2)
               + b"m2" + struct.pack(">i", 0)
               + struct.pack(">i?i", 2, False, -1) + _ustring(path) + struct.pack(">i", 1)
               + struct.pack(">i?i", -1, True, -1))
        return self.call(14, ops)

    def sync(self, path):
        return self.call(9, _ustring(path))

    def ping(self):
        self.sock.sendall(_frame(struct.pack(">ii", -2, 11)))

    def close_session(self):
        err = self.call(-11)
        self.sock.close()
        return err

    def drop(self):
        self.sock.close()


def keep_alive(client, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        client.ping()
        time.sleep(0.5)


def write_batch(c, tag, n):
    for i in range(n):
        c.create(f"/{tag}-{i}", f"{tag}{i}".encode())
        c.set_data(f"/{tag}-{i}", b"v2")
    c.delete(f"/{tag}-0")
    c.multi(f"/{tag}-multi")


# ---------------------------------------------------------------------------

def run(root, ports, version, log):
    q, e, cport = ports
    relays = {s: Relay(s, (q, e), q) for s in SIDS}
    m = {s: Member(s, root, ports, version) for s in SIDS}
    try:
        log("1. members 2 and 3")
        m[3].start()
        m[2].start()
        wait_modes({m[3]: "leader", m[2]: "follower"})
        log("2. writes through the leader")
        keeper = Client(3, cport)
        short = Client(3, cport)
        short.create("/short-eph", b"e", flags=1)
        short.close_session()
        write_batch(keeper, "a", 6)
        keeper.create("/eph", b"e", flags=1)
        keep_alive(keeper, 2)
        log("3. member 1 from an empty data dir: SNAP")
        m[1].start()
        wait_modes({m[1]: "follower"}, alive=[keeper])
        write_batch(keeper, "b", 2)
        keep_alive(keeper, 2)
        log("4. member 1 stopped, writes, restarted: DIFF")
        m[1].stop()
        write_batch(keeper, "c", 2)
        m[1].start()
        wait_modes({m[1]: "follower"}, alive=[keeper])
        keep_alive(keeper, 1.5)
        log("5. sessions and writes through member 1")
        moved = Client(1, cport, session=(keeper.session_id, keeper.passwd))
        keeper.drop()
        moved.create("/via-follower", b"f")
        moved.set_data("/via-follower", b"g")
        moved.sync("/")
        moved.multi("/via-follower-multi")
        other = Client(1, cport)
        other.create("/via-follower-eph", b"e", flags=1)
        keep_alive(other, 2)
        other.close_session()
        keep_alive(moved, 2)
        moved.close_session()
        log("6. the leader cut off, logs a write alone and is killed: TRUNC")
        lone = Client(3, cport)
        time.sleep(0.3)
        relays[3].cut()
        lone.send_only(1, _ustring("/never-committed") + struct.pack(">i", 1) + b"n" + OPEN_ACL
                       + struct.pack(">i", 0))
        time.sleep(0.7)
        m[3].kill9()
        lone.drop()
        relays[3].reset()
        wait_modes({m[2]: "leader", m[1]: "follower"})
        m[3].start()
        wait_modes({m[3]: "follower"})
        c = Client(2, cport)
        c.create("/after-trunc", b"t")
        keep_alive(c, 1.5)
        c.close_session()
        time.sleep(0.5)
    finally:
        for s in SIDS:
            if m[s].proc is not None:
                m[s].stop()
        time.sleep(0.5)
        for r in relays.values():
            r.close()
    conns = [c for s in SIDS for c in relays[s].conns if c["chunks"]]
    return sorted(conns, key=lambda c: c["chunks"][0][0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default=DEBIAN,
                    help="3.8.0 (Debian's, the default) or a version under compat-tests/.maven")
    ap.add_argument("--out", help="default jute/tests/golden/quorum, or quorum/VERSION for another server")
    ap.add_argument("--port", type=int, default=24400,
                    help="quorum port; election port +1, client port +2")
    ap.add_argument("--keep", action="store_true", help="keep the servers' directories")
    args = ap.parse_args()
    golden = os.path.join(REPO, "jute", "tests", "golden", "quorum")
    args.out = args.out or (golden if args.server == DEBIAN else os.path.join(golden, args.server))
    root = tempfile.mkdtemp(prefix="fk-quorum-")
    ports = (args.port, args.port + 1, args.port + 2)
    conns = run(root, ports, args.server, lambda s: print(s, flush=True))
    # The files of an earlier capture go; directories (another server's capture) stay.
    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.out):
        if os.path.isfile(os.path.join(args.out, name)):
            os.remove(os.path.join(args.out, name))
    manifest = []
    for i, conn in enumerate(conns):
        streams = {}
        for side in ("learner", "leader"):
            chunks = [(seq, data) for seq, s, data in conn["chunks"] if s == side]
            blob = b"".join(d for _, d in chunks)
            streams[side] = (chunks, blob)
        learner_blob = streams["learner"][1]
        if not learner_blob:
            continue
        learner = decode_stream(learner_blob, streams["learner"][0], False)
        sid = learner[0]["body"]["serverid"]
        leader = decode_stream(streams["leader"][1], streams["leader"][0], True)
        for side, packets in (("learner", learner), ("leader", leader)):
            name = f"{i:02d}-{sid}-to-{conn['leader']}-{side}.bin"
            with open(os.path.join(args.out, name), "wb") as f:
                f.write(streams[side][1])
            manifest.append({"file": name, "connection": i, "learner": sid,
                             "leader": conn["leader"], "sender": side,
                             "size": len(streams[side][1]), "packets": packets})
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    counts = {}
    for s in manifest:
        for p in s["packets"]:
            counts[p["type_name"]] = counts.get(p["type_name"], 0) + 1
    print(f"wrote {args.out}: {len(manifest)} streams, packets {counts}")
    if args.keep:
        print(f"kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
