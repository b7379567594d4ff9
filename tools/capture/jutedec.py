"""A small, independent Jute decoder for ZooKeeper client frames.

It exists so the golden fixtures carry field values that were not produced by
ferrokeeper's own codec: every captured frame is decoded here and the result is
written to the manifest. Field names follow zookeeper.jute, in snake_case.

The decoder is strict: a record that does not consume its frame exactly raises
DecodeError, so a wrong layout cannot go unnoticed.
"""

import struct

# OpCode numbers (org.apache.zookeeper.ZooDefs.OpCode).
OPCODES = {
    0: "notification", 1: "create", 2: "delete", 3: "exists", 4: "getData",
    5: "setData", 6: "getACL", 7: "setACL", 8: "getChildren", 9: "sync",
    11: "ping", 12: "getChildren2", 13: "check", 14: "multi", 15: "create2",
    16: "reconfig", 17: "checkWatches", 18: "removeWatches",
    19: "createContainer", 20: "deleteContainer", 21: "createTTL",
    22: "multiRead", 100: "auth", 101: "setWatches", 102: "sasl",
    103: "getEphemerals", 104: "getAllChildrenNumber", 105: "setWatches2",
    106: "addWatch", 107: "whoAmI", -10: "createSession", -11: "closeSession",
    -1: "error",
}

# KeeperException.Code values.
ERRORS = {
    0: "OK", -1: "SYSTEMERROR", -2: "RUNTIMEINCONSISTENCY",
    -3: "DATAINCONSISTENCY", -4: "CONNECTIONLOSS", -5: "MARSHALLINGERROR",
    -6: "UNIMPLEMENTED", -7: "OPERATIONTIMEOUT", -8: "BADARGUMENTS",
    -12: "UNKNOWNSESSION", -13: "NEWCONFIGNOQUORUM", -14: "RECONFIGINPROGRESS",
    -100: "APIERROR", -101: "NONODE", -102: "NOAUTH", -103: "BADVERSION",
    -108: "NOCHILDRENFOREPHEMERALS", -110: "NODEEXISTS", -111: "NOTEMPTY",
    -112: "SESSIONEXPIRED", -113: "INVALIDCALLBACK", -114: "INVALIDACL",
    -115: "AUTHFAILED", -118: "SESSIONMOVED", -119: "NOTREADONLY",
    -120: "EPHEMERALONLOCALSESSION", -121: "NOWATCHER", -122: "REQUESTTIMEOUT",
    -123: "RECONFIGDISABLED", -124: "SESSIONCLOSEDREQUIRESASLAUTH",
    -125: "QUOTAEXCEEDED", -127: "THROTTLEDOP",
}

EVENT_TYPES = {1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged",
               4: "NodeChildrenChanged"}

CREATE_MODES = {0: "persistent", 1: "ephemeral", 2: "persistent_sequential",
                3: "ephemeral_sequential", 4: "container", 5: "persistent_ttl",
                6: "persistent_sequential_ttl"}

FOUR_LETTER_WORDS = {
    b"ruok", b"srvr", b"stat", b"conf", b"cons", b"crst", b"srst", b"dump",
    b"envi", b"dirs", b"gtmk", b"stmk", b"isro", b"mntr", b"wchs", b"wchc",
    b"wchp", b"hash", b"\xff\xf4\xff\xfd",
}


class DecodeError(Exception):
    pass


