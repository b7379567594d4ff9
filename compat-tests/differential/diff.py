#!/usr/bin/env python3
"""Differential judge: the same seeded operations against a reference ZooKeeper (A) and a server under test (B).

    diff.py --a HOST:PORT --b HOST:PORT --seed S --ops N [--sessions K] [--stop-on-first] [--ensemble]

Each server gets K sessions (default 4). Operations are issued one at a time: the request goes to both servers,
both replies are read, then every other live session of both servers sends a barrier read (exists "/") and its
reply is awaited, which drains the watch notifications the operation caused (the server queues them before any
later reply on that connection). So the order of everything a session sees is deterministic, and every reply and
notification is compared after normalisation (normalize.py). The last line is `RESULT passed=N failed=M`; the exit
status is 0 iff M == 0. Both servers must start empty (fresh data directories) and keep their container manager
idle during the run (ZooKeeper: -Dznode.container.checkIntervalMs=3600000), since when it fires depends on time.
"""

import argparse
import collections
import os
import pprint
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jute  # noqa: E402
import normalize  # noqa: E402
import ops as opsmod  # noqa: E402
import zkconn  # noqa: E402

SESSION_TIMEOUT_MS = 30000
UNREACHABLE_OPS = 50  # stop the run when a server answers none of this many operations in a row
CLOSE_WAIT_S = 2.0  # how long a connection the server should close may stay open
REPLY_MARKER = "<reply>"


class Slot:
    """One session of one server: its connection, id, password, next xid and last zxid seen."""

    def __init__(self, label):
        self.label = label
        self.conn = None
        self.sid = 0
        self.passwd = b"\0" * 16
        self.last_zxid = 0
        self.next_xid = 1

    def xid(self):
        x = self.next_xid
        self.next_xid += 1
        return x

    def live(self):
        return self.conn is not None and not self.conn.closed

    def saw(self, frame):
        if frame is not None and len(frame) >= 12:
            z = jute.Reader(frame, 4).long()
            if z > self.last_zxid:
                self.last_zxid = z


