#!/usr/bin/env python3
"""Capture Apache ZooKeeper 3.8.0 election-port traffic for the golden tests.

Starts two real servers as members 1 and 2 of a three-member ensemble on
127.0.0.1 and plays member 3 itself from this script: it records the
connection handshakes the real members send to member 3's election port, the
notifications they send over the connection member 3 opens back, their answers
to LOOKING notifications in every message form (44+n, 40 and 28 bytes, and
the 36-byte form ZooKeeper drops), and which malformed handshakes make them
close the connection. A second run turns on `zookeeper.multiAddress.enabled` and gives
member 1 two election addresses, for the protocol-version -65535 handshake.

    python3 tools/capture/election.py               # writes jute/tests/golden/election
    python3 tools/capture/election.py --out /tmp/e --port-base 24300

Output: `NNN-<what>.bin` files, one handshake (raw, as sent) or one
notification frame (4-byte length prefix included) each, and `manifest.json`
with every file's fields decoded by this script's own reader.
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
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from zkserver import DEBIAN, SERVER_MAIN, server_java, server_mode, stop_process  # noqa: E402

# The server the members run: Debian's 3.8.0 or a version under compat-tests/.maven (`--server`).
SERVER = [DEBIAN]

STATES = {0: "LOOKING", 1: "FOLLOWING", 2: "LEADING", 3: "OBSERVING"}
V1, V2 = -65536, -65535


def decode_handshake(raw):
    first = struct.unpack(">q", raw[:8])[0]
    if first >= 0:
        return {"form": "legacy", "sid": first}
    sid, length = struct.unpack(">qi", raw[8:20])
    return {"form": "versioned", "protocol_version": first, "sid": sid,
            "address": raw[20:20 + length].decode("utf-8")}


def decode_notification(payload):
    n = len(payload)
    state, leader, zxid, election_epoch = struct.unpack(">iqqq", payload[:28])
    out = {"length": n, "state": STATES.get(state, state), "leader": leader,
           "zxid": zxid, "election_epoch": election_epoch}
    if n == 28:
        out.update(peer_epoch=zxid >> 32, version=0, config=None)
        return out
    out["peer_epoch"] = struct.unpack(">q", payload[28:36])[0]
    if n < 40:
        out.update(malformed="no version field (ZooKeeper reads past the end and drops it)")
        return out
    if n == 40:
        out.update(version=0, config=None)
        return out
    version = struct.unpack(">i", payload[36:40])[0]
    out["version"] = version
    out["config"] = None
    if version > 1:
        clen = struct.unpack(">i", payload[40:44])[0]
        out["config"] = payload[44:44 + clen].decode("utf-8")
    return out


def notification(state, leader, zxid, election_epoch, peer_epoch, config=b"", form=44):
    head = struct.pack(">iqqq", state, leader, zxid, election_epoch)
    if form == 28:
        return head
    if form == 36:
        return head + struct.pack(">q", peer_epoch)
    if form == 40:
        return head + struct.pack(">qi", peer_epoch, 1)
    return head + struct.pack(">qii", peer_epoch, 2, len(config)) + config


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_frame(sock):
    head = read_exact(sock, 4)
    if head is None:
        return None
    length = struct.unpack(">i", head)[0]
    body = read_exact(sock, length)
    return None if body is None else head + body


def read_frames(sock, seconds):
    """Every whole frame that arrives within `seconds`; stops early on EOF."""
    frames = []
    sock.settimeout(0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            f = read_frame(sock)
        except socket.timeout:
            continue
        if f is None:
            break
        frames.append(f)
    return frames


def closed_by_peer(sock, seconds=5.0):
    """True if the peer closes the connection within `seconds` (after sending anything)."""
    sock.settimeout(seconds)
    try:
        while True:
            if not sock.recv(4096):
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


class Member:
    def __init__(self, sid, ports, extra):
        self.sid = sid
        self.client_port = ports["client"][sid]
        self.root = tempfile.mkdtemp(prefix=f"fk-election-{sid}-")
        data = os.path.join(self.root, "data")
        os.makedirs(data)
        with open(os.path.join(data, "myid"), "w") as f:
            f.write(f"{sid}\n")
        cfg = {"tickTime": "500", "initLimit": "10", "syncLimit": "5", "dataDir": data,
               "clientPort": str(self.client_port), "clientPortAddress": "127.0.0.1",
               "admin.enableServer": "false", "4lw.commands.whitelist": "*"}
        cfg.update(extra.get("cfg", {}))
        for s, line in ports["servers"].items():
            cfg[f"server.{s}"] = line
        self.cfg = os.path.join(self.root, "zoo.cfg")
        with open(self.cfg, "w") as f:
            f.write("".join(f"{k}={v}\n" for k, v in cfg.items()))
        self.log = os.path.join(self.root, "server.log")
        self.jvm_flags = extra.get("jvm", [])
        self.proc = None

    def start(self):
        cmd = [*server_java(SERVER[0], self.root), "-Djava.awt.headless=true", *self.jvm_flags,
               SERVER_MAIN, self.cfg]
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "w"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def mode(self):
        return server_mode("127.0.0.1", self.client_port)

    def stop(self, keep):
        stop_process(self.proc)
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)


class Recorder:
    def __init__(self, out):
        self.out = out
        self.entries = []
        self.seen = set()

    def add(self, raw, kind, what, run, fields=None, note=None):
        key = (kind, raw)
        if key in self.seen:
            return
        self.seen.add(key)
        name = f"{len(self.seen) - 1:03d}-{what}.bin"
        with open(os.path.join(self.out, name), "wb") as f:
            f.write(raw)
        entry = {"file": name, "kind": kind, "run": run}
        if fields is None:
            fields = decode_handshake(raw) if kind == "handshake" else decode_notification(raw[4:])
        entry["fields"] = fields
        if note:
            entry["note"] = note
        self.entries.append(entry)

    def fact(self, what, run, **fields):
        self.entries.append({"file": None, "kind": "fact", "what": what, "run": run,
                             "fields": fields})


def ports_for(base, multi):
    e = {1: base + 1, 2: base + 2, 3: base + 3}
    q = {1: base + 11, 2: base + 12, 3: base + 13}
    servers = {s: f"127.0.0.1:{q[s]}:{e[s]}" for s in (1, 2, 3)}
    if multi:
        servers[1] += f"|127.0.0.2:{q[1]}:{e[1]}"
    return {"election": e, "client": {1: base + 21, 2: base + 22}, "servers": servers}


def accept_handshakes(listener, want, seconds):
    """Handshakes sent to member 3's election port: {sid: raw bytes}."""
    got = {}
    listener.settimeout(0.5)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(got) < want:
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        with conn:
            conn.settimeout(5)
            raw = b""
            try:
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    raw += chunk
            except socket.timeout:
                pass
        if len(raw) >= 8:
            got.setdefault(decode_handshake(raw)["sid"], raw)
    return got


