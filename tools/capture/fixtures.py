"""Turn recorded frames into fixture files and client/manifest.json.

Frames are grouped into exchanges (a request and its reply, a connect pair, a
notification, a four-letter-word pair). One exchange is kept per kind and
client; identical frames from different clients are written once and the other
clients are listed under "also_from".
"""

import hashlib
import json
import os

import jutedec as J

SUFFIX = {"connect_request": "req", "request": "req", "connect_response": "resp",
          "response": "resp", "notification": "event"}
ROLE_DIRECTION = {"connect_request": "connect_request",
                  "connect_response": "connect_response", "request": "request",
                  "response": "response", "notification": "notification",
                  "fourletter": "fourletter"}


def decode(frame):
    """(header, fields) for a recorded frame; raises jutedec.DecodeError."""
    role = frame.role
    if role == "connect_request":
        return None, J.decode_connect_request(frame.raw)
    if role == "connect_response":
        return None, J.decode_connect_response(frame.raw)
    if role == "request":
        return J.decode_request(frame.raw)
    if role == "response":
        return J.decode_response(frame.raw, frame.opcode)
    if role == "notification":
        return J.decode_notification(frame.raw)
    if role == "fourletter":
        text = frame.raw.decode("latin-1")
        key = "word" if frame.direction == "c2s" else "text"
        return None, {key: text}
    raise ValueError(role)


def _slug(s):
    return s.lower().replace("_", "-")


def _req_variant(op, f, conn_state):
    """A short word for what makes this request interesting."""
    if op in (1, 15, 19, 21):
        v = _slug(J.CREATE_MODES.get(f["flags"], f"flags{f['flags']}"))
        schemes = sorted({a["scheme"] for a in f["acl"] or []})
        if schemes and schemes != ["world"]:
            v += "-acl-" + "-".join(schemes)
        return v
    if op in (3, 4, 8, 12):
        v = "watch" if f["watch"] else ""
        if f["path"].startswith("/zookeeper"):
            v = (v + "-config").strip("-")
        return v
    if op == 7:
        return "-".join(sorted({a["scheme"] for a in f["acl"] or []}))
    if op == 100:
        return f["scheme"]
    if op in (101, 105):
        lists = [k.replace("_watches", "") for k, v in f.items()
                 if k.endswith("watches") and v]
        return "-".join(lists) or "empty"
    if op == 102:
        conn_state["sasl"] = conn_state.get("sasl", 0) + 1
        return f"round{conn_state['sasl']}"
    if op in (14, 22):
        kinds = sorted({J.OPCODES.get(o["header"]["type"], "?")
                        for o in f["ops"] if not o["header"]["done"]})
        return "-".join(_slug(k) for k in kinds)
    if op in (17, 18, 106):
        return f"type{f.get('type', f.get('mode'))}"
    if op == 103:
        return "all" if f["prefix_path"] in (None, "", "/") else "prefix"
    return ""


def _exchange_what(req, resp):
    op = req.opcode
    name = _slug(J.OPCODES.get(op, f"op{op}"))
    if name == "op99" or op not in J.OPCODES:
        name = f"unknown-op{op}"
    v = req.variant
    if op == 3 and resp is not None:
        v = (v + ("-miss" if resp.err == -101 else "-hit")).strip("-")
    if op in (14, 22) and resp is not None and resp.fields:
        failed = any(r["header"]["err"] not in (0, -1) or r["header"]["type"] == -1
                     for r in resp.fields["results"] if not r["header"]["done"])
        v = (v + ("-failed" if failed else "-ok")).strip("-")
    return f"{name}-{v}" if v else name


def _connect_what(f):
    v = "connect"
    if "read_only" not in f:
        v += "-short"
    elif f["read_only"]:
        v += "-readonly"
    if f["session_id"] != 0:
        v += "-resume"
    return v