class Side:
    """One server and its sessions, with the per-operation record of what it answered."""

    def __init__(self, name, hostport, sessions, timeout_s, window_start_ms):
        host, _, port = hostport.rpartition(":")
        self.name = name
        self.host = host or "127.0.0.1"
        self.port = int(port)
        self.timeout_s = timeout_s
        self.norm = normalize.Normalizer(window_start_ms)
        self.slots = [None] * sessions
        self.mutate_next = False

    # ---- sessions ----

    def open(self, index, label, obs, raw):
        """Open a new session in slot index; the ConnectResponse goes into the operation's record."""
        slot = Slot(label)
        self.slots[index] = slot
        self._connect(slot, index, obs, raw, resume=False)

    def resume(self, index, obs, raw):
        """Reconnect slot index to its existing session (sessionId + password), as a client does."""
        slot = self.slots[index]
        if slot.conn is not None:
            slot.conn.close()
        self._connect(slot, index, obs, raw, resume=True)

    def _connect(self, slot, index, obs, raw, resume):
        resume = resume and slot.sid != 0  # a session that never opened is opened, not resumed
        what = "resume" if resume else "open"
        try:
            conn, payload, decoded = zkconn.handshake(self.host, self.port, self.timeout_s, slot.sid, slot.passwd,
                                                      slot.last_zxid, SESSION_TIMEOUT_MS)
        except (OSError, zkconn.Closed, zkconn.TimedOut, jute.JuteError) as e:
            obs["sessions"].append({"slot": index, "action": what, "error": type(e).__name__})
            raw["sessions"].append(f"{what} slot {index}: {e}")
            slot.conn = None
            return
        slot.conn = conn
        if not resume:
            slot.sid, slot.passwd = decoded["sessionId"], decoded["passwd"] or b""
            self.norm.add_session(slot.sid, slot.label)
        entry = {"slot": index, "action": what, "label": slot.label}
        entry.update(self.norm.connect(decoded, slot.label if decoded["sessionId"] == slot.sid else "other"))
        obs["sessions"].append(entry)
        raw["sessions"].append(f"{what} slot {index}: {payload.hex()}")
        if decoded["timeOut"] <= 0:
            conn.close()

    # ---- one operation, in phases so that both servers work at the same time ----

    def send_op(self, op, state):
        slot = self.slots[op.slot]
        args = op.args
        if args.get("relativeZxid") == "last":
            args = dict(args, relativeZxid=slot.last_zxid)
        body = jute.encode_request(op.opcode, args)
        state["xid"] = op.xid if op.xid is not None else slot.xid()
        state["raw"]["request"] = (jute.encode_header(state["xid"], op.opcode) + body).hex()
        if not slot.live():
            state["send_error"] = "not connected"
            return
        state["send_error"] = zkconn.send_request(slot.conn, state["xid"], op.opcode, body)

    def read_op(self, op, state):
        slot = self.slots[op.slot]
        obs, raw = state["obs"], state["raw"]
        if state["send_error"]:
            obs["reply"] = {"error": state["send_error"]}
            return
        frame, events, error = zkconn.read_reply(slot.conn)
        if frame is not None and self.mutate_next:
            frame = frame[:-1] + bytes([frame[-1] ^ 1])
            self.mutate_next = False
            state["mutated"] = True
        slot.saw(frame)
        state["frames"] = {slot.label: events}
        raw["reply"] = frame.hex() if frame is not None else error
        if frame is None:
            obs["reply"] = {"error": error}
            if error == "timeout":
                slot.conn.close()
            return
        state["decoded"] = decode_reply(op.opcode, frame)
        if op.after in ("reopen", "closes"):
            # The server closes the connection right after this reply; a barrier read could race with that.
            closed, later = zkconn.wait_closed(slot.conn, CLOSE_WAIT_S)
            obs["closedAfterReply"] = closed
            state["frames"][slot.label] = events + [REPLY_MARKER] + later
            slot.conn.close()

    def send_barriers(self, op, state):
        state["barrier"] = {}
        for index, slot in enumerate(self.slots):
            if slot is None or not slot.live():
                continue
            body = jute.encode_request(jute.EXISTS, {"path": "/", "watch": False})
            xid = slot.xid()
            state["barrier"][index] = (xid, zkconn.send_request(slot.conn, xid, jute.EXISTS, body))

    def read_barriers(self, op, state):
        frames = state["frames"]
        closed, stray = [], []
        for index, (xid, send_err) in state["barrier"].items():
            slot = self.slots[index]
            if send_err:
                closed.append(slot.label)
                continue
            frame, events, error = zkconn.read_reply(slot.conn)
            slot.saw(frame)
            if frame is not None and jute.Reader(frame).int() != xid:
                stray.append(slot.label)  # a frame that is neither a notification nor the barrier's reply
            if index == op.slot:
                frames.setdefault(slot.label, []).append(REPLY_MARKER)
            frames.setdefault(slot.label, []).extend(events)
            if error:
                closed.append(slot.label)
                slot.conn.close()
        state["obs"]["closedByServer"] = sorted(closed)
        if stray:
            state["obs"]["unexpectedFrame"] = sorted(stray)

    def after_op(self, op, state, next_label):
        """Reopen or resume sessions as the operation asks, and resume any session whose socket was closed."""
        obs, raw = state["obs"], state["raw"]
        if op.after == "reopen":
            if self.slots[op.slot].conn is not None:
                self.slots[op.slot].conn.close()
            self.open(op.slot, next_label, obs, raw)
        for index, slot in enumerate(self.slots):
            if slot is None or (index == op.slot and op.after == "reopen"):
                continue
            if not slot.live() or (index == op.slot and op.after == "resume"):
                self.resume(index, obs, raw)

    # ---- normalisation of the record ----

    def finish(self, op, op_index, state):
        obs, raw = state["obs"], state["raw"]
        decoded = state.get("decoded")
        if decoded is not None:
            obs["reply"] = self.normalise_reply(op, op_index, state["xid"], decoded)
            state["plain"] = decoded
        events = {}
        raw["events"] = {}
        for label, frames in state["frames"].items():
            evs = []
            for frame in frames:
                if frame == REPLY_MARKER:
                    evs.append(frame)
                    continue
                evs.append(self.normalise_event(frame))
                raw["events"].setdefault(label, []).append(frame.hex())
            if evs and evs != [REPLY_MARKER]:
                if op.opcode == jute.CLOSE_SESSION:
                    # Ephemerals of a closing session are deleted in hash-set order (CloseSessionTxn.paths2Delete).
                    evs = sorted((e for e in evs if e != REPLY_MARKER), key=repr)
                events[label] = evs
        obs["events"] = events

    def normalise_reply(self, op, op_index, xid, decoded):
        hdr = decoded["header"]
        if hdr["zxid"] is not None:
            self.norm.register_header_zxid(hdr["zxid"], op_index)
        out = {"xidMatches": hdr["xid"] == xid, "zxid": self.norm.zxid(hdr["zxid"]), "err": hdr["err"]}
        if "body" in decoded:
            out["body"] = self.norm.body(op.opcode, decoded["body"])
        for key in ("errBody", "trailing", "decodeError"):
            if key in decoded:
                out[key] = decoded[key]
        return out

    def normalise_event(self, frame):
        try:
            hdr, r = jute.decode_reply_header(frame)
            ev = jute.decode_event(r)
            ev["zxid"] = hdr["zxid"]
            out = self.norm.event(ev)
            if hdr["err"] != 0:
                out["headerErr"] = hdr["err"]
            if r.remaining():
                out["trailing"] = r.rest().hex()
            return out
        except jute.JuteError as e:
            return {"decodeError": str(e), "frame": frame.hex()}

    def close_all(self):
        """Close every session (closeSession, not just the socket): a session left to expire would delete its
        ephemerals, and fire watches, at a time of the server's choosing during a later run on the same server."""
        for slot in self.slots:
            if slot is None or slot.conn is None:
                continue
            if slot.live() and not zkconn.send_request(slot.conn, slot.xid(), jute.CLOSE_SESSION, b""):
                zkconn.read_reply(slot.conn)
            slot.conn.close()


