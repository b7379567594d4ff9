"""The hostile-input cases, as data: what an outsider sends, and what to look at afterwards.

Each case is a dict:
  name     unique, `group/what`; the judge counts one check per case
  setup    steps run on an ordinary session first, each must answer 0 (see probe.py)
  attack   steps sent on a fresh connection; a step is either
             {"op": opcode, "args": {...}}         a request record encoded by differential/jute.py
             {"op": opcode, "body": b"..."}        a request header for opcode, then these bytes
             {"frame": b"..."}                    bytes sent as they are (framing included)
           with optional "xid" (default: the step's position, from 1), "expect_reply": False (do not wait),
           "reply": "connect" (the answer is a ConnectResponse, not a reply header) and "repeat": n (send
           the step n times; the outcomes are kept once with their count)
  after    requests on a fresh session once the attack is over (err, and data/version for getData,
           numChildren for exists)
  handshake False to send the attack before any ConnectRequest
  config   zoo.cfg keys the case needs beyond the shared zoo.cfg (both servers are started with them)
  v39      what Apache ZooKeeper 3.9 observes where it differs from 3.8 (the keys given): judged against a 3.8 reference, a server
           under test that answers so is counted as a known version difference, not a failure
  deliberate  the same for a documented deliberate divergence of ferrokeeper (the comment above the case says why)

To add a case: append to CASES (or to a helper's list below); the judge picks it up. Each case uses its own
paths (`/hostile-<n>`), so cases do not see each other's nodes.
"""

import struct

from probe import digest_id, jute

ALL = 31
READ = 1
OPEN_ACL = [(ALL, "world", "anyone")]
ALICE = ("alice", "secret")
ALICE_ACL = [(ALL, "digest", digest_id(*ALICE))]
ALICE_AUTH = {"op": jute.AUTH, "args": {"type": 0, "scheme": "digest", "auth": b"alice:secret"}, "xid": -4}

PERSISTENT, EPHEMERAL, CONTAINER = 0, 1, 4


def create(path, acl=None, flags=PERSISTENT, data=b"kept", op=jute.CREATE):
    return {"op": op, "args": {"path": path, "data": data, "acl": OPEN_ACL if acl is None else acl, "flags": flags}}


def get_data(path):
    return {"op": jute.GET_DATA, "args": {"path": path, "watch": False}}


def exists(path):
    return {"op": jute.EXISTS, "args": {"path": path, "watch": False}}


def ustring(text):
    raw = text.encode()
    return struct.pack(">i", len(raw)) + raw


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def protected(path):
    """Setup: `path` created by alice with an ACL that gives nobody else anything."""
    return [ALICE_AUTH, create(path, ALICE_ACL)]


def still_protected(path):
    """After: the node's ACL still refuses a stranger, and its owner still reads it as it was."""
    return [get_data(path), ALICE_AUTH, get_data(path)]


CASES = []

# What a stranger reads of a protected node that is still there (see still_protected).
KEPT_AFTER = [{"err": -102}, {"err": 0}, {"err": 0, "data": b"kept", "version": 0}]


def case(name, attack, setup=(), after=(), **extra):
    CASES.append({"name": name, "setup": list(setup), "attack": list(attack), "after": list(after), **extra})


def _path():
    return f"/hostile-{len(CASES)}"


# ---- server-internal opcodes a client can send -------------------------------------------------------------

p = _path()
# A client's deleteContainer whose path decodes: 3.8 answers BADARGUMENTS and keeps the node; 3.9 deletes any
# childless node that is not an ordinary ephemeral, with no ACL check at all (`PrepRequestProcessor`,
# deleteContainer). ferrokeeper keeps 3.8's answer: the 3.9 behaviour lets a stranger delete protected data.
case("opcode/deleteContainer-length-prefixed-on-protected-node",
     [{"op": jute.DELETE_CONTAINER, "body": ustring(p)}], protected(p), still_protected(p),
     deliberate={"attack": [{"xid": 1, "err": -8, "zxid": "base+3"}], "after": KEPT_AFTER})
p = _path()
# A body that does not decode: 3.9 answers MARSHALLINGERROR without moving the zxid (3.8: BADARGUMENTS, with a
# zxid); nothing is deleted by either.
case("opcode/deleteContainer-raw-path-on-protected-node",
     [{"op": jute.DELETE_CONTAINER, "body": p.encode()}], protected(p), still_protected(p),
     v39={"attack": [{"xid": 1, "err": -5, "zxid": "base+2"}], "after": KEPT_AFTER})
