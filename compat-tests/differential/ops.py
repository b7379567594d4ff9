"""The seeded operation generator of the differential judge.

One random.Random(seed) draws every operation, so a seed names one sequence. The path space is kept small (names
a, b, c up to three levels, plus sequential names learnt from the reference server's replies) so that operations
collide and errors are frequent. Some ACLs lock a node for every session of the run; those are only put on
third-level nodes, which can still be deleted, so that no big subtree is frozen for the rest of the run.
"""

import base64
import hashlib
import random

import jute

NAMES = ("a", "b", "c")
SPECIAL_PATHS = ("/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota")
BAD_PATHS = ("/a/", "//a", "/a//b", "/./a", "/a/..", "/a/.", "a", "", "/a\0b", "/a\x01", "/\u00e9", "/a/b/")
DATAS = (None, b"", b"x", b"hello", bytes(range(6)), b"\xff" * 40)
CREDS = ("alice:pw1", "bob:pw2", "alice:wrong", "nocolon", "carol:")
SEQ_PREFIX = "q-"


def digest_id(user_password):
    """DigestAuthenticationProvider.generateDigest: user + ":" + base64(sha1("user:password"))."""
    user = user_password.split(":", 1)[0]
    sha = hashlib.sha1(user_password.encode()).digest()
    return user + ":" + base64.b64encode(sha).decode()


OPEN = (31, "world", "anyone")
# ACL lists that keep the node usable by the run (some sessions or all).
ACLS_OPEN = (
    [OPEN],
    [OPEN, OPEN],
    [(31, "auth", "")],
    [(31, "auth", "ignored")],
    [(1, "world", "anyone"), (31, "digest", digest_id("alice:pw1"))],
    [(31, "digest", digest_id("bob:pw2"))],
    [(31, "ip", "127.0.0.1")],
    [(31, "ip", "127.0.0.0/8")],
    [(15, "world", "anyone"), (16, "ip", "127.0.0.1")],
    [(5, "world", "anyone"), (31, "digest", digest_id("alice:pw1")), (31, "digest", digest_id("bob:pw2"))],
)
# ACL lists that may lock the node for everybody in the run.
ACLS_LOCKING = (
    [(1, "world", "anyone")],
    [(0, "world", "anyone")],
    [(31, "ip", "10.1.2.3")],
    [(31, "ip", "10.0.0.0/8")],
    [(31, "digest", digest_id("nobody:nothing"))],
    [(64, "world", "anyone")],
)
# ACL lists the server must reject with INVALIDACL (or accept, where ZooKeeper is lenient).
ACLS_INVALID = (
    [],
    None,
    [(31, "world", "bob")],
    [(31, "digest", "nocolon")],
    [(31, "digest", "a:b:c")],
    [(31, "ip", "not-an-ip")],
    [(31, "ip", "127.0.0.1/40")],
    [(31, "foo", "bar")],
    [(31, "super", "x")],
    [(31, None, "anyone")],
    [(31, "world", None)],
)

# (kind, weight). The kind is also the name counted in the summary.
KINDS = (
    ("create", 10), ("create2", 6), ("createContainer", 3), ("createTTL", 2), ("delete", 9), ("exists", 6),
    ("getData", 6), ("getChildren", 4), ("getChildren2", 4), ("setData", 7), ("getACL", 3), ("setACL", 4),
    ("sync", 1), ("multi", 6), ("multiRead", 3), ("addWatch", 2), ("checkWatches", 2), ("removeWatches", 2),
    ("auth", 2), ("getEphemerals", 2), ("getAllChildrenNumber", 2), ("whoAmI", 1), ("ping", 1),
    ("setWatches", 1), ("closeSession", 0.6), ("reconnect", 0.4), ("badOpcode", 0.2),
    ("reconfig", 0.3), ("sasl", 0.2), ("topLevelCheck", 0.05),
)