def decode_reply(opcode, frame):
    """Header and body of a reply frame. An error reply's body, if any, is kept as hex (clients skip it)."""
    out = {}
    try:
        hdr, r = jute.decode_reply_header(frame)
        out["header"] = hdr
        if hdr["err"] == 0:
            out["body"] = jute.decode_body(opcode, r)
        elif r.remaining():
            out["errBody"] = r.rest().hex()
        if r.remaining():
            out["trailing"] = r.rest().hex()
    except jute.JuteError as e:
        out.setdefault("header", {"xid": None, "zxid": None, "err": None})
        out["decodeError"] = str(e)
    return out


def new_state():
    return {"obs": {"sessions": []}, "raw": {"sessions": []}, "frames": {}}


class Judge:
    def __init__(self, args):
        self.args = args
        window_start_ms = time.time() * 1000 - 60_000
        self.sides = [Side("A", args.a, args.sessions, args.timeout, window_start_ms),
                      Side("B", args.b, args.sessions, args.timeout, window_start_ms)]
        self.gen = opsmod.Generator(args.seed, args.sessions)
        self.sessions_opened = 0
        self.counts = collections.Counter()
        self.fail_counts = collections.Counter()
        self.err_counts = collections.Counter()
        self.event_count = 0
        self.passed = 0
        self.version_differences = collections.Counter()
        self.failed = 0

    def label(self):
        label = f"S{self.sessions_opened}"
        self.sessions_opened += 1
        return label

    def run(self):
        self.start = time.monotonic()
        first = [new_state(), new_state()]
        for index in range(self.args.sessions):
            label = self.label()
            for side, state in zip(self.sides, first):
                side.open(index, label, state["obs"], state["raw"])
                if not side.slots[index].live():
                    print(f"error: cannot open a session on server {side.name}: {state['raw']['sessions'][-1]}",
                          file=sys.stderr)
                    return self.abort(0)
        self.check_empty()
        for i in range(self.args.ops):
            op = self.gen.next()
            if os.environ.get("DIFF_TRACE"):
                print("op %d: %s" % (i, op.describe()), file=sys.stderr)
            states = first if i == 0 else [new_state(), new_state()]
            if self.args.self_test_mutate is not None and i >= self.args.self_test_mutate and not self.mutated:
                self.sides[1].mutate_next = True
            self.step(i, op, states)
            if self.failed and self.args.stop_on_first:
                break
            if self.unreachable(states):
                print(f"error: a server has answered nothing for {UNREACHABLE_OPS} operations", file=sys.stderr)
                return self.abort(i + 1)
        elapsed = time.monotonic() - self.start
        for side in self.sides:
            side.close_all()
        self.summary(elapsed)
        return 0 if self.failed == 0 else 1

    mutated = False

    def abort(self, done):
        """Stop early: the operations not run count as failed, since nothing about them was verified."""
        self.failed += self.args.ops - done
        print(f"aborted after {done} of {self.args.ops} operations; the {self.args.ops - done} not run count as "
              "failed")
        for side in self.sides:
            side.close_all()
        self.summary(time.monotonic() - self.start)
        return 1
    silent_ops = 0

    def unreachable(self, states):
        """True when one server has left UNREACHABLE_OPS operations in a row without a reply."""
        if any("decoded" not in state for state in states):
            self.silent_ops += 1
        else:
            self.silent_ops = 0
        return self.silent_ops >= UNREACHABLE_OPS

    def step(self, i, op, states):
        # ZOOKEEPER-4466 (one watch mode per session and path) is fixed in 3.9 only.
        legacy_watches = reference_differs(self.args.reference_version, "3.9.0")
        if legacy_watches:
            self.avoid_mode_overwrite(op)
        if self.args.ensemble:
            self.avoid_ensemble_stall(op)
        if os.environ.get("DIFF_TRACE"):
            print(f"   persistent={sorted(self.persistent or ())} args={op.args}", file=sys.stderr)
        pairs = list(zip(self.sides, states))
        for side, state in pairs:
            side.send_op(op, state)
        for side, state in pairs:
            side.read_op(op, state)
        if states[1].get("mutated"):
            self.mutated = True
        for side, state in pairs:
            side.send_barriers(op, state)
        for side, state in pairs:
            side.read_barriers(op, state)
        label = self.label() if op.after == "reopen" else None
        for side, state in pairs:
            side.after_op(op, state, label)
        for side, state in pairs:
            side.finish(op, i, state)
        plain_a = states[0].get("plain")
        if plain_a is not None and plain_a["header"]["err"] == 0:
            self.gen.learn(op, plain_a.get("body"))
        if legacy_watches:
            self.track_persistent(op, plain_a, states[0]["obs"])
        if os.environ.get("DIFF_TRACE"):
            for side, state in pairs:
                obs = state["obs"]
                print(f"   {side.name}: err={obs.get('reply', {}).get('err')} events={obs.get('events')}",
                      file=sys.stderr)
        self.compare(i, op, states)
        if legacy_watches and op.kind == "removeWatches" and (op.slot, op.args.get("path")) in self.persistent:
            # 3.8 removes the Data or Children half of a persistent watch; later releases leave it whole.
            self.resync_watches(op)

    def compare(self, i, op, states):
        obs_a, obs_b = states[0]["obs"], states[1]["obs"]
        for label in set(obs_a["events"]) & set(obs_b["events"]):
            normalize.loose_event_zxids(obs_a["events"][label], obs_b["events"][label])
        self.counts[op.kind] += 1
        reply = obs_a.get("reply", {})
        self.err_counts[reply.get("err", reply.get("error"))] += 1
        self.event_count += sum(len([e for e in evs if e != REPLY_MARKER]) for evs in obs_a["events"].values())
        if obs_a == obs_b:
            self.passed += 1
            return
        known = version_difference(op, obs_a, obs_b, self.args.reference_version)
        if known is not None:
            self.version_differences[known] += 1
            print(f"=== VERSION DIFFERENCE seed={self.args.seed} op={i}: {op.describe()}: {known}")
            if op.kind in RESYNC_AFTER:
                self.resync_watches(op)
            if op.kind in ZXID_RESYNC_AFTER:
                self.resync_zxids(i)
            return
        self.failed += 1
        self.fail_counts[op.kind] += 1
        if self.failed <= self.args.max_reports:
            self.report(i, op, states)
        else:
            print(f"=== DIVERGENCE seed={self.args.seed} op={i}: {op.describe()} (details omitted after "
                  f"{self.args.max_reports} reports)")

    # Apache ZooKeeper 3.8 keeps one watch mode per session and path (ZOOKEEPER-4466, fixed in 3.9): a one-shot
    # watch set where the session holds a persistent one replaces it, and the persistent watch is gone once the
    # one-shot fires. Later releases keep both. The reference cannot judge that case, so a one-shot watch on a
    # path where the session holds a persistent watch is asked for without the watch.
    persistent = None

    ensemble_stalls_avoided = 0

    def avoid_ensemble_stall(self, op):
        """A multi whose create op carries a null ACL list stops an Apache ZooKeeper 3.9.5 ensemble: its leader
        answers neither that request nor any later one, nor a new session (a standalone server answers
        MARSHALLINGERROR and goes on). On ensembles such a list is sent empty instead (INVALIDACL): the operations
        stay those of the seed otherwise."""
        if op.opcode != jute.MULTI:
            return
        creates = (jute.CREATE, jute.CREATE2, jute.CREATE_CONTAINER, jute.CREATE_TTL)
        subs = op.args.get("ops") or []
        if not any(sub in creates and args.get("acl", []) is None for sub, args in subs):
            return
        self.ensemble_stalls_avoided += 1
        op.args = dict(op.args, ops=[(sub, dict(args, acl=[]) if sub in creates and args.get("acl", []) is None
                                      else args) for sub, args in subs])

    def avoid_mode_overwrite(self, op):
        if self.persistent is None:
            self.persistent = set()
        # The other order too: a persistent watch added where a one-shot one may be held replaces it in 3.8.
        if op.kind == "addWatch":
            self.resync_path(op.slot, op.args["path"])
        elif op.kind == "setWatches":
            # One mode per path and request as well: 3.8 keeps the last list's mode only.
            args = dict(op.args)
            recursive = set(args.get("persistentRecursiveWatches") or [])
            persistent = set(args.get("persistentWatches") or []) | recursive
            if "persistentWatches" in args:
                args["persistentWatches"] = [p for p in args["persistentWatches"] if p not in recursive]
            for name in ("dataWatches", "existWatches", "childWatches"):
                if name in args:
                    args[name] = [p for p in args[name] if p not in persistent]
            op.args = args
            for path in sorted(persistent):
                self.resync_path(op.slot, path)
        held = {path for slot, path in self.persistent if slot == op.slot}
        if not held:
            return
        if op.kind in ("exists", "getData", "getChildren", "getChildren2") and op.args.get("watch"):
            if op.args.get("path") in held:
                op.args = dict(op.args, watch=False)
        elif op.kind == "setWatches":
            args = dict(op.args)
            for name in ("dataWatches", "existWatches", "childWatches"):
                if name in args:
                    args[name] = [p for p in args[name] if p not in held]
            op.args = args

    def track_persistent(self, op, plain_a, obs_a):
        ok = plain_a is not None and plain_a["header"]["err"] == 0
        if op.kind == "addWatch" and ok and op.args.get("mode") in (0, 1):
            self.persistent.add((op.slot, op.args["path"]))
        elif op.kind == "setWatches" and ok:
            for name in ("persistentWatches", "persistentRecursiveWatches"):
                for path in op.args.get(name) or []:
                    self.persistent.add((op.slot, path))
        elif op.kind == "removeWatches" and ok and op.args.get("type") == WATCHER_ANY:
            self.persistent.discard((op.slot, op.args.get("path")))
        # Watches belong to a connection: a new or resumed connection starts without any.
        for entry in obs_a.get("sessions", []):
            self.persistent = {(slot, path) for slot, path in self.persistent if slot != entry.get("slot")}

    def resync_watches(self, op):
        """After a version difference that leaves different watches behind (3.8 kept or dropped a watch that a
        later release does not), remove every watch of that session on that path on both servers, so that the
        rest of the run compares behaviour rather than the echo of that one difference. Not compared."""
        self.resync_path(op.slot, op.args["path"])

    def resync_zxids(self, i):
        """After a version difference where one server logged a txn and the other did not, one failing write on
        both, anchored to the same operation, so that later reply headers name the same last zxid."""
        hidden = opsmod.Op("resync", 0, jute.DELETE, {"path": "/resync-none", "version": -1})
        self.run_hidden(hidden, anchor=i)

    def resync_path(self, slot, path):
        if path is None:
            return
        self.persistent.discard((slot, path))
        self.run_hidden(opsmod.Op("resync", slot, jute.REMOVE_WATCHES, {"path": path, "type": WATCHER_ANY}))

    def run_hidden(self, hidden, anchor=None):
        """Sends one operation to both servers and reads the replies without comparing them; with `anchor`, the
        replies' zxids are anchored to that operation index."""
        states = [new_state(), new_state()]
        pairs = list(zip(self.sides, states))
        for side, state in pairs:
            side.send_op(hidden, state)
        for side, state in pairs:
            side.read_op(hidden, state)
            if anchor is not None:
                side.finish(hidden, anchor, state)

    def report(self, i, op, states):
        out = sys.stdout
        print(f"=== DIVERGENCE seed={self.args.seed} op={i}: {op.describe()}", file=out)
        for side, state in zip(self.sides, states):
            print(f"--- {side.name} {side.host}:{side.port} raw:", file=out)
            print(pprint.pformat(state["raw"], width=118, compact=True), file=out)
            if "plain" in state:
                print(f"--- {side.name} decoded:", file=out)
                print(pprint.pformat(state["plain"], width=118, compact=True), file=out)
            print(f"--- {side.name} normalised:", file=out)
            print(pprint.pformat(state["obs"], width=118, compact=True), file=out)
        for key in sorted(set(states[0]["obs"]) | set(states[1]["obs"])):
            if states[0]["obs"].get(key) != states[1]["obs"].get(key):
                print(f"--- differs in: {key}", file=out)
        print(f"--- replay: {replay_command(self.args)}", file=out)
        out.flush()

    def check_empty(self):
        """Warn when a server does not start empty: the run then compares histories, not just behaviour."""
        for side in self.sides:
            slot = side.slots[0]
            if not slot.live():
                continue
            zkconn.send_request(slot.conn, slot.xid(), jute.GET_CHILDREN, jute.encode_request(
                jute.GET_CHILDREN, {"path": "/", "watch": False}))
            frame, _, _ = zkconn.read_reply(slot.conn)
            decoded = decode_reply(jute.GET_CHILDREN, frame) if frame else {}
            children = (decoded.get("body") or {}).get("children")
            if children != ["zookeeper"]:
                print(f"warning: server {side.name} does not start empty: / has {children}", file=sys.stderr)

    def summary(self, elapsed):
        run = sum(self.counts.values())
        print(f"seed={self.args.seed} ops run={run} sessions={self.args.sessions} "
              f"elapsed={elapsed:.1f}s ({run / max(elapsed, 1e-9):.0f} ops/s)")
        print("op counts (kind: ops, diverged):")
        for kind, n in sorted(self.counts.items(), key=lambda kv: -kv[1]):
            print(f"  {kind:22s} {n:6d} {self.fail_counts.get(kind, 0):6d}")
        errs = ", ".join(f"{k}: {v}" for k, v in sorted(self.err_counts.items(), key=lambda kv: -kv[1]))
        print(f"server A replies by header err: {errs}")
        print(f"watch notifications compared: {self.event_count}; sessions opened: {self.sessions_opened}")
        for note, n in sorted(self.version_differences.items()):
            print(f"known version difference x{n}: {note}")
        if self.ensemble_stalls_avoided:
            print(f"multis whose create op had a null ACL list, sent with an empty one (--ensemble): "
                  f"{self.ensemble_stalls_avoided}")
        print(f"RESULT passed={self.passed} failed={self.failed}")


