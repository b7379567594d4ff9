"""A recording TCP proxy for the ZooKeeper client protocol (loopback only).

Sits between a client and a real server, forwards bytes unchanged, and cuts
each direction into frames (4-byte big-endian length + payload). The first
client frame of a connection is a ConnectRequest (no RequestHeader) and the
first server frame a ConnectResponse. A connection whose first four bytes are a
four-letter word is not framed: both directions are kept whole.

Replies are paired with their request by xid: -1 is a watch notification, -2 a
ping, -4 auth, -8 the C client's setWatches; any other xid is looked up among
the requests sent on the same connection.
"""

import socket
import struct
import threading
import time

from jutedec import FOUR_LETTER_WORDS

SPECIAL_XIDS = {-2: 11, -4: 100, -8: 101}


class Frame:
    """One recorded frame, in the order it crossed the proxy."""

    def __init__(self, seq, conn, label, role, raw, phase=""):
        self.seq = seq
        self.conn = conn
        self.label = label
        self.phase = phase
        self.role = role          # connect_request, request, connect_response,
        self.raw = raw            # response, notification, fourletter
        self.xid = None
        self.opcode = None
        self.err = None
        self.pair = None          # seq of the request a response answers
        self.direction = "c2s" if role in ("connect_request", "request") else "s2c"

    def __repr__(self):
        return (f"Frame({self.seq} c{self.conn} {self.label} {self.role} "
                f"xid={self.xid} op={self.opcode} err={self.err} {len(self.raw)}B)")


class _Connection:
    def __init__(self, proxy, cid, client, server, label, phase):
        self.proxy = proxy
        self.cid = cid
        self.client = client
        self.server = server
        self.label = label
        self.phase = phase
        self.pending = {}          # xid -> request Frame
        self.fourletter = None     # None unknown, True/False once decided
        self.fl_in = bytearray()
        self.fl_out = bytearray()
        self.seen_connect = {"c2s": False, "s2c": False}
        self.closed = threading.Event()
        self._close_lock = threading.Lock()

    def start(self):
        for src, dst, d in ((self.client, self.server, "c2s"),
                            (self.server, self.client, "s2c")):
            threading.Thread(target=self._pump, args=(src, dst, d),
                             daemon=True).start()

    def close(self):
        with self._close_lock:
            if self.closed.is_set():
                return
            for s in (self.client, self.server):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.closed.set()
            if self.fourletter:
                self.proxy._record(self, "fourletter", bytes(self.fl_in), "c2s")
                self.proxy._record(self, "fourletter", bytes(self.fl_out), "s2c")

    def _pump(self, src, dst, direction):
        buf = bytearray()
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                buf += chunk
                self._frames(buf, direction)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            if self.fourletter is False and buf:
                self.proxy._note(f"conn {self.cid} {direction}: {len(buf)} "
                                 "unframed bytes left at close")
            self.close()

    def _frames(self, buf, direction):
        if self.fourletter is None and direction == "c2s" and len(buf) >= 4:
            self.fourletter = bytes(buf[:4]) in FOUR_LETTER_WORDS
        if self.fourletter:
            (self.fl_in if direction == "c2s" else self.fl_out).extend(buf)
            buf.clear()
            return
        while len(buf) >= 4:
            n = struct.unpack(">i", buf[:4])[0]
            if n < 0 or n > 16 * 1024 * 1024:
                self.proxy._note(f"conn {self.cid} {direction}: bad length {n}")
                buf.clear()
                return
            if len(buf) < 4 + n:
                return
            raw = bytes(buf[:4 + n])
            del buf[:4 + n]
            self._one(raw, direction)

    def _one(self, raw, direction):
        if not self.seen_connect[direction]:
            self.seen_connect[direction] = True
            role = "connect_request" if direction == "c2s" else "connect_response"
            self.proxy._record(self, role, raw, direction)
            return
        if direction == "c2s":
            f = self.proxy._record(self, "request", raw, direction)
            if len(raw) >= 12:
                f.xid, f.opcode = struct.unpack(">ii", raw[4:12])
                self.pending[f.xid] = f
            return
        xid, _zxid, err = struct.unpack(">iqi", raw[4:20])
        if xid == -1:
            f = self.proxy._record(self, "notification", raw, direction)
            f.xid, f.opcode, f.err = xid, 0, err
            return
        f = self.proxy._record(self, "response", raw, direction)
        f.xid, f.err = xid, err
        req = self.pending.pop(xid, None)
        if req is not None:
            f.opcode, f.pair = req.opcode, req.seq
        else:
            f.opcode = SPECIAL_XIDS.get(xid)
            self.proxy._note(f"conn {self.cid}: reply xid {xid} has no request")


class RecordingProxy:
    """Listens on 127.0.0.1:listen_port and forwards to 127.0.0.1:target_port."""

    def __init__(self, listen_port, target_port):
        self.listen_port = listen_port
        self.target_port = target_port
        self.label = "unlabelled"
        self.phase = ""
        self.frames = []
        self.notes = []
        self._lock = threading.Lock()
        self._seq = 0
        self._cid = 0
        self._conns = []
        self._paused = False
        self._sock = None

    # --- control ---

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.listen_port))
        s.listen(64)
        self._sock = s
        threading.Thread(target=self._accept_loop, daemon=True).start()
        return self

    def stop(self):
        self.drop_all()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def address(self):
        return f"127.0.0.1:{self.listen_port}"

    def drop_all(self):
        """Close every live connection, as if the network failed."""
        with self._lock:
            conns = [c for c in self._conns if not c.closed.is_set()]
        for c in conns:
            c.close()
        for c in conns:
            c.closed.wait(5)

    def pause(self):
        """Refuse new connections (accept and close at once) until resume()."""
        self._paused = True

    def resume(self):
        self._paused = False

    def live_connections(self):
        with self._lock:
            return sum(1 for c in self._conns if not c.closed.is_set())

    def wait_quiet(self, idle_s=0.3, timeout_s=10.0):
        """Wait until no frame has been recorded for idle_s seconds."""
        deadline = time.monotonic() + timeout_s
        last = -1
        while time.monotonic() < deadline:
            with self._lock:
                n = self._seq
            if n == last:
                return
            last = n
            time.sleep(idle_s)

    # --- internals ---

    def _accept_loop(self):
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            if self._paused:
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._cid += 1
                conn = _Connection(self, self._cid, client, server, self.label,
                                   self.phase)
                self._conns.append(conn)
            conn.start()

    def _record(self, conn, role, raw, direction):
        with self._lock:
            self._seq += 1
            f = Frame(self._seq, conn.cid, conn.label, role, raw, conn.phase)
            f.direction = direction
            self.frames.append(f)
            return f

    def _note(self, text):
        with self._lock:
            self.notes.append(text)
