"""Normalisation of one server's replies, so that two servers' answers can be compared field by field.

What two correct servers may legitimately disagree on, and how each is made comparable:
- zxids: each value is replaced by the operation at which it first appeared as the server's last processed zxid
  (the zxid of every reply header): "op17" is the txn of operation 17, "<op17" a txn between operations 16 and 17
  whose reply nobody saw (a session being opened or closed). Equality and relative order are compared, not the
  values, and an extra or missing zxid on one server shows only where it happens instead of shifting every later
  value. 0 and -1 stay literal.
- ctime/mtime: wall-clock values differ; only their relations are checked. A time must be 0 (built-in nodes) or
  positive and not in the future, it is marked when it predates the run, and every txn has one time: all stats showing czxid Z must show the same ctime, and the
  same value as mtime wherever mzxid is Z. A break of either rule shows as a marked value.
- session ids: replaced by the label of the session (S0, S1, ...: the order in which the run opened them); so is
  ephemeralOwner.
- getEphemerals lists and whoAmI lists are sorted (the servers keep them in hash sets). Child lists are
  compared as sent: both servers list a node's children in the iteration order of Java's HashSet.
- the membership an ensemble keeps in /zookeeper/config (`server.N=host:quorumPort:electionPort:role` lines and
  `version=`): every port becomes <port>, since two ensembles on one host cannot listen on the same ports. Only
  data made of such lines alone is touched (see membership); hosts, ids, roles, the version and the length stay.
Watch notification zxids are compared loosely (on 3.8 they are always -1): see loose_event_zxids.
"""

import bisect
import re
import time

MEMBER_LINE = re.compile(rb"^server\.\d+=[^\s:=;]+(:\d+){1,2}(:(participant|observer))?(;([^\s:;]+:)?\d+)?$")
VERSION_LINE = re.compile(rb"^version=[0-9a-f]+$")
PORT = re.compile(rb"(?<=[:;])\d+(?=$|[:;])")


def membership(data):
    """The data of a dynamic configuration (one `server.N=...` line per member, then `version=...`) with every
    port replaced by <port>; any other data unchanged."""
    if not isinstance(data, bytes) or not data.startswith(b"server."):
        return data
    lines = data.split(b"\n")
    if not all(MEMBER_LINE.match(line) or VERSION_LINE.match(line) for line in lines):
        return data
    return b"\n".join(PORT.sub(b"<port>", line) if line.startswith(b"server.") else line for line in lines)

from zkconn import java_session_password


class Normalizer:
    def __init__(self, window_start_ms):
        self.anchor_zxids = []   # increasing reply-header zxids ...
        self.anchor_ops = []     # ... and the index of the operation whose reply first showed each
        self.sessions = {}
        self.txn_time = {}
        self.window_start_ms = window_start_ms

    def register_header_zxid(self, z, op_index):
        """A reply header carries the server's last processed zxid: anchor it to the operation."""
        if z > 0 and (not self.anchor_zxids or z > self.anchor_zxids[-1]):
            self.anchor_zxids.append(z)
            self.anchor_ops.append(op_index)

    def zxid(self, z):
        """"op<k>" if z is the last processed zxid first shown by operation k's reply, "<op<k>" if z lies between
        that and the previous anchor (a txn nobody saw the reply of: a session creation or closing), "after-last" if
        no reply has shown a zxid this large. 0 and -1 stay literal. Equality and order survive, and one wrong zxid
        does not shift every later one."""
        if z in (0, -1):
            return z
        p = bisect.bisect_left(self.anchor_zxids, z)
        if p == len(self.anchor_zxids):
            return "after-last"
        prefix = "op" if self.anchor_zxids[p] == z else "<op"
        return f"{prefix}{self.anchor_ops[p]}"

    def add_session(self, sid, label):
        self.sessions[sid] = label

    def session(self, sid):
        if sid == 0:
            return 0
        return self.sessions.get(sid, "S-unknown")

    def _time(self, zxid, t):
        """Labels without the value, so that only the relations are compared (the raw value is in the report)."""
        if t == 0 and zxid == 0:
            return 0
        if t <= 0:
            return "time-not-positive"
        if t > time.time() * 1000 + 60_000:
            return "time-in-future"
        known = self.txn_time.setdefault(zxid, t)
        if known != t:
            return "time-differs-within-txn"
        return "t" if t >= self.window_start_ms else "t-before-run"

    def stat(self, s):
        if s is None:
            return None
        out = dict(s)
        out["ctime"] = self._time(s["czxid"], s["ctime"])
        out["mtime"] = self._time(s["mzxid"], s["mtime"])
        for name in ("czxid", "mzxid", "pzxid"):
            out[name] = self.zxid(s[name])
        out["ephemeralOwner"] = self.session(s["ephemeralOwner"])
        return out

    def body(self, opcode, body):
        """A decoded reply body (err 0) with stats, lists and session ids normalised."""
        out = {}
        for key, value in body.items():
            if key == "stat":
                value = self.stat(value)
            elif key == "ephemerals" and value is not None:
                value = sorted(value)
            elif key == "clientInfo" and value is not None:
                value = sorted(value, key=repr)
            elif key == "results":
                value = [self.body(item.get("type"), item) for item in value]
            elif key == "data":
                value = membership(value)
            out[key] = value
        return out

    def connect(self, decoded, label):
        """A ConnectResponse: session id to label, password checked against ZooKeeperServer.generatePasswd."""
        sid = decoded["sessionId"]
        out = dict(decoded)
        out["sessionId"] = label if sid != 0 else 0
        out["sessionIdTopByte"] = (sid >> 56) & 0xFF
        passwd = decoded["passwd"]
        out["passwd"] = {"len": None if passwd is None else len(passwd),
                         "matchesJavaRandom": sid != 0 and passwd == java_session_password(sid),
                         "allZero": passwd is not None and not any(passwd)}
        return out

    def event(self, ev):
        return {"type": ev["type"], "state": ev["state"], "path": ev["path"], "zxid": self.zxid(ev["zxid"])}


def loose_event_zxids(events_a, events_b):
    """ZooKeeper 3.8 sends -1 as every notification's zxid, 3.9 the txn's zxid (WatchManager.triggerWatch): a
    server may emulate either, so a notification zxid is compared only when neither side sent -1."""
    for ea, eb in zip(events_a, events_b):
        if isinstance(ea, dict) and isinstance(eb, dict) and -1 in (ea.get("zxid"), eb.get("zxid")):
            ea["zxid"] = eb["zxid"] = "-1 or a zxid"