# Behaviours that changed after Debian's Apache ZooKeeper 3.8.0: ferrokeeper follows the later releases. Each entry
# names the releases that changed it ("3.8.4" means 3.8.4 and later 3.8.x; "3.9.3" 3.9.3 and later; a line that
# never changed in 3.8 names only its 3.9 release). Against a reference older than the change, a divergence that is
# exactly one of these (same events, only the reply's error differs as described) is reported as a version
# difference, not a failure; against a reference that has the change there is none, and every divergence fails.
# Watches these leave behind on one side and not the other can still make later operations diverge; those count as
# failures.
ANY_REPLY = object()


def _create2_results_as_create(op, ra, rb):
    """ZOOKEEPER-4026: a create2 op of a multi answers with a create2 result (path and Stat); 3.8.0/3.8.1 answer a
    create result (path only). The replies must be the same once B's create2 results lose their Stat."""
    subs = [sub for sub, _ in op.args.get("ops") or []]
    if 15 not in subs:
        return False
    results_b = [dict(r) for r in (rb.get("body") or {}).get("results") or []]
    for sub, r in zip(subs, results_b):
        # Only the create2 ops' results: a container's create answers with its Stat on every release.
        if sub == 15 and r.get("type") == 15:
            r["type"] = 1
            r.pop("stat", None)
    return dict(rb, body=dict(rb.get("body") or {}, results=results_b)) == ra