p = _path()
case("opcode/deleteContainer-on-empty-container",
     [{"op": jute.DELETE_CONTAINER, "body": ustring(p)}],
     [create(p, flags=CONTAINER, op=jute.CREATE_CONTAINER)], [exists(p)],
     deliberate={"attack": [{"xid": 1, "err": -8, "zxid": "base+3"}], "after": [{"err": 0, "numChildren": 0}]})
p = _path()
case("opcode/deleteContainer-on-open-node",
     [{"op": jute.DELETE_CONTAINER, "body": ustring(p)}], [create(p)], [exists(p)],
     deliberate={"attack": [{"xid": 1, "err": -8, "zxid": "base+3"}], "after": [{"err": 0, "numChildren": 0}]})
p = _path()
case("opcode/deleteContainer-empty-body", [{"op": jute.DELETE_CONTAINER, "body": b""}, exists("/")],
     [create(p)], [exists(p)],
     v39={"attack": [{"xid": 1, "err": -5, "zxid": "base+2"}, {"xid": 2, "err": 0, "zxid": "base+2"}]})
p = _path()
case("opcode/deleteContainer-in-multi",
     [{"op": jute.MULTI, "body": struct.pack(">ibi", jute.DELETE_CONTAINER, 0, -1) + ustring(p)
       + struct.pack(">ibi", -1, 1, -1)}],
     protected(p), still_protected(p))
# Apache ZooKeeper logs a createSession txn with the timeout the client wrote (never checked against
# maxSessionTimeout, and restored from the log after a restart) and answers with a second ConnectResponse.
# ferrokeeper refuses the server-internal opcode as it refuses unknown ones: UNIMPLEMENTED, then it closes.
case("opcode/createSession-after-handshake",
     [{"op": -10, "body": struct.pack(">i", 30000), "reply": "connect"}, exists("/")], after=[exists("/")],
     deliberate={"attack": [{"err": -6, "xid": 1, "zxid": -1}, "closed"], "closed": True})
p = _path()
case("opcode/closeSession-ends-the-session-and-its-ephemerals",
     [create(p, flags=EPHEMERAL), {"op": jute.CLOSE_SESSION, "body": b""}], after=[exists(p)])
p = _path()
case("opcode/closeSession-with-a-body",
     [create(p, flags=EPHEMERAL), {"op": jute.CLOSE_SESSION, "body": b"\x00" * 12}], after=[exists(p)])
case("opcode/error", [{"op": jute.ERROR, "body": b""}], after=[exists("/")])
p = _path()
case("opcode/reconfig-when-disabled",
     [{"op": jute.RECONFIG, "args": {"joiningServers": "server.2=127.0.0.1:2888:3888;2182",
                                     "leavingServers": None, "newMembers": None, "curConfigId": -1}}],
     after=[get_data("/zookeeper/config")])
case("opcode/reconfig-empty-body", [{"op": jute.RECONFIG, "body": b""}], after=[exists("/")])
p = _path()
case("opcode/check-at-top-level", [{"op": jute.CHECK, "args": {"path": p, "version": 0}}], [create(p)],
     [get_data(p)],
     # ZOOKEEPER-2623 (3.9): a top-level check is UNIMPLEMENTED and closes the connection; 3.8.0 never answers.
     v39={"attack": [{"err": -6, "xid": 1, "zxid": -1}], "closed": True})
p = _path()
case("opcode/createTTL-with-extended-types-off",
     [{"op": jute.CREATE_TTL, "args": {"path": p, "data": b"x", "acl": OPEN_ACL, "flags": 5, "ttl": 1000}},
      exists("/")],
     after=[exists(p)])
p = _path()
case("opcode/setWatches-then-ping",
     [{"op": jute.SET_WATCHES, "args": {"relativeZxid": 0, "dataWatches": [p], "existWatches": [p],
                                        "childWatches": ["/"]}, "xid": -8},
      {"op": jute.PING, "body": b"", "xid": -2}])
case("opcode/ping-with-an-ordinary-xid", [{"op": jute.PING, "body": b""}, exists("/")])
case("opcode/sasl-without-sasl", [{"op": jute.SASL, "args": {"token": b"\x01\x02"}}, exists("/")])
case("opcode/auth-unknown-scheme",
     [{"op": jute.AUTH, "args": {"type": 0, "scheme": "nosuchscheme", "auth": b"x"}, "xid": -4}])
