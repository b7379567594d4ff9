"""Load and checks for the rolling migration test (tests/migration.rs), on kazoo.

run SDIST OUT PORT ...
    Builds a tree under /mig (persistent nodes, sequential nodes, nodes with a digest ACL, a container with a
    child, ephemerals of an owner session), writes OUT/ready, then runs until OUT/stop exists:
    - one writer per member, preferring that member: sequential creates /mig/w/NAME/s- whose data is a counter,
      recording every acknowledged write with the time its reply came;
    - two lock contenders with kazoo's Lock recipe on /mig/lock, each on its own session, counting how often
      both held it at once;
    - the owner session of /mig/eph/*, which must never see its session lost.
    OUT/progress holds the number of acknowledged writes as it goes.
    After OUT/stop: on each member alone, after a sync, the tree under /mig (data, ephemeral owner, ACLs under
    /mig/acl) must be the same on every member; every acknowledged write must be there with its data; the owner's
    ephemerals must be there, owned by its session, which stayed connected; the lock was never held twice.
    OUT/steps, lines "NAME START END" (Unix seconds) written by the test, name the migration steps: for each,
    the longest time a writer went without an acknowledged write, and the longest time no writer got one, are
    printed. Exits non-zero with the reason when a check fails.
"""

import json
import os
import sys
import threading
import time

AUTH = ("digest", "mig:secret")
DIRS = 40
PER_DIR = 50
SEQUENTIAL = 200
WITH_ACL = 50
EPHEMERALS = 20


def kazoo(sdist):
    sys.path.insert(0, sdist)
    from kazoo.client import KazooClient
    from kazoo import exceptions
    from kazoo.security import make_digest_acl
    return KazooClient, exceptions, make_digest_acl


def client(KazooClient, ports, timeout=6.0):
    hosts = ",".join("127.0.0.1:%s" % p for p in ports)
    c = KazooClient(hosts=hosts, timeout=timeout, randomize_hosts=False, auth_data=[AUTH],
                    connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1.0})
    c.start(timeout=60)
    return c


def prefer(ports, i):
    return ports[i:] + ports[:i]


def populate(c, make_digest_acl):
    c.ensure_path("/mig/w")
    pending = []
    for d in range(DIRS):
        pending.append(c.create_async("/mig/data/d%02d" % d, b"dir", makepath=True))
    for p in pending:
        p.get(timeout=30)
    pending = []
    for d in range(DIRS):
        for n in range(PER_DIR):
            pending.append(c.create_async("/mig/data/d%02d/n%03d" % (d, n), ("value-%d-%d" % (d, n)).encode()))
    c.ensure_path("/mig/seq")
    for n in range(SEQUENTIAL):
        pending.append(c.create_async("/mig/seq/s-", str(n).encode(), sequence=True))
    acl = [make_digest_acl("mig", "secret", all=True)]
    c.create("/mig/acl", b"", acl=acl)
    for n in range(WITH_ACL):
        pending.append(c.create_async("/mig/acl/a%03d" % n, b"secret-%d" % n, acl=acl))
    # kazoo has no call for a container: CREATE_CONTAINER (opcode 19) is CREATE2's body with the CONTAINER flag.
    from kazoo.protocol.serialization import Create2
    from kazoo.security import OPEN_ACL_UNSAFE

    class CreateContainer(Create2):
        type = 19

    done = c.handler.async_result()
    c._call(CreateContainer("/mig/container", b"", OPEN_ACL_UNSAFE, 4), done)
    done.get(timeout=30)
    pending.append(c.create_async("/mig/container/child", b"keeps the container"))
    for p in pending:
        p.get(timeout=30)


class Writer:
    def __init__(self, name):
        self.name = name
        self.acked = []  # [counter, path, time]
        self.failed = 0
        self.error = None


def write(KazooClient, ports, w, stop):
    try:
        c = client(KazooClient, ports)
        base = "/mig/w/%s" % w.name
        c.ensure_path(base)
        n = 0
        while not stop.is_set():
            n += 1
            try:
                path = c.create_async(base + "/s-", str(n).encode(), sequence=True).get(timeout=20)
                w.acked.append([n, path, time.time()])
            except Exception:
                # Not acknowledged: lost connection, no answer in time.
                w.failed += 1
                time.sleep(0.05)
        c.stop()
        c.close()
    except Exception as e:
        w.error = repr(e)


class LockState:
    def __init__(self):
        self.mutex = threading.Lock()
        self.holders = 0
        self.acquired = 0
        self.twice = []
        self.errors = []


def contend(KazooClient, ports, name, state, stop):
    try:
        c = client(KazooClient, ports)
        lock = c.Lock("/mig/lock", name)
        while not stop.is_set():
            try:
                if not lock.acquire(timeout=5):
                    continue
            except Exception:
                time.sleep(0.1)
                continue
            with state.mutex:
                state.holders += 1
                state.acquired += 1
                if state.holders > 1:
                    state.twice.append((name, time.time()))
            time.sleep(0.1)
            with state.mutex:
                state.holders -= 1
            while True:
                try:
                    lock.release()
                    break
                except Exception:
                    if stop.is_set():
                        break
                    time.sleep(0.1)
        c.stop()
        c.close()
    except Exception as e:
        state.errors.append("%s: %r" % (name, e))