def _null_acl_create(op, ra, rb):
    """ZOOKEEPER-4026: a create op of a multi with a null ACL list fails the whole request before it takes a zxid
    (MARSHALLINGERROR); 3.8.0/3.8.1 answer it per op (INVALIDACL) in a logged multi txn."""
    return any(sub in (1, 15, 19) and args.get("acl") is None for sub, args in op.args.get("ops") or [])


def _null_acl_create_without_body(op, ra, rb):
    """The same request on 3.8.2+: MARSHALLINGERROR with an empty multi result as its body; 3.9.5 sends none."""
    return _null_acl_create(op, ra, rb) and ra.get("errBody") == "ffffffff01ffffffff" and "errBody" not in rb


VERSION_DIFFERENCES = [
    ("exists", 0, -102, ("3.8.4", "3.9.3"), None,
     "ZOOKEEPER-2590: exists needs READ on an existing node (3.8.4+, 3.9.3+)"),
    ("checkWatches", 0, -121, ("3.9.0",), None,
     "3.9: checkWatches looks at the caller's own watches of that mode (3.8 answers OK if any connection watches)"),
    ("removeWatches", 0, -121, ("3.9.0",), None,
     "3.9: removeWatches Data/Children removes one-shot watches only (3.8 also removes persistent ones)"),
    ("topLevelCheck", ANY_REPLY, -6, ("3.8.5", "3.9.3"), None,
     "ZOOKEEPER-2623: check outside a multi is UNIMPLEMENTED and closes the connection (3.8.5+, 3.9.3+); 3.8.0 "
     "runs it as a write and never answers one that succeeds"),
    ("checkWatches", -5, -121, ("3.9.0",), None,
     "3.8 walks the parents of a path without a slash while recursive watches exist and fails with "
     "MARSHALLINGERROR; 3.9 looks the path up and answers NOWATCHER"),
    ("multi", 0, 0, ("3.8.2", "3.9.0"), _create2_results_as_create,
     "ZOOKEEPER-4026: create2 in a multi answers with its Stat (3.8.2+, 3.9)"),
    ("multi", 0, -5, ("3.8.2", "3.9.0"), _null_acl_create,
     "ZOOKEEPER-4026: a create with a null ACL list fails a multi with MARSHALLINGERROR and no txn (3.8.2+, 3.9)"),
    ("multi", -5, -5, ("3.9.0",), _null_acl_create_without_body,
     "3.9: a multi refused for a null ACL list answers MARSHALLINGERROR without a body (3.8.x: an empty result)"),
]