class Reader:
    """Reads Jute primitives from a byte string, big-endian."""

    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def remaining(self):
        return len(self.data) - self.pos

    def _take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError(f"need {n} bytes at {self.pos}, have {self.remaining()}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int(self):
        return struct.unpack(">i", self._take(4))[0]

    def long(self):
        return struct.unpack(">q", self._take(8))[0]

    def bool(self):
        b = self._take(1)[0]
        if b not in (0, 1):
            raise DecodeError(f"boolean byte {b:#x} at {self.pos - 1}")
        return b == 1

    def buffer(self):
        """A Jute buffer as bytes, or None for length -1."""
        n = self.int()
        if n == -1:
            return None
        if n < -1:
            raise DecodeError(f"buffer length {n}")
        return self._take(n)

    def hexbuf(self):
        b = self.buffer()
        return None if b is None else b.hex()

    def ustring(self):
        b = self.buffer()
        return None if b is None else b.decode("utf-8")

    def vector(self, elem):
        n = self.int()
        if n == -1:
            return None
        if n < -1:
            raise DecodeError(f"vector length {n}")
        return [elem(self) for _ in range(n)]

    def expect_end(self, what):
        if self.remaining():
            raise DecodeError(f"{what}: {self.remaining()} trailing bytes "
                              f"{self.data[self.pos:].hex()}")


# --- shared data records (module org.apache.zookeeper.data) ---

def read_stat(r):
    return {
        "czxid": r.long(), "mzxid": r.long(), "ctime": r.long(),
        "mtime": r.long(), "version": r.int(), "cversion": r.int(),
        "aversion": r.int(), "ephemeral_owner": r.long(),
        "data_length": r.int(), "num_children": r.int(), "pzxid": r.long(),
    }


def read_stat_persisted(r):
    return {
        "czxid": r.long(), "mzxid": r.long(), "ctime": r.long(),
        "mtime": r.long(), "version": r.int(), "cversion": r.int(),
        "aversion": r.int(), "ephemeral_owner": r.long(), "pzxid": r.long(),
    }


def read_acl(r):
    return {"perms": r.int(), "scheme": r.ustring(), "id": r.ustring()}


def read_acl_list(r):
    return r.vector(read_acl)


def read_strings(r):
    return r.vector(lambda x: x.ustring())


# --- request bodies, by opcode ---

def _create(r, ttl=False):
    f = {"path": r.ustring(), "data": r.hexbuf(), "acl": read_acl_list(r),
         "flags": r.int()}
    if ttl:
        f["ttl"] = r.long()
    return f


def _path_watch(r):
    return {"path": r.ustring(), "watch": r.bool()}


def _path(r):
    return {"path": r.ustring()}


def _path_version(r):
    return {"path": r.ustring(), "version": r.int()}


def _path_type(r):
    return {"path": r.ustring(), "type": r.int()}


def _set_watches(r, v2):
    f = {"relative_zxid": r.long(), "data_watches": read_strings(r),
         "exist_watches": read_strings(r), "child_watches": read_strings(r)}
    if v2:
        f["persistent_watches"] = read_strings(r)
        f["persistent_recursive_watches"] = read_strings(r)
    return f


def _auth(r):
    f = {"type": r.int(), "scheme": r.ustring()}
    auth = r.buffer()
    f["auth"] = None if auth is None else auth.hex()
    return f


REQUEST_BODIES = {
    1: _create, 15: _create, 19: _create,
    21: lambda r: _create(r, ttl=True),
    2: _path_version,
    3: _path_watch, 4: _path_watch, 8: _path_watch, 12: _path_watch,
    5: lambda r: {"path": r.ustring(), "data": r.hexbuf(), "version": r.int()},
    6: _path,
    7: lambda r: {"path": r.ustring(), "acl": read_acl_list(r), "version": r.int()},
    9: _path,
    13: _path_version,
    16: lambda r: {"joining_servers": r.ustring(), "leaving_servers": r.ustring(),
                   "new_members": r.ustring(), "cur_config_id": r.long()},
    17: _path_type, 18: _path_type,
    100: _auth,
    101: lambda r: _set_watches(r, False),
    105: lambda r: _set_watches(r, True),
    102: lambda r: {"token": r.hexbuf()},
    103: lambda r: {"prefix_path": r.ustring()},
    104: _path,
    106: lambda r: {"path": r.ustring(), "mode": r.int()},
}

NO_BODY_REQUESTS = {11, 107, -11}


def read_multi_header(r):
    return {"type": r.int(), "done": r.bool(), "err": r.int()}


def decode_multi_request(r):
    ops = []
    while True:
        h = read_multi_header(r)
        if h["done"]:
            ops.append({"header": h})
            return {"ops": ops}
        body = REQUEST_BODIES.get(h["type"])
        if body is None:
            raise DecodeError(f"multi op type {h['type']}")
        ops.append({"header": h, "body": body(r)})


def decode_request_body(opcode, r):
    if opcode in (14, 22):
        return decode_multi_request(r)
    if opcode in NO_BODY_REQUESTS:
        return {}
    body = REQUEST_BODIES.get(opcode)
    if body is None:
        if opcode not in OPCODES and r.remaining() == 0:
            return {}
        raise DecodeError(f"no request layout for opcode {opcode}")
    return body(r)


# --- response bodies, by the opcode of the request they answer ---

RESPONSE_BODIES = {
    1: _path,
    15: lambda r: {"path": r.ustring(), "stat": read_stat(r)},
    3: lambda r: {"stat": read_stat(r)},
    4: lambda r: {"data": r.hexbuf(), "stat": read_stat(r)},
    5: lambda r: {"stat": read_stat(r)},
    6: lambda r: {"acl": read_acl_list(r), "stat": read_stat(r)},
    7: lambda r: {"stat": read_stat(r)},
    8: lambda r: {"children": read_strings(r)},
    9: _path,
    12: lambda r: {"children": read_strings(r), "stat": read_stat(r)},
    16: lambda r: {"data": r.hexbuf(), "stat": read_stat(r)},
    102: lambda r: {"token": r.hexbuf()},
    103: lambda r: {"ephemerals": read_strings(r)},
    104: lambda r: {"total_number": r.int()},
    106: lambda r: {"err": r.int()},
    107: lambda r: {"client_info": r.vector(
        lambda x: {"auth_scheme": x.ustring(), "user": x.ustring()})},
}
RESPONSE_BODIES[19] = RESPONSE_BODIES[15]
RESPONSE_BODIES[21] = RESPONSE_BODIES[15]

NO_BODY_RESPONSES = {2, 11, 13, 17, 18, 100, 101, 105, -11}


def decode_multi_response(r):
    results = []
    while True:
        h = read_multi_header(r)
        if h["done"]:
            results.append({"header": h})
            return {"results": results}
        t = h["type"]
        if t == -1:
            body = {"err": r.int()}
        elif t in NO_BODY_RESPONSES:
            body = {}
        elif t in RESPONSE_BODIES:
            body = RESPONSE_BODIES[t](r)
        else:
            raise DecodeError(f"multi result type {t}")
        results.append({"header": h, "body": body})


def decode_response_body(opcode, err, r):
    if err != 0:
        return {}
    if opcode in (14, 22):
        return decode_multi_response(r)
    if opcode in NO_BODY_RESPONSES:
        return {}
    body = RESPONSE_BODIES.get(opcode)
    if body is None:
        raise DecodeError(f"no response layout for opcode {opcode}")
    return body(r)


# --- whole frames ---

def split_frame(frame):
    """Return the payload of a length-prefixed frame, checking the prefix."""
    if len(frame) < 4:
        raise DecodeError("frame shorter than its length prefix")
    n = struct.unpack(">i", frame[:4])[0]
    if n != len(frame) - 4:
        raise DecodeError(f"length prefix {n} but payload is {len(frame) - 4}")
    return frame[4:]


def decode_connect_request(frame):
    r = Reader(split_frame(frame))
    f = {"protocol_version": r.int(), "last_zxid_seen": r.long(),
         "time_out": r.int(), "session_id": r.long(), "passwd": r.hexbuf()}
    if r.remaining():
        f["read_only"] = r.bool()
    r.expect_end("ConnectRequest")
    return f


def decode_connect_response(frame):
    r = Reader(split_frame(frame))
    f = {"protocol_version": r.int(), "time_out": r.int(),
         "session_id": r.long(), "passwd": r.hexbuf()}
    if r.remaining():
        f["read_only"] = r.bool()
    r.expect_end("ConnectResponse")
    return f


def decode_request(frame):
    """Decode RequestHeader + body. Returns (header, fields)."""
    r = Reader(split_frame(frame))
    header = {"xid": r.int(), "type": r.int()}
    fields = decode_request_body(header["type"], r)
    r.expect_end(f"request opcode {header['type']}")
    return header, fields


def decode_reply_header(frame):
    r = Reader(split_frame(frame))
    return {"xid": r.int(), "zxid": r.long(), "err": r.int()}, r


def decode_response(frame, opcode):
    """Decode ReplyHeader + body of a reply to a request of `opcode`."""
    header, r = decode_reply_header(frame)
    if opcode is None:
        fields = {}
        if r.remaining():
            raise DecodeError("reply to an unknown request carries a body")
    else:
        fields = decode_response_body(opcode, header["err"], r)
    r.expect_end(f"response to opcode {opcode} err {header['err']}")
    return header, fields


def decode_notification(frame):
    header, r = decode_reply_header(frame)
    fields = {"type": r.int(), "state": r.int(), "path": r.ustring()}
    r.expect_end("WatcherEvent")
    return header, fields
