//! One client connection: the session handshake, batched writes and framed reads.
//!
//! Reads go into one growing buffer and frames are cut from it with `jute::frame::check_frame`, so a single
//! `read` can deliver many pipelined replies. `read_more` only appends to the buffer, which makes it safe to
//! cancel in a `select!`.

use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use bytes::{Buf, Bytes, BytesMut};
use jute::codes::OpCode;
use jute::frame::{check_frame, FrameCheck};
use jute::records::proto::ConnectResponse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::wire::{connect_frame, put_request, reply_header};

/// The largest reply accepted: ZooKeeper's default `jute.maxbuffer` plus headers.
const FRAME_MAX: usize = (1 << 20) + 1024;

/// A TCP connection carrying one ZooKeeper session.
pub struct Conn {
    stream: TcpStream,
    rbuf: BytesMut,
    /// The session id the server granted.
    pub session_id: i64,
}

impl Conn {
    /// Connects and opens a new session.
    pub async fn open(addr: SocketAddr, session_timeout_ms: i32) -> Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            stream,
            rbuf: BytesMut::with_capacity(64 * 1024),
            session_id: 0,
        };
        conn.write_all(&connect_frame(session_timeout_ms)?).await?;
        let frame = conn.read_frame().await?;
        let resp = ConnectResponse::decode(&frame, FRAME_MAX)?;
        if resp.session_id == 0 || resp.time_out <= 0 {
            bail!("{addr} refused the session (timeout {})", resp.time_out);
        }
        conn.session_id = resp.session_id;
        Ok(conn)
    }

    /// Writes a batch of frames.
    pub async fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// Reads whatever the socket has into the buffer; fails when the server has closed.
    pub async fn read_more(&mut self) -> Result<()> {
        if self.rbuf.capacity() - self.rbuf.len() < 16 * 1024 {
            self.rbuf.reserve(64 * 1024);
        }
        let n = self.stream.read_buf(&mut self.rbuf).await?;
        if n == 0 {
            bail!("server closed the connection");
        }
        Ok(())
    }

    /// Cuts the next whole frame from the buffer, if one is there.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>> {
        match check_frame(&self.rbuf, FRAME_MAX) {
            FrameCheck::Complete { len } => {
                self.rbuf.advance(4);
                Ok(Some(self.rbuf.split_to(len).freeze()))
            }
            FrameCheck::Incomplete { .. } => Ok(None),
            FrameCheck::Invalid { len } => bail!("server sent a frame of length {len}"),
        }
    }

    /// Waits for the next whole frame.
    pub async fn read_frame(&mut self) -> Result<Bytes> {
        loop {
            if let Some(frame) = self.next_frame()? {
                return Ok(frame);
            }
            self.read_more().await?;
        }
    }

    /// Sends closeSession and waits for its reply (notifications before it are skipped).
    pub async fn close(mut self, xid: i32) -> Result<()> {
        let mut out = Vec::with_capacity(12);
        put_request(&mut out, xid, OpCode::CloseSession, &[])?;
        self.write_all(&out).await?;
        loop {
            let frame = self.read_frame().await?;
            let header = reply_header(&frame)?;
            if header.xid == xid {
                if header.err != 0 {
                    bail!("closeSession failed with error {}", header.err);
                }
                return Ok(());
            }
        }
    }
}
