"""Drive the kazoo (Python) client through the recording proxy."""

import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import (AuthFailedError, BadArgumentsError,
                              BadVersionError, InvalidACLError, KazooException,
                              NoAuthError, NodeExistsError, NoNodeError,
                              NotEmptyError)
from kazoo.security import make_acl, make_digest_acl


class Events:
    """Collects watch callbacks so each step can wait for its event."""

    def __init__(self):
        self.cond = threading.Condition()
        self.items = []

    def __call__(self, event):
        with self.cond:
            self.items.append((event.type, event.path))
            self.cond.notify_all()

    def expect(self, etype, path, timeout_s=10):
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while (etype, path) not in self.items:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"no {etype} event for {path}: {self.items}")
                self.cond.wait(left)
            self.items.remove((etype, path))


def expect_error(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type:
        return
    raise RuntimeError(f"{fn.__name__}{args} did not raise {exc_type.__name__}")


def _creates_and_watches(zk, ev):
    zk.create("/kz", b"kazoo")
    zk.create("/kz/eph", b"e", ephemeral=True)
    zk.create("/kz/seq-", b"s", sequence=True)
    zk.create("/kz/eseq-", b"", ephemeral=True, sequence=True)
    zk.create("/kz/c2", b"c2", include_data=True)
    expect_error(NodeExistsError, zk.create, "/kz", b"again")

    assert zk.exists("/kz/later", watch=ev) is None
    zk.create("/kz/later", b"l")
    ev.expect("CREATED", "/kz/later")
    zk.exists("/kz")

    zk.get("/kz", watch=ev)
    zk.set("/kz", b"kazoo2")
    ev.expect("CHANGED", "/kz")

    zk.get_children("/kz/c2", watch=ev)
    zk.create("/kz/c2/kid", b"k")
    ev.expect("CHILD", "/kz/c2")
    zk.get_children("/kz", include_data=True)

    zk.exists("/kz/c2/kid", watch=ev)
    zk.delete("/kz/c2/kid")
    ev.expect("DELETED", "/kz/c2/kid")
    zk.sync("/kz")


def _acls_and_errors(zk):
    zk.get_acls("/kz")
    zk.create("/kz/acl", b"acl")
    zk.set_acls("/kz/acl", [make_acl("ip", "127.0.0.1", all=True)])
    zk.set_acls("/kz/acl", [make_acl("world", "anyone", read=True, write=True)])
    zk.create("/kz/secret", b"s", acl=[make_digest_acl("kb", "pw", all=True)])
    expect_error(NoAuthError, zk.get, "/kz/secret")
    expect_error(InvalidACLError, zk.create, "/kz/badacl", b"",
                 acl=[make_acl("world", "nobody", all=True)])
    expect_error(NoNodeError, zk.get, "/kz/nope")
    expect_error(BadVersionError, zk.set, "/kz", b"v", version=17)
    expect_error(NotEmptyError, zk.delete, "/kz")
    expect_error(BadArgumentsError, zk.delete, "/zookeeper")
    zk.add_auth("digest", "kb:pw")
    zk.get("/kz/secret")
    zk.get_acls("/kz/secret")
    zk.set_acls("/kz/secret", [make_digest_acl("kb", "pw", all=True),
                               make_acl("world", "anyone", read=True)], version=0)


def _transactions(zk):
    tx = zk.transaction()
    tx.create("/kz/t1", b"t")
    tx.set_data("/kz/t1", b"t2")
    tx.check("/kz/t1", 1)
    tx.create("/kz/t1/e", b"", ephemeral=True)
    tx.delete("/kz/t1/e")
    tx.commit()
    tx = zk.transaction()
    tx.create("/kz/t2", b"t")
    tx.check("/kz/t1", 9)
    tx.delete("/kz/t1")
    results = tx.commit()
    if not any(isinstance(r, Exception) for r in results):
        raise RuntimeError("failing transaction succeeded")


def run(proxy, log):
    proxy.label = "kazoo"
    zk = KazooClient(hosts=proxy.address(), timeout=4.0)
    zk.start()
    ev = Events()
    _creates_and_watches(zk, ev)
    _acls_and_errors(zk)
    _transactions(zk)
    try:
        zk.reconfig(joining="server.5=127.0.0.1:24901:24902;24903",
                    leaving=None, new_members=None)
    except KazooException as e:
        log(f"kazoo reconfig refused: {e!r}")
    for word in (b"ruok", b"isro", b"srvr"):
        log(f"kazoo 4lw {word!r}: {zk.command(word)!r}")
    log("kazoo waiting for pings")
    time.sleep(3.5)
    zk.stop()
    zk.close()
    proxy.wait_quiet()

    zk = KazooClient(hosts=proxy.address(), timeout=4.0)
    zk.start()
    try:
        zk.add_auth("nosuchscheme", "whatever")
    except AuthFailedError:
        log("kazoo auth with an unknown scheme failed as planned")
    proxy.wait_quiet()
    zk.stop()
    zk.close()
    proxy.wait_quiet()