# Operations whose known difference can leave the two servers with different watches: exists with a watch on a
# node the caller may not read (3.8 registers it), removeWatches of a mode (3.8 removes persistent ones too).
RESYNC_AFTER = ("exists", "removeWatches")
# Operations whose known difference is a txn on one server only (3.8.0 logs a top-level check, and a multi with a
# null ACL list).
ZXID_RESYNC_AFTER = ("topLevelCheck", "multi")
WATCHER_ANY = 3


def _version(text):
    return tuple(int(part) for part in text.split("-")[0].split("."))


def reference_differs(reference_version, *changed_in):
    """True when the reference release predates the change made in the given releases (one per line: 3.8.x,
    3.9.x; a line not named never got it)."""
    ref = _version(reference_version)
    for release in changed_in:
        fixed = _version(release)
        if ref[:2] == fixed[:2]:
            return ref < fixed
    return not any(ref[:2] > _version(release)[:2] for release in changed_in)


def version_difference(op, obs_a, obs_b, reference_version):
    if obs_a.get("events") != obs_b.get("events") or obs_a.get("sessions") != obs_b.get("sessions"):
        return None
    ra, rb = obs_a.get("reply", {}), obs_b.get("reply", {})
    for kind, err_a, err_b, changed_in, matches, note in VERSION_DIFFERENCES:
        if not reference_differs(reference_version, *changed_in):
            continue
        if op.kind == kind and (err_a is ANY_REPLY or ra.get("err") == err_a) and rb.get("err") == err_b:
            if matches is None or matches(op, ra, rb):
                return note
    return None