def dump(c):
    tree = {}
    todo = ["/mig"]
    while todo:
        p = todo.pop()
        data, stat = c.get(p)
        entry = [data.decode("latin-1"), stat.ephemeralOwner]
        if p.startswith("/mig/acl"):
            entry.append(sorted(repr(a) for a in c.get_acls(p)[0]))
        tree[p] = entry
        for ch in c.get_children(p):
            todo.append(p + "/" + ch)
    return tree


def windows(out, writers):
    path = os.path.join(out, "steps")
    if not os.path.exists(path):
        return []
    lines = []
    every = sorted(t for w in writers for _, _, t in w.acked)
    for line in open(path):
        name, start, end = line.split()
        start, end = float(start), float(end)

        def longest(times):
            # The longest stretch from the step's start without an acknowledged write; one still open at the
            # step's end lasts until the next acknowledged write.
            later = [t for t in times if t >= end]
            inside = [start] + [t for t in times if start < t < end] + [later[0] if later else end]
            return max(b - a for a, b in zip(inside, inside[1:]))

        per_writer = max(longest([t for _, _, t in w.acked]) for w in writers)
        lines.append("%s: %.1f s, longest without a write: %.1f s on one writer, %.1f s on all"
                     % (name, end - start, per_writer, longest(every)))
    return lines


def run(sdist, out, ports):
    KazooClient, exceptions, make_digest_acl = kazoo(sdist)
    owner_lost = []
    owner = client(KazooClient, ports)
    owner.add_listener(lambda s: owner_lost.append(time.time()) if s == "LOST" else None)
    populate(owner, make_digest_acl)
    owner.ensure_path("/mig/eph")
    for n in range(EPHEMERALS):
        owner.create("/mig/eph/e%02d" % n, b"owned", ephemeral=True)
    owner_session = owner.client_id[0]
    stop = threading.Event()
    writers = [Writer("w%d" % i) for i in range(len(ports))]
    lock = LockState()
    threads = [threading.Thread(target=write, args=(KazooClient, prefer(ports, i), w, stop), daemon=True)
               for i, w in enumerate(writers)]
    threads += [threading.Thread(target=contend, args=(KazooClient, prefer(ports, i + 1), "l%d" % i, lock, stop),
                                 daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    open(os.path.join(out, "ready"), "w").close()
    while not os.path.exists(os.path.join(out, "stop")):
        with open(os.path.join(out, "progress.tmp"), "w") as f:
            f.write(str(sum(len(w.acked) for w in writers)))
        os.replace(os.path.join(out, "progress.tmp"), os.path.join(out, "progress"))
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    problems = [w.name + ": " + w.error for w in writers if w.error] + lock.errors
    if any(t.is_alive() for t in threads):
        problems.append("a load thread did not stop")
    trees = {}
    for p in ports:
        c = client(KazooClient, [p])
        c.sync("/mig")
        trees[p] = dump(c)
        c.stop()
        c.close()
    first = trees[ports[0]]
    for p in ports[1:]:
        other = trees[p]
        if other != first:
            problems.append("members on ports %s and %s differ: only on the first %s, only on the second %s, "
                            "different at %s" % (ports[0], p, sorted(set(first) - set(other))[:10],
                                                 sorted(set(other) - set(first))[:10],
                                                 sorted(k for k in set(first) & set(other)
                                                        if first[k] != other[k])[:10]))
    acked = 0
    for w in writers:
        for n, path, _ in w.acked:
            if first.get(path, [None])[0] != str(n):
                problems.append("acknowledged write %s=%s of %s is %r" % (path, n, w.name, first.get(path)))
        acked += len(w.acked)
    for n in range(EPHEMERALS):
        entry = first.get("/mig/eph/e%02d" % n)
        if entry is None or entry[1] != owner_session:
            problems.append("ephemeral /mig/eph/e%02d of the owner session 0x%x is %r" % (n, owner_session, entry))
    if owner_lost:
        problems.append("the owner session was lost at %s" % owner_lost)
    if owner.state != "CONNECTED":
        problems.append("the owner session is %s at the end" % owner.state)
    if lock.twice:
        problems.append("the lock was held twice: %s" % lock.twice)
    if lock.acquired == 0:
        problems.append("the lock was never acquired")
    for line in windows(out, writers):
        print(line)
    print("%d nodes under /mig on %d members; %d writes acknowledged, %d found, %d attempts not acknowledged; "
          "lock acquired %d times; owner session 0x%x kept its %d ephemerals"
          % (len(first), len(ports), acked, acked - sum(1 for x in problems if x.startswith("acknowledged")),
             sum(w.failed for w in writers), lock.acquired, owner_session, EPHEMERALS))
    owner.stop()
    owner.close()
    if problems:
        print("FAILED:\n" + "\n".join(problems[:30]))
        sys.stdout.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        raise SystemExit("unknown command %s" % sys.argv[1])