case("opcode/auth-ip-scheme",
     [{"op": jute.AUTH, "args": {"type": 0, "scheme": "ip", "auth": b"10.0.0.1"}, "xid": -4}, exists("/")])
case("opcode/auth-digest-without-colon",
     [{"op": jute.AUTH, "args": {"type": 0, "scheme": "digest", "auth": b"nocolon"}, "xid": -4}])
for code in (0, 10, 23, 99, 108, 1000, -2, -12, 0x7FFFFFFF, -0x80000000):
    case(f"opcode/unknown-{code}", [{"op": code, "body": b""}], after=[exists("/")])

case("opcode/setWatches2-then-ping",
     [{"op": jute.SET_WATCHES2, "args": {"relativeZxid": 0, "dataWatches": ["/nowhere"], "existWatches": [],
                                         "childWatches": [], "persistentWatches": ["/"],
                                         "persistentRecursiveWatches": ["/nowhere"]}, "xid": -8},
      {"op": jute.PING, "body": b"", "xid": -2}])
case("opcode/checkWatches-none-set", [{"op": jute.CHECK_WATCHES, "args": {"path": "/", "type": 1}}, exists("/")])
case("opcode/removeWatches-none-set", [{"op": jute.REMOVE_WATCHES, "args": {"path": "/", "type": 3}},
                                       exists("/")])
case("opcode/addWatch-unknown-mode", [{"op": jute.ADD_WATCH, "args": {"path": "/", "mode": 7}}, exists("/")])
case("opcode/multiRead-with-deleteContainer",
     [{"op": jute.MULTI_READ, "body": struct.pack(">ibi", jute.DELETE_CONTAINER, 0, -1) + ustring("/zookeeper")
       + struct.pack(">ibi", -1, 1, -1)}, exists("/")],
     after=[exists("/zookeeper")])

# ---- access control ------------------------------------------------------------------------------------------

p = _path()
case("acl/stranger-writes-a-protected-node",
     [{"op": jute.SET_DATA, "args": {"path": p, "data": b"stolen", "version": -1}},
      create(p + "/child"),
      {"op": jute.SET_ACL, "args": {"path": p, "acl": OPEN_ACL, "version": -1}},
      {"op": jute.DELETE, "args": {"path": p, "version": -1}}],
     protected(p), still_protected(p))
p = _path()
case("acl/wrong-super-password",
     [{"op": jute.AUTH, "args": {"type": 0, "scheme": "digest", "auth": b"super:guess"}, "xid": -4}, get_data(p)],
     protected(p), still_protected(p))
p = _path()
case("acl/claim-another-users-id-in-an-acl",
     [create(p, ALICE_ACL), get_data(p)], after=[get_data(p), ALICE_AUTH, get_data(p)])
for label, acl in (("empty-list", []), ("digest-without-colon", [(ALL, "digest", "nocolon")]),
                   ("auth-scheme-unauthenticated", [(ALL, "auth", "")]), ("unknown-scheme", [(ALL, "x509", "CN=a")]),
                   ("ip-bad-address", [(ALL, "ip", "999.1.1.1")]), ("world-not-anyone", [(ALL, "world", "me")])):
    p = _path()
    case(f"acl/create-with-{label}", [create(p, acl), exists("/")], after=[exists(p)])

# ---- enforce.auth (AuthenticationHelper.enforceAuthentication) ---------------------------------------------------

ENFORCE = {"enforce.auth.enabled": "true", "enforce.auth.schemes": "digest"}
PING = {"op": jute.PING, "body": b"", "xid": -2}
for label, attack in (
        # First: the only case whose zxids are compared, before any refused session can expire.
        ("authenticated-session-is-served", [ALICE_AUTH, exists("/")]),
        ("unauthenticated-read", [exists("/")]),
        ("unauthenticated-ping", [PING]),
        ("unauthenticated-unknown-opcode", [{"op": 99, "body": b""}]),
        ("unauthenticated-closeSession", [{"op": jute.CLOSE_SESSION, "body": b""}]),
        ("unauthenticated-deleteContainer", [{"op": jute.DELETE_CONTAINER, "body": ustring("/zookeeper")}]),
        ("sasl-then-read", [{"op": jute.SASL, "args": {"token": b"\x01"}}, exists("/")]),
        ("ip-auth-is-not-digest",
         [{"op": jute.AUTH, "args": {"type": 0, "scheme": "ip", "auth": b"x"}, "xid": -4}, exists("/")])):
    case(f"enforce-auth/{label}", attack, [ALICE_AUTH, exists("/")], config=ENFORCE)

