"""Writers and checks for the fault tests (tests/ensemble_faults.rs), on kazoo.

write SDIST OUT ROOT NAME=PORT,PORT,... ...
    One client per NAME, connected to its ports in the order given (the first is the member it prefers).
    Each creates sequential nodes ROOT/NAME/s- whose data is a counter that goes up by one per attempt, one
    request at a time, and records the writes whose reply it got (acknowledged). Runs until the file OUT/stop
    exists; OUT/NAME.progress holds the number of acknowledged writes as it goes, OUT/NAME.json the result.

probe SDIST OUT PATH PORT ...
    Two clients on each member alone. Once connected it writes OUT/ready and waits for OUT/go; then one client
    creates PATH-PORT and the other reads PATH-PORT while it stays connected. Meant for members about to lose their
    quorum: it fails if a create is acknowledged or a read sees one, and when a client is still connected
    after 90 seconds (a member without a quorum closes its clients' connections). It ends once every client
    is disconnected.

check SDIST ROOT OUT|- PORT ...
    On each member alone, after a sync: the tree under ROOT (paths and data) must be the same on every member;
    with OUT, every acknowledged write in OUT/*.json must be there with its data, and under each ROOT/NAME the
    counters must increase in the order of the sequence numbers (each client's writes in the order it made
    them).
"""

import json
import os
import sys
import threading
import time


def kazoo(sdist):
    sys.path.insert(0, sdist)
    from kazoo.client import KazooClient
    from kazoo import exceptions
    return KazooClient, exceptions


def client(KazooClient, ports, timeout=6.0):
    hosts = ",".join("127.0.0.1:%s" % p for p in ports)
    c = KazooClient(hosts=hosts, timeout=timeout, randomize_hosts=False,
                    connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1.0})
    c.start(timeout=60)
    return c


def writer(KazooClient, exceptions, out, root, name, ports, errors):
    acked = []
    failed = 0
    try:
        c = client(KazooClient, ports)
        base = "%s/%s" % (root, name)
        deadline = time.time() + 60
        while True:
            try:
                c.ensure_path(base)
                break
            except exceptions.KazooException:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        n = 0
        stop = os.path.join(out, "stop")
        while not os.path.exists(stop):
            n += 1
            try:
                path = c.create_async(base + "/s-", str(n).encode(), sequence=True).get(timeout=20)
                acked.append([n, path])
                with open(os.path.join(out, name + ".progress.tmp"), "w") as f:
                    f.write(str(len(acked)))
                os.replace(os.path.join(out, name + ".progress.tmp"), os.path.join(out, name + ".progress"))
            except Exception:
                # Not acknowledged: lost connection, expired session, no answer in time.
                failed += 1
                time.sleep(0.05)
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump({"acked": acked, "failed": failed, "attempts": n}, f)
        try:
            c.stop()
            c.close()
        except Exception:
            pass
    except Exception as e:
        errors.append("%s: %r" % (name, e))


def write(sdist, out, root, specs):
    KazooClient, exceptions = kazoo(sdist)
    errors = []
    threads = []
    for spec in specs:
        name, ports = spec.split("=")
        t = threading.Thread(target=writer, daemon=True,
                             args=(KazooClient, exceptions, out, root, name, ports.split(","), errors))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    if errors:
        print("writers failed: %s" % errors)
        sys.stdout.flush()
        os._exit(1)
    print("writers done")
    sys.stdout.flush()
    os._exit(0)


def dump(c, root):
    tree = {}
    todo = [root]
    while todo:
        p = todo.pop()
        data, _ = c.get(p)
        tree[p] = data.decode("latin-1")
        for ch in c.get_children(p):
            todo.append(p.rstrip("/") + "/" + ch)
    return tree


def check(sdist, root, out, ports):
    KazooClient, _ = kazoo(sdist)
    trees = {}
    for p in ports:
        c = client(KazooClient, [p])
        c.sync(root)
        trees[p] = dump(c, root)
        c.stop()
        c.close()
    first = ports[0]
    for p in ports[1:]:
        if trees[p] != trees[first]:
            a, b = trees[first], trees[p]
            only_a = sorted(set(a) - set(b))[:10]
            only_b = sorted(set(b) - set(a))[:10]
            differ = sorted(k for k in set(a) & set(b) if a[k] != b[k])[:10]
            raise SystemExit("members on ports %s and %s differ: only on the first %s, only on the second %s, "
                             "data differs at %s" % (first, p, only_a, only_b, differ))
    tree = trees[first]
    acked_total = 0
    if out != "-":
        for fname in sorted(os.listdir(out)):
            if not fname.endswith(".json"):
                continue
            name = fname[:-5]
            with open(os.path.join(out, fname)) as f:
                result = json.load(f)
            for n, path in result["acked"]:
                if tree.get(path) != str(n):
                    raise SystemExit("acknowledged write %s=%s of %s is %r on every member"
                                     % (path, n, name, tree.get(path)))
            acked_total += len(result["acked"])
            base = "%s/%s/" % (root, name)
            children = sorted((k for k in tree if k.startswith(base)), key=lambda k: int(k[len(base) + 2:]))
            values = [int(tree[k]) for k in children]
            for i in range(1, len(values)):
                if values[i] <= values[i - 1]:
                    raise SystemExit("%s: counter %d at %s follows %d at %s: out of order"
                                     % (name, values[i], children[i], values[i - 1], children[i - 1]))
    print("converged: %d nodes under %s on %d members, %d acknowledged writes present"
          % (len(tree), root, len(ports), acked_total))


def probe(sdist, out, path, ports):
    KazooClient, _ = kazoo(sdist)
    # A writer and a reader per member: a session's reads wait for its writes, another session's do not.
    writers = {p: client(KazooClient, [p]) for p in ports}
    readers = {p: client(KazooClient, [p]) for p in ports}
    open(os.path.join(out, "ready"), "w").close()
    while not os.path.exists(os.path.join(out, "go")):
        time.sleep(0.05)
    writes = {p: c.create_async("%s-%s" % (path, p), b"unacknowledged") for p, c in writers.items()}
    deadline = time.time() + 90
    reads = 0
    while True:
        for p in ports:
            if writes[p].ready() and writes[p].successful():
                raise SystemExit("a create on the member on port %s was acknowledged: %s" % (p, writes[p].get()))
            if readers[p].state == "CONNECTED":
                try:
                    if readers[p].exists_async("%s-%s" % (path, p)).get(timeout=5) is not None:
                        raise SystemExit("the member on port %s shows a write it did not acknowledge" % p)
                    reads += 1
                except Exception:
                    # Lost connection or no answer in time (SystemExit is not an Exception).
                    pass
        clients = list(writers.values()) + list(readers.values())
        # A create still queued in kazoo when its connection dropped is never sent while the member refuses
        # connections: not acknowledged either.
        if all(c.state != "CONNECTED" for c in clients):
            break
        if time.time() > deadline:
            states = {p: (writers[p].state, readers[p].state, writes[p].ready()) for p in ports}
            raise SystemExit("still connected or waiting after 90 s: %s" % states)
        time.sleep(0.05)
    outcome = {p: repr(writes[p].exception) if writes[p].ready() else "no answer" for p in ports}
    print("no acknowledgement without a quorum: %s; %d reads by other sessions saw nothing" % (outcome, reads))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif sys.argv[1] == "probe":
        probe(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        raise SystemExit("unknown command %s" % sys.argv[1])
