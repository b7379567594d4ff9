"""Runs one hostile-input case against one server and returns what an outsider observes.

A case (see cases.py) has three parts, each a list of steps:

- `setup`: sent on an ordinary session first (create the nodes the attack aims at, add auth), each reply must be
  0 or the case is reported as a setup failure;
- `attack`: sent on a fresh connection; each step is a request (opcode and body, or raw bytes of a whole frame
  for malformed input) and what the server did about it is recorded: the reply header (xid, err, and its zxid
  relative to the last zxid before the attack), no reply within the read timeout, or the connection closed;
- `after`: sent on another fresh session once the attack is over, to see what the attack left behind (the node
  still there, its data, its ACL still enforced) and that the server still serves.

Nothing is interpreted beyond reply headers and the few bodies `after` asks for, so the observation of two
servers can be compared as plain data. Standard library only (plus the judge's own Jute codec and connection from
compat-tests/differential).
"""

import base64
import hashlib
import os
import socket
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "differential"))

import jute  # noqa: E402
import zkconn  # noqa: E402

READ_TIMEOUT_S = 3.0
CLOSER_AUTH = {"type": 0, "scheme": "digest", "auth": b"hostile-probe:closer"}
CLOSE_WAIT_S = 3.0
_LEN = struct.Struct(">i")


def digest_id(user, password):
    """The id of a digest ACL for user:password (`DigestAuthenticationProvider.generateDigest`)."""
    sha = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(sha).decode()}"


def _body(step):
    """The request body of a step: `raw` bytes as given, else the record of `args` for its opcode."""
    if "body" in step:
        return bytes(step["body"])
    return jute.encode_request(step["op"], step.get("args", {}))


def _zxid_mark(zxid, base):
    """A reply's zxid as two servers can agree on it: -1 and 0 as they are, others relative to `base`."""
    if zxid in (-1, 0) or base is None:
        return zxid
    return f"base{zxid - base:+d}"


class Session:
    """A raw connection with a session (handshake done), one request at a time."""

    def __init__(self, host, port):
        self.conn, _, self.connect = zkconn.handshake(host, port, READ_TIMEOUT_S)
        self.xid = 0

    def call(self, op, args=None, body=None, xid=None):
        """Send one request; returns (reply header dict or None, reply reader or None, "closed"/"timeout"/None)."""
        if xid is None:
            self.xid += 1
            xid = self.xid
        payload = jute.encode_header(xid, op) + (body if body is not None else jute.encode_request(op, args or {}))
        try:
            self.conn.send_frame(payload)
        except zkconn.Closed:
            return None, None, "closed"
        frame, _events, err = zkconn.read_reply(self.conn)
        if frame is None:
            return None, None, err
        header, reader = jute.decode_reply_header(frame)
        return header, reader, None

    def close(self):
        """Ends the session with closeSession, so that no expiry changes the zxid during a later case."""
        self.call(jute.CLOSE_SESSION, body=b"")
        self.conn.close()


def end_session(host, port, session):
    """Closes the session a connection the server dropped had left open (reconnect, closeSession); a session
    that is already gone is left alone."""
    try:
        conn, _, rsp = zkconn.handshake(host, port, READ_TIMEOUT_S, session_id=session["sessionId"],
                                        passwd=session["passwd"])
    except (zkconn.Closed, zkconn.TimedOut, OSError):
        return
    try:
        if rsp["timeOut"] > 0:
            # Authenticated first, so that a server enforcing authentication lets the closeSession through.
            zkconn.send_request(conn, -4, jute.AUTH, jute.encode_request(jute.AUTH, CLOSER_AUTH))
            zkconn.read_reply(conn)
            zkconn.send_request(conn, 1, jute.CLOSE_SESSION, b"")
            zkconn.read_reply(conn)
    finally:
        conn.close()


def run_setup(host, port, steps):
    """Runs the setup steps on one session; returns (last zxid, None) or (None, why)."""
    if not steps:
        s = Session(host, port)
        try:
            header, _, err = s.call(jute.EXISTS, {"path": "/", "watch": False})
            return (header["zxid"], None) if header else (None, f"setup: {err}")
        finally:
            s.close()
    s = Session(host, port)
    try:
        last = None
        for step in steps:
            header, _, err = s.call(step["op"], step.get("args"), xid=step.get("xid"))
            if header is None:
                return None, f"setup step {step}: {err}"
            if header["err"] != 0:
                return None, f"setup step {step}: err {header['err']}"
            last = header["zxid"]
        return last, None
    finally:
        s.close()