# ---- bad paths ---------------------------------------------------------------------------------------------

for label, bad in (("empty", ""), ("relative", "a"), ("trailing-slash", "/a/"), ("double-slash", "/a//b"),
                   ("dot", "/a/./b"), ("dot-dot", "/a/../b"), ("nul", "/a\0b"), ("control", "/a\x01b"),
                   ("surrogate", "/a\ud800b")):
    case(f"path/create-{label}", [create(bad), exists("/")], after=[exists("/")])
    case(f"path/getData-{label}", [get_data(bad), exists("/")])
case("path/delete-root", [{"op": jute.DELETE, "args": {"path": "/", "version": -1}}], after=[exists("/")])
case("path/delete-zookeeper", [{"op": jute.DELETE, "args": {"path": "/zookeeper", "version": -1}}],
     after=[exists("/zookeeper")])
case("path/delete-zookeeper-quota", [{"op": jute.DELETE, "args": {"path": "/zookeeper/quota", "version": -1}}],
     after=[exists("/zookeeper/quota")])
case("path/setData-zookeeper-config",
     [{"op": jute.SET_DATA, "args": {"path": "/zookeeper/config", "data": b"x", "version": -1}}],
     after=[get_data("/zookeeper/config")])

# ---- malformed frames --------------------------------------------------------------------------------------

case("frame/negative-length", [{"frame": struct.pack(">i", -1), "expect_reply": False}], after=[exists("/")])
case("frame/length-over-jute-maxbuffer",
     [{"frame": struct.pack(">i", 0x7FFFFFFF) + b"\0" * 64, "expect_reply": False}], after=[exists("/")])
case("frame/shorter-than-a-header", [{"frame": frame(b"\0\0\0\1"), "expect_reply": False}],
     after=[exists("/")])
# A create whose body does not decode: 3.9 answers MARSHALLINGERROR without moving the zxid; 3.8 logged an
# error txn under a new zxid.
p = _path()
case("frame/create-truncated-after-path",
     [{"op": jute.CREATE, "body": ustring(p)}, exists("/")], after=[exists(p)], v39={"attack": [{"xid": 1, "err": -5, "zxid": "base+2"}, {"xid": 2, "err": 0, "zxid": "base+2"}]})
p = _path()
case("frame/create-string-length-past-the-frame",
     [{"op": jute.CREATE, "body": struct.pack(">i", 1000) + p.encode()}, exists("/")], after=[exists(p)],
     v39={"attack": [{"xid": 1, "err": -5, "zxid": "base+2"}, {"xid": 2, "err": 0, "zxid": "base+2"}]})
p = _path()
case("frame/create-acl-count-huge",
     [{"op": jute.CREATE, "body": ustring(p) + struct.pack(">ii", 0, 0x7FFFFFFF)}, exists("/")],
     after=[exists(p)], v39={"attack": [{"xid": 1, "err": -5, "zxid": "base+2"}, {"xid": 2, "err": 0, "zxid": "base+2"}]})
case("frame/getData-trailing-garbage",
     [{"op": jute.GET_DATA, "body": ustring("/") + b"\0" + b"garbage"}, exists("/")])
case("frame/garbage-before-handshake",
     [{"frame": frame(b"\xde\xad\xbe\xef" * 8), "expect_reply": False}], handshake=False, after=[exists("/")])
case("frame/request-before-handshake", [exists("/")], handshake=False, after=[exists("/")])

# ---- floods ------------------------------------------------------------------------------------------------

case("flood/same-digest-auth-500-times", [dict(ALICE_AUTH, repeat=500), exists("/")], after=[exists("/")])
case("flood/distinct-digest-auth-300",
     [{"op": jute.AUTH, "args": {"type": 0, "scheme": "digest", "auth": f"u{i}:p".encode()}, "xid": -4}
      for i in range(300)] + [{"op": jute.WHO_AM_I, "body": b""}],
     after=[exists("/")])
