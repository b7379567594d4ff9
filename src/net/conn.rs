//! One client connection: a reader that frames and decodes, a writer that drains the server's replies, and a
//! watchdog for connections that never finish the handshake, all in one task.
//!
//! Rules taken from `NIOServerCnxn`: a length prefix that is negative or over `jute.maxbuffer` closes the
//! connection; the first four bytes may be a four-letter word instead of a length; after the ConnectRequest
//! nothing more is read until the ConnectResponse has gone out (`disableRecv` in `processConnectRequest`);
//! connections without a session are dropped after `nio.sessionlessCnxnTimeout`.
//!
//! Back-pressure: `globalOutstandingLimit` applies across the server as in `ZooKeeperServer.shouldThrottle`:
//! while more requests than the limit are in process on the whole server, a connection with a request of
//! its own unanswered is not read from, until its replies bring it to none (a connection with none may still
//! send one, so every client gets a turn). On top of that, a connection with that many replies not yet
//! written to its socket is not read from either: a client that does not read its replies holds at most the
//! limit of them (Apache ZooKeeper queues them without bound). Replies queued for a client that does not read
//! are capped by the server as well (see `ConnHandle::send`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use jute::frame::{check_frame, four_letter_word, stmk_mask, FourLetter, FrameCheck};
use jute::records::proto::{ConnectRequest, RequestHeader};
use jute::request::Request;
use jute::Decoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};

use super::{Decoded, Inbound, NetCounters, Outbound};
use crate::types::ConnId;

/// The xid of watch notifications, the only frames that answer no request.
const NOTIFICATION_XID: i32 = -1;
/// Bytes read from the socket at a time when no larger frame is pending.
const READ_CHUNK: usize = 16 * 1024;
/// Requests sent to the server task in one message, at most. The requests of one read go together, as a
/// message on the bounded channel costs more than decoding a small request.
const REQUESTS_PER_MESSAGE_MAX: usize = 64;

/// Per-connection limits, from the server configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// `jute.maxbuffer`: the largest frame payload accepted.
    pub max_frame_bytes: usize,
    /// globalOutstandingLimit: requests in process on the server past which a connection waiting for a reply
    /// is not read from, and replies unwritten past which its connection is not read from.
    pub outstanding_max: usize,
    /// `nio.sessionlessCnxnTimeout`.
    pub handshake_timeout: Duration,
}

/// State the connection task and the server task both see.
#[derive(Debug, Default)]
pub struct ConnShared {
    queued_bytes: AtomicUsize,
    queued_messages: AtomicUsize,
    reading: AtomicBool,
}

/// The server's end of a connection: queue bytes, close, read its counters.
#[derive(Debug)]
pub struct ConnHandle {
    tx: mpsc::UnboundedSender<Outbound>,
    shared: Arc<ConnShared>,
}

impl ConnHandle {
    /// A handle and the receiving end that the connection task drains.
    pub fn new() -> (ConnHandle, mpsc::UnboundedReceiver<Outbound>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(ConnShared::default());
        (ConnHandle { tx, shared }, rx)
    }

    /// Queues bytes and returns how many bytes are now queued and not yet written. The channel has no bound
    /// of its own so that the server task never waits on one client; the caller caps the returned figure.
    pub fn send(&self, bytes: Bytes) -> usize {
        let len = bytes.len();
        let queued = self.shared.queued_bytes.fetch_add(len, Ordering::AcqRel) + len;
        self.shared.queued_messages.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(Outbound::Bytes(bytes)).is_err() {
            // The connection task is gone; its Closed message is on the way.
            self.shared.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            self.shared.queued_messages.fetch_sub(1, Ordering::AcqRel);
        }
        queued
    }

    /// Closes after everything queued has been written.
    pub fn close(&self) {
        let _ = self.tx.send(Outbound::Close);
    }

    /// Closes now, dropping what is queued.
    pub fn abort(&self) {
        let _ = self.tx.send(Outbound::Abort);
    }

