//! Quorum-port connections (leader <-> learner): `QuorumPacket` records back to back on a TCP stream, as
//! `BinaryOutputArchive.writeRecord` writes them (no length prefix: the record's own buffer and vector lengths
//! delimit it), and after a SNAP packet the leader's database (`wire` format) inline on the same stream.
//!
//! Each connection has a reader (the caller's task, [`PacketReader`]) and a writer task fed by a bounded
//! queue ([`PacketWriter`]): a peer that does not read its packets fast enough to keep the queue under
//! `QUEUE_MAX` is disconnected rather than buffered without end.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use jute::records::quorum::QuorumPacket;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::core::tree::snapshot::wire::WireScanner;

/// Packets (or snapshot bodies) queued for one peer, at most.
pub const QUEUE_MAX: usize = 100_000;

/// The length of the packet at the start of `buf`: `None` while more bytes are needed. A length field outside
/// `-1..=max` (jute.maxbuffer) is an error.
pub fn packet_len(buf: &[u8], max: usize) -> io::Result<Option<usize>> {
    fn int(buf: &[u8], at: usize) -> Option<i32> {
        buf.get(at..at + 4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    let bad = |what: &str, len: i32| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("quorum packet {what} length {len} is outside -1..={max} (jute.maxbuffer)"),
        )
    };
    let len_of = |len: i32, what: &str| -> io::Result<usize> {
        match len {
            -1 => Ok(0),
            l if l >= 0 && (l as usize) <= max => Ok(l as usize),
            l => Err(bad(what, l)),
        }
    };
    // type (4), zxid (8), then data.
    let mut at = 12;
    let Some(data) = int(buf, at) else {
        return Ok(None);
    };
    at += 4 + len_of(data, "data")?;
    let Some(count) = int(buf, at) else {
        return Ok(None);
    };
    at += 4;
    let count = len_of(count, "authinfo")?;
    for _ in 0..count {
        // Id: scheme and id, two strings.
        for _ in 0..2 {
            let Some(len) = int(buf, at) else {
                return Ok(None);
            };
            at += 4 + len_of(len, "authinfo string")?;
        }
    }
    Ok((buf.len() >= at).then_some(at))
}

/// The reading end of a quorum connection.
#[derive(Debug)]
pub struct PacketReader {
    rd: OwnedReadHalf,
    buf: BytesMut,
    max: usize,
}

impl PacketReader {
    pub fn new(rd: OwnedReadHalf, max: usize) -> PacketReader {
        PacketReader {
            rd,
            buf: BytesMut::with_capacity(64 * 1024),
            max,
        }
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.rd.read_buf(&mut self.buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the peer closed the connection",
            ));
        }
        Ok(())
    }

    /// The next packet.
    pub async fn next(&mut self) -> io::Result<QuorumPacket> {
        loop {
            if let Some(len) = packet_len(&self.buf, self.max)? {
                let bytes = self.buf.split_to(len);
                return jute::from_slice(&bytes).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("quorum packet does not decode: {e}"),
                    )
                });
            }
            self.fill().await?;
        }
    }

    /// The database that follows a SNAP packet, signature included, as received. Fails past `limit` bytes.
    pub async fn snapshot(&mut self, limit: usize) -> io::Result<Bytes> {
        let mut scanner = WireScanner::default();
        loop {
            match scanner.scan(&self.buf) {
                Ok(Some(len)) => return Ok(self.buf.split_to(len).freeze()),
                Ok(None) => {}
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the snapshot after SNAP does not decode: {e}"),
                    ))
                }
            }
            if self.buf.len() > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the snapshot after SNAP is larger than {limit} bytes"),
                ));
            }
            self.fill().await?;
        }
    }
}

/// What a writer task sends.
#[derive(Debug)]
pub enum Outgoing {
    Packet(QuorumPacket),
    /// Bytes written as they are (a snapshot body after SNAP).
    Raw(Bytes),
}

/// How the writer's queue looked as it took packets, for the leader's `learner_handler_qp_size` and
/// `learner_handler_qp_time_ms` (`LearnerHandler.sendPackets`): the packets still queued at each take, and how
/// long the first packet and every [`TIME_SAMPLE_EVERY`]th waited (ZooKeeper times the marker packets it queues
/// as often). At most [`SAMPLES_MAX`] of each wait for the server task (it collects them every tick); beyond
/// that the newest are not kept.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QueueSamples {
    pub sizes: Vec<u64>,
    pub waits_ms: Vec<u64>,
}

/// `LearnerHandler`'s `markerPacketInterval`.
pub const TIME_SAMPLE_EVERY: u64 = 1000;
/// Samples kept between two collections by the server task.
pub const SAMPLES_MAX: usize = 10_000;

#[derive(Debug, Default)]
struct Sampler {
    samples: QueueSamples,
    taken: u64,
}

impl Sampler {
    fn record(&mut self, queued: usize, waited: std::time::Duration) {
        let keep = |v: &mut Vec<u64>, x: u64| {
            if v.len() < SAMPLES_MAX {
                v.push(x);
            }
        };
        keep(&mut self.samples.sizes, queued as u64);
        if self.taken % TIME_SAMPLE_EVERY == 0 {
            keep(&mut self.samples.waits_ms, waited.as_millis() as u64);
        }
        self.taken += 1;
    }
}

