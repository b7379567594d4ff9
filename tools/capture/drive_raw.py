"""Hand-built frames for what no installed client sends.

Everything here is marked "handmade" in the manifest: the short (pre-3.3)
ConnectRequest without the readOnly byte, an unknown opcode, and the
checkWatches/removeWatches error path (the Java client refuses locally before
sending when it holds no matching watcher, so the server's NOWATCHER reply is
only reachable by hand).
"""

import socket
import struct
import time


def _frame(payload):
    return struct.pack(">i", len(payload)) + payload


def _ustring(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def _read_frame(sock):
    head = _read_exact(sock, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">i", head)
    return head + _read_exact(sock, n)


def _read_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            return None if not out else out
        out += chunk
    return out


def _connect(address, with_read_only):
    host, port = address.split(":")
    sock = socket.create_connection((host, int(port)), 5)
    body = struct.pack(">iqiq", 0, 0, 4000, 0) + struct.pack(">i", 16) + bytes(16)
    if with_read_only:
        body += b"\x00"
    sock.sendall(_frame(body))
    resp = _read_frame(sock)
    if resp is None:
        raise RuntimeError("no ConnectResponse")
    return sock


def _call(sock, xid, opcode, body=b""):
    sock.sendall(_frame(struct.pack(">ii", xid, opcode) + body))
    return _read_frame(sock)


def _create_body(path, flags, ttl=None):
    acl = struct.pack(">ii", 1, 31) + _ustring("world") + _ustring("anyone")
    body = _ustring(path) + struct.pack(">i", 1) + b"x" + acl + struct.pack(">i", flags)
    if ttl is not None:
        body += struct.pack(">q", ttl)
    return body


def run_ttl(proxy, log):
    """On the extendedTypesEnabled server: TTL requests the clients refuse to send."""
    proxy.label = "handmade"
    sock = _connect(proxy.address(), with_read_only=True)
    for xid, (op, body) in enumerate([
            (21, _create_body("/h-ttl-zero", 5, ttl=0)),
            (21, _create_body("/h-ttl-huge", 5, ttl=1 << 40)),
            (1, _create_body("/h-ttl-flags-no-ttl", 5)),
            (1, _create_body("/h-bad-flags", 9)),
    ], start=1):
        resp = _call(sock, xid, op, body)
        log(f"handmade opcode {op}: {resp.hex() if resp else None}")
    _call(sock, 5, -11)
    sock.close()
    proxy.wait_quiet()


def run(proxy, log):
    proxy.label = "handmade"
    # 1. short ConnectRequest, then a read and an orderly close
    sock = _connect(proxy.address(), with_read_only=False)
    _call(sock, 1, 4, _ustring("/") + b"\x00")
    _call(sock, 2, -11)
    sock.close()
    proxy.wait_quiet()

    # 2. removeWatches/checkWatches with no watch set -> NOWATCHER
    sock = _connect(proxy.address(), with_read_only=True)
    _call(sock, 1, 17, _ustring("/") + struct.pack(">i", 2))
    _call(sock, 2, 18, _ustring("/") + struct.pack(">i", 3))
    # 3. an opcode the server does not know -> UNIMPLEMENTED, then close
    resp = _call(sock, 3, 99)
    log(f"handmade unknown opcode reply: {resp.hex() if resp else None}")
    time.sleep(0.5)
    sock.close()
    proxy.wait_quiet()