    /// Bytes queued and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.shared.queued_bytes.load(Ordering::Acquire)
    }

    /// Messages queued and not yet written (`queued=` in `stat` and `cons`).
    pub fn queued_messages(&self) -> usize {
        self.shared.queued_messages.load(Ordering::Acquire)
    }

    /// True while the connection is being read from (the interest-ops bit in `stat` and `cons`).
    pub fn is_reading(&self) -> bool {
        self.shared.reading.load(Ordering::Acquire)
    }
}

/// Why a connection ended.
#[derive(Debug)]
enum CloseReason {
    PeerClosed,
    ReadError(std::io::Error),
    WriteError(std::io::Error),
    FrameLength(i32),
    BadConnect(jute::Error),
    BadHeader(jute::Error),
    TelnetClose,
    HandshakeTimeout,
    ClosedByServer,
    Aborted,
    ServerGone,
}

/// Back-pressure state between the reader and the writer of one connection.
#[derive(Debug, Default)]
struct Flow {
    /// Requests (the ConnectRequest included) forwarded and not yet answered.
    outstanding: AtomicUsize,
    /// The ConnectResponse has been written.
    handshake_done: AtomicBool,
    /// The connection carries a four-letter word: its output is text, not frames.
    four_letter: AtomicBool,
    changed: Notify,
}

impl Flow {
    /// Waits until `ready` holds, re-checking whenever the writer reports progress.
    async fn wait_for(&self, shared: &ConnShared, ready: impl Fn(&Flow) -> bool) {
        while !ready(self) {
            shared.reading.store(false, Ordering::Release);
            // `notify_one` stores a permit, so a wake-up between the check and the await is not lost.
            self.changed.notified().await;
        }
        shared.reading.store(true, Ordering::Release);
    }

    /// Accounts for frames written: the first one answers the ConnectRequest, later ones answer requests
    /// unless they are notifications.
    fn written(&self, bytes: &[u8]) {
        if self.four_letter.load(Ordering::Acquire) {
            return;
        }
        let mut answered = 0;
        for xid in frame_xids(bytes) {
            if !self.handshake_done.load(Ordering::Acquire) {
                self.handshake_done.store(true, Ordering::Release);
                answered += 1;
            } else if xid != NOTIFICATION_XID {
                answered += 1;
            }
        }
        if answered > 0 {
            let _ = self
                .outstanding
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    Some(n.saturating_sub(answered))
                });
            self.changed.notify_one();
        }
    }
}

/// The first `int` of each frame's payload (the xid of a reply) in a run of whole frames.
pub(crate) fn frame_xids(mut bytes: &[u8]) -> impl Iterator<Item = i32> + '_ {
    std::iter::from_fn(move || {
        let len = usize::try_from(i32::from_be_bytes(bytes.get(..4)?.try_into().ok()?)).ok()?;
        let payload = bytes.get(4..4 + len)?;
        bytes = &bytes[4 + len..];
        Some(
            payload
                .get(..4)
                .map_or(0, |h| i32::from_be_bytes([h[0], h[1], h[2], h[3]])),
        )
    })
}