def _read_outcome(conn, base, step, session_id):
    frame, events, err = zkconn.read_reply(conn)
    if frame is None:
        return err
    if step.get("reply") == "connect" and len(frame) > 16:
        # A ConnectResponse where a reply header would be (a bare reply header is 16 bytes): what it says about
        # the attacking session.
        rsp = jute.decode_connect(frame)
        return {"connect response": {"protocolVersion": rsp["protocolVersion"], "timeOut": rsp["timeOut"],
                                     "same session": rsp["sessionId"] == session_id,
                                     "passwd bytes": len(rsp["passwd"] or b"")}}
    header, _ = jute.decode_reply_header(frame)
    out = {"xid": header["xid"], "err": header["err"], "zxid": _zxid_mark(header["zxid"], base)}
    if events:
        out["events"] = len(events)
    return out


def _attack_step(conn, i, step, base, session_id):
    """Sends one step; its outcome: the reply, "sent" when none is awaited, or "closed"/"timeout"."""
    if conn.closed:
        return "closed"
    try:
        if "frame" in step:
            conn.sock.sendall(bytes(step["frame"]))
        else:
            payload = jute.encode_header(step.get("xid", i + 1), step["op"]) + _body(step)
            conn.sock.sendall(_LEN.pack(len(payload)) + payload)
    except OSError:
        conn.close()
        return "closed"
    if not step.get("expect_reply", True):
        return "sent"
    return _read_outcome(conn, base, step, session_id)


def _collapse(outcomes):
    """A repeated step's outcomes: runs of equal outcomes as one entry with their count."""
    out = []
    for o in outcomes:
        if out and out[-1][1] == o:
            out[-1][0] += 1
        else:
            out.append([1, o])
    return [o if n == 1 else {"times": n, "outcome": o} for n, o in out]


def run_attack(host, port, case, base, sessions):
    """The attack's steps on a fresh connection: one outcome per step, then whether the server closed it. The
    session it made is appended to `sessions`."""
    outcomes = []
    conn = None
    try:
        session_id = None
        if case.get("handshake", True):
            conn, _, connected = zkconn.handshake(host, port, READ_TIMEOUT_S)
            session_id = connected["sessionId"]
            sessions.append(connected)
        else:
            conn = zkconn.Conn(host, port, READ_TIMEOUT_S)
        for i, step in enumerate(case["attack"]):
            step_outcomes = [_attack_step(conn, i, step, base, session_id) for _ in range(step.get("repeat", 1))]
            outcomes.extend(step_outcomes)
        if conn.closed:
            closed = True
        else:
            closed, frames = zkconn.wait_closed(conn, CLOSE_WAIT_S)
            if frames:
                outcomes.append({"unexpected frames": len(frames)})
        return _collapse(outcomes), closed
    except (zkconn.Closed, OSError) as e:
        return outcomes + [f"connection failed: {e}"], True
    finally:
        if conn is not None:
            conn.close()


def _after_step(s, step):
    header, reader, err = s.call(step["op"], step.get("args"), xid=step.get("xid"))
    if header is None:
        return err
    out = {"err": header["err"]}
    if header["err"] == 0 and reader is not None and step["op"] == jute.GET_DATA:
        out["data"] = reader.buffer()
        out["version"] = jute.read_stat(reader)["version"]
    elif header["err"] == 0 and reader is not None and step["op"] == jute.EXISTS and step["args"]["path"] != "/":
        # The root's children are every case's nodes: only the nodes a case made are compared.
        out["numChildren"] = jute.read_stat(reader)["numChildren"]
    return out


def run_after(host, port, steps):
    try:
        s = Session(host, port)
    except (zkconn.Closed, OSError) as e:
        return [f"server does not serve: {e}"]
    try:
        return [_after_step(s, step) for step in steps]
    finally:
        s.close()


def observe(host, port, case):
    """Everything the case observes on the server at host:port, as comparable data."""
    base, why = run_setup(host, port, case.get("setup", []))
    if why:
        return {"setup": why}
    sessions = []
    outcomes, closed = run_attack(host, port, case, base, sessions)
    for session in sessions:
        end_session(host, port, session)
    return {
        "attack": outcomes,
        "closed": closed,
        "after": run_after(host, port, case.get("after", [])),
    }


if __name__ == "__main__":
    import argparse
    import pprint

    import cases as case_table

    parser = argparse.ArgumentParser(description="Run hostile-input cases against one server and print them.")
    parser.add_argument("address", help="host:port")
    parser.add_argument("--case", action="append", help="only the cases whose name contains this (repeatable)")
    args = parser.parse_args()
    host, port = args.address.rsplit(":", 1)
    for case in case_table.CASES:
        if args.case and not any(c in case["name"] for c in args.case):
            continue
        print(case["name"])
        pprint.pprint(observe(host, int(port), case), indent=2, width=110)