class Builder:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.entries = []
        self.by_hash = {}
        self.keys = set()
        self.errors = []

    def _write(self, frame, what, extra_note, pair_entry=None):
        digest = hashlib.sha256(frame.raw).hexdigest()
        if digest in self.by_hash:
            entry = self.by_hash[digest]
            if frame.label != entry["client"] and frame.label not in entry["also_from"]:
                entry["also_from"].append(frame.label)
            return entry
        n = len(self.entries) + 1
        ext = SUFFIX.get(frame.role)
        if frame.role == "fourletter":
            ext = "req" if frame.direction == "c2s" else "resp"
        name = f"{n:03d}-{frame.label}-{what}.{ext}.bin"
        with open(os.path.join(self.out_dir, name), "wb") as fh:
            fh.write(frame.raw)
        entry = {
            "file": name, "client": frame.label,
            "direction": ROLE_DIRECTION[frame.role],
            "opcode": frame.opcode, "opname": J.OPCODES.get(frame.opcode),
            "xid": frame.xid, "err": frame.err,
            "err_name": None if frame.err is None else J.ERRORS.get(frame.err),
            "length": len(frame.raw), "note": extra_note,
            "header": frame.header, "fields": frame.fields,
            "pair": pair_entry["file"] if pair_entry else None,
            "also_from": [],
        }
        if frame.decode_error:
            entry["decode_error"] = frame.decode_error
        self.entries.append(entry)
        self.by_hash[digest] = entry
        return entry

    def add_exchange(self, key, what, first, second, note):
        if key in self.keys:
            return
        self.keys.add(key)
        a = self._write(first, what, note)
        if second is not None:
            what2 = what
            if second.err:
                what2 += "-" + _slug(J.ERRORS.get(second.err, str(second.err)))
            b = self._write(second, what2, note, pair_entry=a)
            if a["pair"] is None and a["file"] != b["file"]:
                a["pair"] = b["file"]

    def save(self):
        path = os.path.join(self.out_dir, "manifest.json")
        with open(path, "w") as fh:
            json.dump(self.entries, fh, indent=1)
            fh.write("\n")
        return path


def annotate(frames):
    """Decode every frame in place, recording decode errors."""
    conn_state = {}
    for f in frames:
        f.decode_error = None
        try:
            f.header, f.fields = decode(f)
        except J.DecodeError as e:
            f.header, f.fields = None, None
            f.decode_error = str(e)
        f.variant = ""
        if f.role == "request" and f.fields is not None:
            f.variant = _req_variant(f.opcode, f.fields, conn_state.setdefault(f.conn, {}))


def build(frames, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        if old.endswith(".bin") or old == "manifest.json":
            os.remove(os.path.join(out_dir, old))
    annotate(frames)
    answered = {f.pair: f for f in frames if f.role == "response" and f.pair}
    connect_req = {}
    fourletter_in = {}
    catching_up = set()   # connections whose setWatches has not been answered yet
    b = Builder(out_dir)
    for f in frames:
        note = f.phase
        if f.role == "response" and f.opcode in (101, 105):
            catching_up.discard(f.conn)
        if f.role == "connect_request":
            connect_req[f.conn] = f
        elif f.role == "connect_response":
            req = connect_req.get(f.conn)
            what = _connect_what(req.fields) if req and req.fields else "connect"
            b.add_exchange((f.label, what), what, req, f, note)
        elif f.role == "request":
            if f.opcode in (101, 105):
                catching_up.add(f.conn)
            resp = answered.get(f.seq)
            if resp is None and f.opcode in (11, 100, 101):
                resp = next((r for r in frames if r.role == "response"
                             and r.conn == f.conn and r.seq > f.seq
                             and r.xid == f.xid), None)
            what = _exchange_what(f, resp)
            err = resp.err if resp is not None else "noreply"
            b.add_exchange((f.label, what, err), what, f, resp, note)
        elif f.role == "notification":
            etype = J.EVENT_TYPES.get(f.fields["type"], "?") if f.fields else "?"
            what = "event-" + _slug(etype)
            if f.conn in catching_up:
                what += "-on-setwatches"
            b.add_exchange((f.label, what), what, f, None, note)
        elif f.role == "fourletter":
            if f.direction == "c2s":
                fourletter_in[f.conn] = f
            else:
                req = fourletter_in.get(f.conn)
                word = req.raw[:4].decode("latin-1") if req else "x"
                what = "4lw-" + word
                b.add_exchange((f.label, what), what, req, f, note)
    return b