/// Serves one accepted connection until it closes, telling the server when it opens and when it is gone.
pub async fn serve(
    stream: TcpStream,
    conn: ConnId,
    peer: SocketAddr,
    limits: ConnLimits,
    to_server: mpsc::Sender<Inbound>,
    counters: Arc<NetCounters>,
) {
    let (handle, mut outbound) = ConnHandle::new();
    let shared = Arc::clone(&handle.shared);
    shared.reading.store(true, Ordering::Release);
    if to_server
        .send(Inbound::Opened { conn, peer, handle })
        .await
        .is_err()
    {
        return;
    }
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let flow = Flow::default();
    let reader = Reader {
        conn,
        limits,
        to_server: &to_server,
        flow: &flow,
        shared: &shared,
        counters: &counters,
    };
    let reason = tokio::select! {
        r = reader.run(rd) => r,
        r = write_side(wr, &mut outbound, &flow, &shared) => r,
        r = handshake_watchdog(&flow, limits.handshake_timeout) => r,
    };
    match reason {
        CloseReason::HandshakeTimeout => {
            counters.sessionless_expired.fetch_add(1, Ordering::Relaxed);
        }
        CloseReason::PeerClosed => {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }
    log_close(conn, peer, &limits, &reason);
    let _ = to_server.send(Inbound::Closed { conn }).await;
}

fn log_close(conn: ConnId, peer: SocketAddr, limits: &ConnLimits, reason: &CloseReason) {
    match reason {
        CloseReason::FrameLength(len) => tracing::warn!(
            %conn, %peer, len, max = limits.max_frame_bytes,
            "closing connection: frame length is negative or larger than jute.maxbuffer"
        ),
        CloseReason::BadConnect(e) => {
            tracing::warn!(%conn, %peer, error = %e, "closing connection: malformed ConnectRequest")
        }
        CloseReason::BadHeader(e) => {
            tracing::warn!(%conn, %peer, error = %e, "closing connection: malformed RequestHeader")
        }
        CloseReason::HandshakeTimeout => tracing::info!(
            %conn, %peer, timeout_ms = limits.handshake_timeout.as_millis() as u64,
            "closing connection: no session established within nio.sessionlessCnxnTimeout"
        ),
        CloseReason::ReadError(e) | CloseReason::WriteError(e) => {
            tracing::debug!(%conn, %peer, error = %e, "connection lost")
        }
        CloseReason::PeerClosed => tracing::debug!(%conn, %peer, "client closed the connection"),
        CloseReason::TelnetClose => tracing::debug!(%conn, %peer, "telnet interrupt received, closing"),
        CloseReason::ClosedByServer | CloseReason::Aborted | CloseReason::ServerGone => {
            tracing::debug!(%conn, %peer, "connection closed by the server")
        }
    }
}

async fn handshake_watchdog(flow: &Flow, timeout: Duration) -> CloseReason {
    tokio::time::sleep(timeout).await;
    if !flow.handshake_done.load(Ordering::Acquire) && !flow.four_letter.load(Ordering::Acquire) {
        return CloseReason::HandshakeTimeout;
    }
    std::future::pending().await
}

async fn write_side(
    wr: OwnedWriteHalf,
    outbound: &mut mpsc::UnboundedReceiver<Outbound>,
    flow: &Flow,
    shared: &ConnShared,
) -> CloseReason {
    let mut wr = BufWriter::new(wr);
    loop {
        let message = match outbound.try_recv() {
            Ok(message) => message,
            Err(_) => {
                // Nothing more queued right now: push out what is buffered before waiting.
                if let Err(e) = wr.flush().await {
                    return CloseReason::WriteError(e);
                }
                match outbound.recv().await {
                    Some(message) => message,
                    None => return CloseReason::ServerGone,
                }
            }
        };
        match message {
            Outbound::Bytes(bytes) => {
                if let Err(e) = wr.write_all(&bytes).await {
                    return CloseReason::WriteError(e);
                }
                shared.queued_bytes.fetch_sub(bytes.len(), Ordering::AcqRel);
                shared.queued_messages.fetch_sub(1, Ordering::AcqRel);
                flow.written(&bytes);
            }
            Outbound::Close => {
                let _ = wr.flush().await;
                let _ = wr.shutdown().await;
                return CloseReason::ClosedByServer;
            }
            Outbound::Abort => return CloseReason::Aborted,
        }
    }
}

/// The reading half of a connection.
struct Reader<'a> {
    conn: ConnId,
    limits: ConnLimits,
    to_server: &'a mpsc::Sender<Inbound>,
    flow: &'a Flow,
    shared: &'a ConnShared,
    counters: &'a NetCounters,
}

/// What the reader does after a frame.
enum Next {
    Continue,
    Stop(CloseReason),
    /// A four-letter word was handed to the server: read nothing more, let the writer finish.
    Park,
}