/// The writing end of a quorum connection: a task draining a bounded queue.
#[derive(Debug, Clone)]
pub struct PacketWriter {
    tx: mpsc::Sender<(Instant, Outgoing)>,
    sampler: Arc<Mutex<Sampler>>,
    /// The approximate bytes of the packets queued (`LearnerHandler.queuedPacketsSize`).
    queued_bytes: Arc<std::sync::atomic::AtomicI64>,
}

/// `LearnerHandler.packetSize`: a packet's data plus an approximate 28 bytes for the rest of it.
fn approximate_size(item: &Outgoing) -> i64 {
    match item {
        Outgoing::Packet(p) => 28 + p.data.as_ref().map_or(0, |d| d.len() as i64),
        Outgoing::Raw(b) => b.len() as i64,
    }
}

impl PacketWriter {
    /// Starts the writer task on `wr`.
    pub fn spawn(wr: OwnedWriteHalf) -> PacketWriter {
        let (tx, rx) = mpsc::channel(QUEUE_MAX);
        let sampler = Arc::new(Mutex::new(Sampler::default()));
        let queued_bytes = Arc::new(std::sync::atomic::AtomicI64::new(0));
        tokio::spawn(write_loop(
            wr,
            rx,
            Arc::clone(&sampler),
            Arc::clone(&queued_bytes),
        ));
        PacketWriter {
            tx,
            sampler,
            queued_bytes,
        }
    }

    /// Queues a packet; false if the queue is full or the connection is gone (the caller drops the peer).
    pub fn send(&self, packet: Outgoing) -> bool {
        let size = approximate_size(&packet);
        let sent = self.tx.try_send((Instant::now(), packet)).is_ok();
        if sent {
            self.queued_bytes
                .fetch_add(size, std::sync::atomic::Ordering::Relaxed);
        }
        sent
    }

    /// The packets queued and not yet written, and their approximate size in bytes.
    pub fn queued(&self) -> (u64, i64) {
        let packets = self.tx.max_capacity() - self.tx.capacity();
        let bytes = self.queued_bytes.load(std::sync::atomic::Ordering::Relaxed);
        (packets as u64, bytes)
    }

    /// The queue samples taken since the last call.
    pub fn take_samples(&self) -> QueueSamples {
        match self.sampler.lock() {
            Ok(mut s) => std::mem::take(&mut s.samples),
            Err(_) => QueueSamples::default(),
        }
    }
}

async fn write_loop(
    wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<(Instant, Outgoing)>,
    sampler: Arc<Mutex<Sampler>>,
    queued_bytes: Arc<std::sync::atomic::AtomicI64>,
) {
    let mut out = BufWriter::with_capacity(64 * 1024, wr);
    let mut scratch = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some((queued_at, item)) = next.take() {
            if let Ok(mut s) = sampler.lock() {
                s.record(rx.len(), queued_at.elapsed());
            }
            queued_bytes.fetch_sub(approximate_size(&item), std::sync::atomic::Ordering::Relaxed);
            let written = match item {
                Outgoing::Packet(p) => {
                    scratch.clear();
                    match jute::ser::to_writer(&mut scratch, &p) {
                        Ok(()) => out.write_all(&scratch).await,
                        Err(e) => {
                            tracing::error!(error = %e, "a quorum packet cannot be encoded; closing the connection");
                            return;
                        }
                    }
                }
                Outgoing::Raw(b) => out.write_all(&b).await,
            };
            if written.is_err() {
                return;
            }
            next = rx.try_recv().ok();
        }
        if out.flush().await.is_err() {
            return;
        }
    }
    let _ = out.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::records::data::Id;

    fn encoded(p: &QuorumPacket) -> Vec<u8> {
        jute::to_bytes(p).expect("encode").to_vec()
    }

    #[test]
    fn packet_len_finds_the_end_of_every_shape_and_waits_for_the_rest() {
        let packets = [
            QuorumPacket {
                packet_type: 5,
                zxid: 7,
                data: None,
                authinfo: None,
            },
            QuorumPacket {
                packet_type: 2,
                zxid: 1 << 32,
                data: Some(Bytes::from_static(b"abc")),
                authinfo: Some(vec![]),
            },
            QuorumPacket {
                packet_type: 1,
                zxid: 3,
                data: Some(Bytes::from_static(b"payload")),
                authinfo: Some(vec![Id::new("digest", "u:x"), Id::new("ip", "127.0.0.1")]),
            },
        ];
        for p in &packets {
            let bytes = encoded(p);
            for cut in 0..bytes.len() {
                assert_eq!(
                    packet_len(&bytes[..cut], 1 << 20).expect("no error"),
                    None,
                    "cut at {cut}"
                );
            }
            let mut longer = bytes.clone();
            longer.extend_from_slice(&[0; 9]);
            assert_eq!(packet_len(&longer, 1 << 20).expect("no error"), Some(bytes.len()));
            let back: QuorumPacket = jute::from_slice(&bytes).expect("decode");
            assert_eq!(&back, p);
        }
    }

    #[test]
    fn lengths_past_the_limit_or_negative_are_errors() {
        let p = QuorumPacket {
            packet_type: 2,
            zxid: 1,
            data: Some(Bytes::from(vec![0; 100])),
            authinfo: None,
        };
        assert!(packet_len(&encoded(&p), 99).is_err());
        let mut bytes = encoded(&p);
        bytes[12..16].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(packet_len(&bytes, 1 << 20).is_err());
    }
}