def my_handshake(ports, version=V1):
    addr = f"127.0.0.1:{ports['election'][3]}".encode()
    return struct.pack(">qqi", version, 3, len(addr)) + addr


def connect(ports, sid, hello):
    s = socket.create_connection(("127.0.0.1", ports["election"][sid]), 5)
    s.sendall(hello)
    return s


def wait_settled(members, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        modes = {m.sid: m.mode() for m in members}
        if sorted(v for v in modes.values() if v) == ["follower", "leader"]:
            return modes
        time.sleep(0.3)
    raise RuntimeError(f"members did not elect a leader: {modes}")


def start_members(ports, extra):
    """Member 3's election listener, then real members 1 and 2 started."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", ports["election"][3]))
    listener.listen(8)
    members = [Member(s, ports, extra) for s in (1, 2)]
    for m in members:
        m.start()
    return listener, members


def record_start(rec, run, listener, members, tag, note):
    """Records the handshakes members 1 and 2 send member 3, waits for their leader, returns their modes."""
    for sid, raw in sorted(accept_handshakes(listener, 2, 60).items()):
        rec.add(raw, "handshake", f"handshake-{tag}-from-{sid}", run, note=note)
    modes = wait_settled(members)
    rec.fact("elected", run, modes={str(k): v for k, v in modes.items()})
    return modes


def run_plain(rec, base, keep):
    run = "plain"
    ports = ports_for(base, multi=False)
    listener, members = start_members(ports, {})
    try:
        modes = record_start(rec, run, listener, members, "v1",
                             "sent to a higher sid, which the sender then closes")
        leader = [s for s, v in modes.items() if v == "leader"][0]
        config = None
        for sid in (1, 2):
            sock = connect(ports, sid, my_handshake(ports))
            frames = read_frames(sock, 3)
            for i, f in enumerate(frames):
                rec.add(f, "notification", f"notification-from-{sid}-on-connect", run,
                        note="what a member sends first on a connection it keeps")
                config = config or decode_notification(f[4:])["config"]
            cfg_bytes = (config or "").encode()
            # A LOOKING member asking, in each message form ZooKeeper reads.
            for form in (44, 40, 28):
                msg = notification(0, 3, 0, 1, 0, cfg_bytes if form == 44 else b"", form)
                rec.add(frame(msg), "notification", f"looking-{form}-to-{sid}", run,
                        note="sent by this script as member 3")
                sock.sendall(frame(msg))
                answers = read_frames(sock, 2)
                rec.fact("looking notification answered", run, sid=sid, form=form,
                         answers=len(answers))
                for f in answers:
                    state = decode_notification(f[4:])["state"].lower()
                    rec.add(f, "notification", f"{state}-answer-from-{sid}-to-{form}", run,
                            note=f"member {sid} (leader {leader}) answering a {form}-byte LOOKING notification")
            # A 36-byte message (peerEpoch, no version) is read past its end and dropped.
            msg = notification(0, 3, 0, 1, 0, form=36)
            sock.sendall(frame(msg))
            answered = read_frames(sock, 2)
            rec.add(frame(msg), "notification", f"looking-36-to-{sid}", run,
                    note=f"dropped as malformed: {len(answered)} answers")
            rec.fact("36-byte notification answered", run, sid=sid, answers=len(answered))
            sock.close()
        # Handshakes ZooKeeper refuses: it closes the connection.
        target = 1
        bad = {
            "unknown protocol version -65534": struct.pack(">qqi", -65534, 3, 4) + b"a:12",
            "address length 0": struct.pack(">qqi", V1, 3, 0),
            "address length 2049": struct.pack(">qqi", V1, 3, 2049) + b"a" * 2049,
            "address without port": struct.pack(">qqi", V1, 3, 9) + b"127.0.0.1",
            "bad port": struct.pack(">qqi", V1, 3, 12) + b"127.0.0.1:ab",
        }
        for what, hello in bad.items():
            s = connect(ports, target, hello)
            rec.fact("refused handshake", run, handshake=what, hex=hello[:64].hex(),
                     closed=closed_by_peer(s), notifications=0)
            s.close()
        # The legacy handshake (the sid alone) is accepted: notifications follow.
        s = connect(ports, target, struct.pack(">q", 3))
        frames = read_frames(s, 3)
        rec.fact("legacy handshake", run, sid=3, notifications=len(frames))
        rec.add(struct.pack(">q", 3), "handshake", "handshake-legacy-sid-3", run,
                note=f"accepted by member {target}: {len(frames)} notifications followed")
        s.close()
        # A lower sid is dropped; the member connects back to the address given.
        s = connect(ports, 2, struct.pack(">qqi", V1, 1, 14) + b"127.0.0.1:1234")
        rec.fact("lower sid dropped", run, target=2, sid=1, closed=closed_by_peer(s))
        s.close()
    finally:
        listener.close()
        for m in members:
            m.stop(keep)


def run_multi(rec, base, keep):
    run = "multi-address"
    ports = ports_for(base, multi=True)
    # Read as system properties before the server lines are parsed, not from zoo.cfg.
    extra = {"jvm": ["-Dzookeeper.multiAddress.enabled=true",
                     "-Dzookeeper.multiAddress.reachabilityCheckEnabled=false"]}
    listener, members = start_members(ports, extra)
    try:
        record_start(rec, run, listener, members, "v2", "multiAddress.enabled=true")
        sock = connect(ports, 1, my_handshake(ports, V2))
        for f in read_frames(sock, 3):
            rec.add(f, "notification", "notification-from-1-multi-address", run)
        sock.close()
    finally:
        listener.close()
        for m in members:
            m.stop(keep)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default=DEBIAN,
                    help="3.8.0 (Debian's, the default) or a version under compat-tests/.maven")
    ap.add_argument("--out", help="default jute/tests/golden/election, or election/VERSION for another server")
    ap.add_argument("--port-base", type=int, default=24300)
    ap.add_argument("--keep", action="store_true", help="keep the servers' directories")
    args = ap.parse_args()
    SERVER[0] = args.server
    golden = os.path.join(REPO, "jute", "tests", "golden", "election")
    args.out = args.out or (golden if args.server == DEBIAN else os.path.join(golden, args.server))
    # The files of an earlier capture go; directories (another server's capture) stay.
    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.out):
        if os.path.isfile(os.path.join(args.out, name)):
            os.remove(os.path.join(args.out, name))
    rec = Recorder(args.out)
    run_plain(rec, args.port_base, args.keep)
    run_multi(rec, args.port_base + 50, args.keep)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(rec.entries, f, indent=1)
        f.write("\n")
    kinds = {}
    for e in rec.entries:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    print(f"wrote {args.out}: {kinds}")


if __name__ == "__main__":
    main()
