"""A raw ZooKeeper client connection: framing, handshake, one request at a time.

Every frame is `int32 length` + payload in both directions (ClientCnxn / NIOServerCnxn). The judge talks to one
server through several of these, sends one request, reads frames until that request's reply, and keeps every
notification (xid -1) that arrives on the way with its position relative to the reply. Nothing is interpreted
beyond the header: the caller decodes the bytes.
"""

import socket
import struct

import jute

FRAME_MAX = 0xFFFFF + 0xFFFFF  # jute.maxbuffer plus the default extrasize; a longer frame is a broken stream
_LEN = struct.Struct(">i")


class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


class TimedOut(Exception):
    """No complete frame arrived within the read timeout."""


class Conn:
    """One TCP connection to a ZooKeeper server, with a receive buffer."""

    def __init__(self, host, port, timeout_s):
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rbuf = bytearray()
        self.closed = False

    def send_frame(self, payload):
        if self.closed:
            raise Closed("connection already closed")
        try:
            self.sock.sendall(_LEN.pack(len(payload)) + payload)
        except OSError as e:
            self.close()
            raise Closed(str(e)) from e

    def _fill(self, need):
        while len(self.rbuf) < need:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout as e:
                raise TimedOut("read timed out") from e
            except OSError as e:
                self.close()
                raise Closed(str(e)) from e
            if not chunk:
                self.close()
                raise Closed("EOF")
            self.rbuf += chunk

    def read_frame(self):
        if self.closed and len(self.rbuf) < 4:
            raise Closed("connection already closed")
        self._fill(4)
        n = _LEN.unpack_from(self.rbuf)[0]
        if n < 0 or n > FRAME_MAX:
            self.close()
            raise Closed(f"bad frame length {n}")
        self._fill(4 + n)
        frame = bytes(self.rbuf[4:4 + n])
        del self.rbuf[:4 + n]
        return frame

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass


def java_session_password(session_id):
    """ZooKeeperServer.generatePasswd: 16 bytes of java.util.Random(sessionId ^ 0xB3415C00).nextBytes."""
    mask = (1 << 48) - 1
    seed = ((session_id ^ 0xB3415C00) ^ 0x5DEECE66D) & mask
    out = bytearray()
    for _ in range(4):
        seed = (seed * 0x5DEECE66D + 0xB) & mask
        r = seed >> 16
        for _ in range(4):  # nextBytes takes each int's bytes low byte first
            out.append(r & 0xFF)
            r >>= 8
    return bytes(out)


def handshake(host, port, timeout_s, session_id=0, passwd=b"\0" * 16, last_zxid=0, session_timeout_ms=30000):
    """Open a connection and send a ConnectRequest. Returns (conn, raw response payload, decoded response)."""
    conn = Conn(host, port, timeout_s)
    conn.send_frame(jute.encode_connect(session_id, passwd, last_zxid, session_timeout_ms))
    raw = conn.read_frame()
    return conn, raw, jute.decode_connect(raw)


def send_request(conn, xid, opcode, body):
    """Send RequestHeader{xid, opcode} + body. Returns None, or "closed" if the connection is gone."""
    try:
        conn.send_frame(jute.encode_header(xid, opcode) + body)
        return None
    except Closed:
        return "closed"


def read_reply(conn):
    """Read frames until one that is not a notification.

    Returns (reply_frame or None, notification frames read before it, error) with error None, "closed" or
    "timeout". A frame with an unexpected xid is still returned as the reply: the caller compares the xid.
    """
    events = []
    try:
        while True:
            frame = conn.read_frame()
            if len(frame) >= 4 and _LEN.unpack_from(frame)[0] == jute.NOTIFICATION_XID:
                events.append(frame)
                continue
            return frame, events, None
    except Closed:
        return None, events, "closed"
    except TimedOut:
        return None, events, "timeout"


def wait_closed(conn, timeout_s):
    """After a reply the server is expected to close the connection on: read until EOF or timeout_s.

    Returns (closed, frames read meanwhile). A server that answers something else first is visible in the frames.
    """
    frames = []
    conn.sock.settimeout(timeout_s)
    try:
        while True:
            frames.append(conn.read_frame())
    except Closed:
        return True, frames
    except TimedOut:
        return False, frames
