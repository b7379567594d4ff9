"""Start kazoo's test cluster once, through the java shim, and wait for its port.

Run by the kazoo judge before the suite: the cluster is built exactly as the
suite builds it (same environment, same zoo.cfg), so a server that cannot start
from kazoo's zoo.cfg is reported at once instead of making every test wait for
a connection that never comes. Exit status 0 when every member's client
port opened within the time given, 1 when one did not, 3 when the harness
itself could not be set up.
"""

import socket
import sys
import time



def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def srvr_mode(port):
    """The Mode line of a member's `srvr` answer ('' when there is none)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
            sock.sendall(b"srvr")
            answer = b""
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
    except OSError:
        return ""
    for line in answer.decode(errors="replace").splitlines():
        if line.startswith("Mode: "):
            return line[len("Mode: "):].strip()
    return ""


def print_modes(cluster, deadline):
    """Once the members have elected (one leads, the others follow), print `leader: member N` and every
    member's mode; the judge puts the leader into its row."""
    modes = []
    while time.monotonic() < deadline:
        modes = [srvr_mode(server.client_port) for server in cluster]
        if modes.count("leader") == 1 and all(m in ("leader", "follower") for m in modes):
            print(f"leader: member {modes.index('leader') + 1}")
            break
        time.sleep(0.2)
    print("modes: " + ", ".join(f"member {i + 1} {m or '?'}" for i, m in enumerate(modes)))


def main():
    wait = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    try:
        from kazoo.testing.harness import get_global_cluster

        cluster = get_global_cluster()
    except Exception as err:  # a broken harness, not a server that does not start
        print(f"cannot build kazoo's test cluster: {err!r}")
        return 3
    cluster.start()
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if all(port_open(server.client_port) for server in cluster):
                print("kazoo cluster is serving")
                if len(list(cluster)) > 1:
                    print_modes(cluster, deadline)
                return 0
            time.sleep(0.2)
        print(f"kazoo cluster did not open its client port within {wait:.0f}s")
        return 1
    finally:
        cluster.terminate()


if __name__ == "__main__":
    sys.exit(main())