def replay_command(args):
    cmd = (f"python3 {os.path.abspath(__file__)} --a {args.a} --b {args.b} --seed {args.seed} --ops {args.ops} "
           f"--reference-version {args.reference_version}")
    if args.sessions != 4:
        cmd += f" --sessions {args.sessions}"
    if args.ensemble:
        cmd += " --ensemble"
    return cmd


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", required=True, help="reference server HOST:PORT (Apache ZooKeeper)")
    p.add_argument("--b", required=True, help="server under test HOST:PORT")
    p.add_argument("--reference-version", default="3.9.5",
                   help="the Apache ZooKeeper release at --a: the behaviours that changed after it are reported as "
                        "version differences (default %(default)s: none)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--ops", type=int, default=10000)
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--stop-on-first", action="store_true", help="stop at the first divergence")
    p.add_argument("--max-reports", type=int, default=50,
                   help="print full details for this many divergences, one line for the later ones")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for one reply")
    p.add_argument("--ensemble", action="store_true",
                   help="both servers are members of ensembles: a multi's create op never carries a null ACL list "
                        "(it stops an Apache ZooKeeper 3.9.5 ensemble), an empty one instead")
    p.add_argument("--self-test-mutate", type=int, metavar="OP", default=None,
                   help="flip one bit in server B's reply to the first operation at or after index OP "
                        "(proves a wrong reply is caught: the run must then report failed=1)")
    args = p.parse_args(argv)
    if args.sessions < 1:
        p.error("--sessions must be at least 1")
    return args


def main(argv=None):
    return Judge(parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