class Op:
    """One operation: session slot, opcode, request fields, and what to do with the connection afterwards."""

    def __init__(self, kind, slot, opcode, args, xid=None, after=None):
        self.kind = kind
        self.slot = slot
        self.opcode = opcode
        self.args = args
        self.xid = xid        # fixed xid (ping -2, auth -4) or None for the session's next xid
        # None; "reopen": the server closes the connection after the reply (closeSession), a new session takes the
        # slot; "closes": the server closes the connection after the reply (AUTHFAILED, UNIMPLEMENTED), the session
        # is resumed on a new one; "resume": the client drops the connection and resumes the session.
        self.after = after

    def body(self):
        return jute.encode_request(self.opcode, self.args)

    def describe(self):
        return f"s{self.slot} {self.kind} opcode={self.opcode} {_fmt_args(self.args)}"


def _fmt_args(args):
    parts = []
    for k, v in args.items():
        if k == "ops":
            v = "[" + ", ".join(f"({op} {_fmt_args(a)})" for op, a in v) + "]"
        else:
            v = repr(v)
        parts.append(f"{k}={v}")
    return " ".join(parts)


class Generator:
    """Draws operations. learn() feeds back the reference server's reply so that sequential names get reused."""

    def __init__(self, seed, sessions):
        self.rng = random.Random(seed)
        self.sessions = sessions
        self.learned = []
        kinds, weights = zip(*KINDS)
        self.kinds = kinds
        self.cum = []
        total = 0.0
        for w in weights:
            total += w
            self.cum.append(total)

    def learn(self, op, reply_body):
        """Remember created sequential names (from the reference server's reply) as extra paths."""
        if not reply_body:
            return
        paths = []
        if op.opcode in (jute.CREATE, jute.CREATE2, jute.CREATE_CONTAINER, jute.CREATE_TTL):
            paths.append(reply_body.get("path"))
        for res in reply_body.get("results") or []:
            paths.append(res.get("path"))
        for p in paths:
            if isinstance(p, str) and SEQ_PREFIX in p and p not in self.learned:
                self.learned.append(p)
        del self.learned[:-10]

    # ---- building blocks ----

    def path(self, bad=0.04, special=0.03):
        r = self.rng.random()
        if r < bad:
            return self.rng.choice(BAD_PATHS)
        if r < bad + special:
            return self.rng.choice(SPECIAL_PATHS)
        if self.learned and self.rng.random() < 0.12:
            return self.rng.choice(self.learned)
        depth = self.rng.choices((1, 2, 3), (4, 4, 3))[0]
        return "/" + "/".join(self.rng.choice(NAMES) for _ in range(depth))

    def parent_path(self):
        return self.rng.choice(("", "") + tuple("/" + n for n in NAMES) + ("/a/b", "/b/c", "/c/a"))

    def data(self):
        return self.rng.choice(DATAS)

    def version(self):
        return self.rng.choice((-1, -1, -1, 0, 0, 1, 2, 5, -2))

    def acl(self, path):
        r = self.rng.random()
        if r < 0.08:
            return self.rng.choice(ACLS_INVALID)
        if r < 0.16 and path.count("/") >= 3:
            return self.rng.choice(ACLS_LOCKING)
        if r < 0.45:
            return self.rng.choice(ACLS_OPEN)
        return [OPEN]

    def create_path(self, sequential):
        if sequential:
            return self.parent_path() + "/" + SEQ_PREFIX
        return self.path()

    def create_args(self, flags_choices):
        flags = self.rng.choice(flags_choices)
        path = self.create_path(flags in (2, 3, 6))
        return {"path": path, "data": self.data(), "acl": self.acl(path), "flags": flags}

    # ---- operations ----

    def next(self):
        kind = self.kinds[_bisect(self.cum, self.rng.random() * self.cum[-1])]
        slot = self.rng.randrange(self.sessions)
        return getattr(self, "op_" + kind)(kind, slot)

    def op_create(self, kind, slot):
        args = self.create_args((0, 0, 1, 2, 3, 1, 4, 7, -1))
        return Op(kind, slot, jute.CREATE, args)

    def op_create2(self, kind, slot):
        return Op(kind, slot, jute.CREATE2, self.create_args((0, 1, 2, 3)))

    def op_createContainer(self, kind, slot):
        return Op(kind, slot, jute.CREATE_CONTAINER, self.create_args((4, 4, 4, 0)))

    def ttl_create_args(self):
        args = self.create_args((5, 6, 0, 2))
        if args["flags"] in (5, 6):
            args["ttl"] = self.rng.choice((1000, 1, 0, -1, 1 << 40))
        else:
            # Never a negative ttl with a non-TTL mode: EphemeralType.validateTTL lets it through, and applying the
            # CreateTTLTxn then throws in DataTree.processTxn, which stops Apache ZooKeeper 3.8.0 for good (the
            # txn is already logged, so the restart replays it and stops again). Non-negative: BADARGUMENTS.
            args["ttl"] = self.rng.choice((1000, 0, 1 << 40))
        return args

    def op_createTTL(self, kind, slot):
        return Op(kind, slot, jute.CREATE_TTL, self.ttl_create_args())

    def op_delete(self, kind, slot):
        return Op(kind, slot, jute.DELETE, {"path": self.path(), "version": self.version()})

    def _read(self, kind, slot, opcode):
        return Op(kind, slot, opcode, {"path": self.path(), "watch": self.rng.random() < 0.5})

    def op_exists(self, kind, slot):
        return self._read(kind, slot, jute.EXISTS)

    def op_getData(self, kind, slot):
        return self._read(kind, slot, jute.GET_DATA)

    def op_getChildren(self, kind, slot):
        return self._read(kind, slot, jute.GET_CHILDREN)

    def op_getChildren2(self, kind, slot):
        return self._read(kind, slot, jute.GET_CHILDREN2)

    def op_setData(self, kind, slot):
        return Op(kind, slot, jute.SET_DATA, {"path": self.path(), "data": self.data(), "version": self.version()})

    def op_getACL(self, kind, slot):
        return Op(kind, slot, jute.GET_ACL, {"path": self.path()})

    def op_setACL(self, kind, slot):
        path = self.path(special=0.0)
        if path in SPECIAL_PATHS:
            path = "/a"
        return Op(kind, slot, jute.SET_ACL, {"path": path, "acl": self.acl(path), "version": self.version()})

    def op_sync(self, kind, slot):
        return Op(kind, slot, jute.SYNC, {"path": self.rng.choice((self.path(bad=0.3), None))})

    def multi_write_op(self):
        r = self.rng.random()
        if r < 0.03:
            return jute.CREATE_TTL, self.ttl_create_args()
        if r < 0.35:
            opcode = self.rng.choice((jute.CREATE, jute.CREATE, jute.CREATE2, jute.CREATE_CONTAINER))
            flags = (4,) if opcode == jute.CREATE_CONTAINER else (0, 0, 1, 2, 3)
            return opcode, self.create_args(flags)
        if r < 0.55:
            return jute.DELETE, {"path": self.path(), "version": self.version()}
        if r < 0.75:
            return jute.SET_DATA, {"path": self.path(), "data": self.data(), "version": self.version()}
        if r < 0.97:
            return jute.CHECK, {"path": self.path(), "version": self.version()}
        return jute.GET_DATA, {"path": self.path(), "watch": False}  # not allowed in multi

    def op_multi(self, kind, slot):
        n = self.rng.choices((0, 1, 2, 3, 4), (1, 6, 8, 6, 4))[0]
        return Op(kind, slot, jute.MULTI, {"ops": [self.multi_write_op() for _ in range(n)]})

    def op_multiRead(self, kind, slot):
        ops = []
        for _ in range(self.rng.choices((0, 1, 2, 3, 4), (1, 6, 8, 6, 4))[0]):
            r = self.rng.random()
            if r < 0.5:
                ops.append((jute.GET_DATA, {"path": self.path(), "watch": self.rng.random() < 0.5}))
            elif r < 0.97:
                ops.append((jute.GET_CHILDREN, {"path": self.path(), "watch": self.rng.random() < 0.5}))
            else:
                ops.append((jute.DELETE, {"path": self.path(), "version": -1}))  # not allowed in multiRead
        return Op(kind, slot, jute.MULTI_READ, {"ops": ops})

    def op_addWatch(self, kind, slot):
        mode = self.rng.choice((0, 1, 0, 1, 2))
        return Op(kind, slot, jute.ADD_WATCH, {"path": self.path(), "mode": mode})

    def op_checkWatches(self, kind, slot):
        wtype = self.rng.choice((1, 2, 3, 1, 2, 3, 0))
        return Op(kind, slot, jute.CHECK_WATCHES, {"path": self.path(), "type": wtype})

    def op_removeWatches(self, kind, slot):
        wtype = self.rng.choice((1, 2, 3, 1, 2, 3, 0))
        return Op(kind, slot, jute.REMOVE_WATCHES, {"path": self.path(), "type": wtype})

    def op_auth(self, kind, slot):
        if self.rng.random() < 0.07:
            # Unknown scheme: AUTHFAILED, then the server closes the connection; the session is resumed.
            return Op(kind, slot, jute.AUTH, {"type": 0, "scheme": "foo", "auth": b"x"}, xid=jute.AUTH_XID,
                      after="closes")
        cred = self.rng.choice(CREDS).encode()
        return Op(kind, slot, jute.AUTH, {"type": 0, "scheme": "digest", "auth": cred}, xid=jute.AUTH_XID)

    def op_getEphemerals(self, kind, slot):
        prefix = self.rng.choice((None, "", "/", "/a", "/a/", "/b/c", "/c", "/q", "/a/" + SEQ_PREFIX))
        return Op(kind, slot, jute.GET_EPHEMERALS, {"prefixPath": prefix})

    def op_getAllChildrenNumber(self, kind, slot):
        return Op(kind, slot, jute.GET_ALL_CHILDREN_NUMBER, {"path": self.path(special=0.1)})

    def op_whoAmI(self, kind, slot):
        return Op(kind, slot, jute.WHO_AM_I, {})

    def op_ping(self, kind, slot):
        return Op(kind, slot, jute.PING, {}, xid=jute.PING_XID)

    def op_setWatches(self, kind, slot):
        # relativeZxid "last" is replaced per server by the session's last seen zxid (a zxid is server specific).
        opcode = self.rng.choice((jute.SET_WATCHES, jute.SET_WATCHES2))
        args = {"relativeZxid": self.rng.choice((0, "last"))}
        names = ["dataWatches", "existWatches", "childWatches"]
        if opcode == jute.SET_WATCHES2:
            names += ["persistentWatches", "persistentRecursiveWatches"]
        for name in names:
            args[name] = [self.path(bad=0.0) for _ in range(self.rng.choice((0, 0, 1, 2)))]
        return Op(kind, slot, opcode, args)

    def op_closeSession(self, kind, slot):
        return Op(kind, slot, jute.CLOSE_SESSION, {}, after="reopen")

    def op_reconnect(self, kind, slot):
        # A ping on the old socket, then the session is resumed on a new one (watches die with the old socket).
        return Op(kind, slot, jute.PING, {}, xid=jute.PING_XID, after="resume")

    def op_reconfig(self, kind, slot):
        # A standalone server without reconfigEnabled refuses every reconfig.
        members = self.rng.choice((None, "", "server.2=127.0.0.1:2888:3888;2181"))
        return Op(kind, slot, jute.RECONFIG, {
            "joiningServers": members, "leavingServers": self.rng.choice((None, "1")),
            "newMembers": None, "curConfigId": self.rng.choice((-1, 0)),
        })

    def op_sasl(self, kind, slot):
        # Without SASL configured the server answers with a null token.
        return Op(kind, slot, jute.SASL, {"token": self.rng.choice((None, b"", b"\x01\x02"))})

    def op_topLevelCheck(self, kind, slot):
        # check (13) is only valid inside a multi; alone it is an unknown request and closes the connection.
        return Op(kind, slot, jute.CHECK, {"path": self.path(), "version": -1}, after="closes")

    def op_badOpcode(self, kind, slot):
        # Unknown opcode: UNIMPLEMENTED, then the server closes the connection; the session is resumed.
        return Op(kind, slot, self.rng.choice((99, 10, 0)), {"raw": b""}, after="closes")


def _bisect(cum, x):
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo
