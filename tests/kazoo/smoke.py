"""kazoo against a running ferrokeeper: the basic operations and watches.

Usage: python3 smoke.py PORT. Exits non-zero with a message on the first failure.
"""

import sys
import threading

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def wait(event, what):
    expect(event.wait(5), "no %s event within 5 s" % what)


def main(port):
    zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=10)
    zk.start(timeout=10)
    try:
        expect(zk.server_version()[:2] == (3, 9), "server_version %r" % (zk.server_version(),))

        zk.create("/smoke", b"v1")
        data, stat = zk.get("/smoke")
        expect(data == b"v1" and stat.version == 0 and stat.dataLength == 2, "get %r %r" % (data, stat))
        try:
            zk.create("/smoke", b"again")
            expect(False, "create of an existing node succeeded")
        except NodeExistsError:
            pass

        changed = threading.Event()
        events = []
        zk.get("/smoke", watch=lambda e: (events.append(e), changed.set()))
        stat = zk.set("/smoke", b"v2", version=0)
        expect(stat.version == 1, "set version %r" % (stat,))
        wait(changed, "data")
        expect(events[0].type == "CHANGED" and events[0].path == "/smoke", "event %r" % (events[0],))
        try:
            zk.set("/smoke", b"v3", version=0)
            expect(False, "set with a stale version succeeded")
        except BadVersionError:
            pass

        child_event = threading.Event()
        expect(zk.get_children("/smoke", watch=lambda e: child_event.set()) == [], "children not empty")
        zk.create("/smoke/a", b"")
        seq = zk.create("/smoke/s-", b"", sequence=True)
        expect(seq == "/smoke/s-0000000001", "sequential path %r" % seq)
        eph = zk.create("/smoke/e", b"", ephemeral=True)
        wait(child_event, "child")
        children = sorted(zk.get_children("/smoke"))
        expect(children == ["a", "e", "s-0000000001"], "children %r" % children)
        expect(zk.exists(eph).ephemeralOwner == zk.client_id[0], "ephemeral owner")

        try:
            zk.delete("/smoke")
            expect(False, "delete of a node with children succeeded")
        except NotEmptyError:
            pass
        created = threading.Event()
        expect(zk.exists("/smoke/later", watch=lambda e: created.set()) is None, "exists on a missing node")
        zk.create("/smoke/later")
        wait(created, "exists")
        for child in zk.get_children("/smoke"):
            zk.delete("/smoke/" + child)
        zk.delete("/smoke")
        expect(zk.exists("/smoke") is None, "deleted node still exists")
        try:
            zk.get("/smoke")
            expect(False, "get of a deleted node succeeded")
        except NoNodeError:
            pass
    finally:
        zk.stop()
        zk.close()
    print("kazoo smoke test passed")


if __name__ == "__main__":
    main(int(sys.argv[1]))