impl Reader<'_> {
    async fn run(&self, mut rd: OwnedReadHalf) -> CloseReason {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let mut connected = false;
        // Kept across reads: a lone request leaves the vector's allocation behind for the next ones.
        let mut batch = Vec::new();
        loop {
            match self.drain(&mut buf, &mut connected, &mut batch).await {
                Next::Continue => {}
                Next::Stop(reason) => return reason,
                Next::Park => {
                    self.shared.reading.store(false, Ordering::Release);
                    return std::future::pending().await;
                }
            }
            match rd.read_buf(&mut buf).await {
                Ok(0) => return CloseReason::PeerClosed,
                Ok(_) => {}
                Err(e) => return CloseReason::ReadError(e),
            }
        }
    }

    /// Handles every whole frame in `buf`, waiting for back-pressure to clear before each one. The requests
    /// decoded on the way go to the server together, before any wait and before returning.
    async fn drain(&self, buf: &mut BytesMut, connected: &mut bool, batch: &mut Vec<Decoded>) -> Next {
        let next = self.drain_into(buf, connected, batch).await;
        if self.send_requests(batch).await.is_err() {
            return Next::Stop(CloseReason::ServerGone);
        }
        next
    }

    async fn drain_into(&self, buf: &mut BytesMut, connected: &mut bool, batch: &mut Vec<Decoded>) -> Next {
        // Frame bytes in `batch`: a message holds at most jute.maxbuffer of them (or one larger frame), so
        // that the inbound queue's bound in messages still bounds its memory as it did with one frame each.
        let mut batch_bytes = 0;
        let limit = self.limits.outstanding_max.max(1);
        let in_process = &self.counters.requests_in_process;
        loop {
            let ready = |f: &Flow| {
                let own = f.outstanding.load(Ordering::Acquire);
                // `shouldThrottle`: the server is over the limit and this connection waits for a reply.
                let throttled = own > 0 && in_process.load(Ordering::Acquire) > limit;
                own < limit && !throttled && (!*connected || f.handshake_done.load(Ordering::Acquire))
            };
            if (!ready(self.flow) || batch.len() >= REQUESTS_PER_MESSAGE_MAX)
                && self.send_requests(batch).await.is_err()
            {
                return Next::Stop(CloseReason::ServerGone);
            }
            self.flow.wait_for(self.shared, ready).await;
            if batch.is_empty() {
                batch_bytes = 0;
            }
            if !*connected && buf.len() >= 4 {
                if let Some(word) = four_letter_word(buf) {
                    // `stmk` is followed by the 8-byte mask to set (`NIOServerCnxn.checkFourLetterWord`).
                    if word == FourLetter::Word("stmk") && buf.len() < 12 {
                        buf.reserve(8);
                        return Next::Continue;
                    }
                    let mask = stmk_mask(buf.get(4..).unwrap_or_default());
                    self.counters.bytes_received.fetch_add(4, Ordering::Relaxed);
                    return self.four_letter(word, mask).await;
                }
            }
            let len = match check_frame(buf, self.limits.max_frame_bytes) {
                FrameCheck::Complete { len } => len,
                FrameCheck::Incomplete { needed } => {
                    buf.reserve(needed.max(READ_CHUNK));
                    return Next::Continue;
                }
                FrameCheck::Invalid { len } => return Next::Stop(CloseReason::FrameLength(len)),
            };
            let payload = buf.split_to(4 + len).freeze().slice(4..);
            self.counters
                .bytes_received
                .fetch_add(4 + len as u64, Ordering::Relaxed);
            if *connected {
                if batch_bytes + len > self.limits.max_frame_bytes && self.send_requests(batch).await.is_err()
                {
                    return Next::Stop(CloseReason::ServerGone);
                }
                if batch.is_empty() {
                    batch_bytes = 0;
                }
                match self.request(payload) {
                    Ok(request) => batch.push(request),
                    Err(reason) => return Next::Stop(reason),
                }
                batch_bytes += len;
                self.flow.outstanding.fetch_add(1, Ordering::AcqRel);
                in_process.fetch_add(1, Ordering::AcqRel);
                continue;
            }
            *connected = true;
            let message = match self.connect(&payload) {
                Ok(message) => message,
                Err(reason) => return Next::Stop(reason),
            };
            self.flow.outstanding.fetch_add(1, Ordering::AcqRel);
            if self.to_server.send(message).await.is_err() {
                return Next::Stop(CloseReason::ServerGone);
            }
        }
    }

    /// Sends the requests gathered in `batch` to the server, leaving it empty: a lone request as
    /// `Inbound::Request` (keeping the vector's allocation for the next ones), several as `Inbound::Requests`.
    async fn send_requests(&self, batch: &mut Vec<Decoded>) -> Result<(), ()> {
        let message = match batch.len() {
            0 => return Ok(()),
            1 => {
                let Some((header, body)) = batch.pop() else {
                    return Ok(());
                };
                Inbound::Request {
                    conn: self.conn,
                    header,
                    body,
                }
            }
            _ => Inbound::Requests {
                conn: self.conn,
                requests: std::mem::take(batch),
            },
        };
        self.to_server.send(message).await.map_err(|_| ())
    }

    async fn four_letter(&self, word: FourLetter, mask: Option<i64>) -> Next {
        if word == FourLetter::TelnetClose {
            return Next::Stop(CloseReason::TelnetClose);
        }
        self.flow.four_letter.store(true, Ordering::Release);
        // Like ZooKeeper, a four-letter-word connection is not read from again (`stat` shows it as [0]).
        self.shared.reading.store(false, Ordering::Release);
        let message = Inbound::FourLetter {
            conn: self.conn,
            word,
            mask,
        };
        if self.to_server.send(message).await.is_err() {
            return Next::Stop(CloseReason::ServerGone);
        }
        Next::Park
    }

    fn connect(&self, payload: &[u8]) -> Result<Inbound, CloseReason> {
        let request =
            ConnectRequest::decode(payload, self.limits.max_frame_bytes).map_err(CloseReason::BadConnect)?;
        Ok(Inbound::Connect {
            conn: self.conn,
            request,
        })
    }

    fn request(&self, payload: Bytes) -> Result<Decoded, CloseReason> {
        let mut decoder = Decoder::new(&payload).with_max_len(self.limits.max_frame_bytes);
        let header: RequestHeader = decoder.read().map_err(CloseReason::BadHeader)?;
        let body = Request::decode(header.op, decoder.remaining(), self.limits.max_frame_bytes);
        Ok((header, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_xids_reads_each_frame_of_a_run() {
        let mut bytes = Vec::new();
        for xid in [5i32, -1, -2] {
            bytes.extend_from_slice(&16i32.to_be_bytes());
            bytes.extend_from_slice(&xid.to_be_bytes());
            bytes.extend_from_slice(&[0; 12]);
        }
        assert_eq!(frame_xids(&bytes).collect::<Vec<_>>(), vec![5, -1, -2]);
        assert_eq!(frame_xids(&bytes[..10]).count(), 0);
    }

    #[test]
    fn replies_release_outstanding_but_notifications_do_not() {
        let flow = Flow::default();
        flow.outstanding.store(3, Ordering::Release);
        let frame = |xid: i32| {
            let mut f = 16i32.to_be_bytes().to_vec();
            f.extend_from_slice(&xid.to_be_bytes());
            f.extend_from_slice(&[0; 12]);
            f
        };
        flow.written(&frame(0)); // the ConnectResponse
        assert!(flow.handshake_done.load(Ordering::Acquire));
        assert_eq!(flow.outstanding.load(Ordering::Acquire), 2);
        flow.written(&frame(NOTIFICATION_XID));
        assert_eq!(flow.outstanding.load(Ordering::Acquire), 2);
        let mut two = frame(7);
        two.extend(frame(-2));
        flow.written(&two);
        assert_eq!(flow.outstanding.load(Ordering::Acquire), 0);
        flow.written(&frame(9));
        assert_eq!(flow.outstanding.load(Ordering::Acquire), 0, "never below zero");
    }
}
