//! A server on an ephemeral loopback port, and raw-socket helpers for talking to it.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use ferrokeeper::config::ServerConfig;
use ferrokeeper::server::Server;
use jute::records::proto::{ConnectRequest, RequestHeader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server; dropping it stops the server.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Running {
    /// Stops the server and waits for `run` to return.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("server task panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The default standalone configuration on 127.0.0.1 port 0, with every four-letter word allowed.
pub fn test_config() -> ServerConfig {
    let mut config = ServerConfig::standalone_default();
    config.client_address = "127.0.0.1:0".parse().expect("addr");
    let dir = std::env::temp_dir().join(format!("ferrokeeper-test-{}", std::process::id()));
    config.data_dir = dir.clone();
    config.data_log_dir = dir;
    config
}

/// Binds and runs a server with `config`.
pub async fn start(config: ServerConfig) -> Running {
    let server = Server::bind(config).await.expect("bind");
    let addr = server.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        task: Some(task),
    }
}

/// What happened when waiting for bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    Data(Vec<u8>),
    Closed,
    StillOpen,
}

/// Reads whatever arrives within `wait`.
pub async fn read_some(stream: &mut TcpStream, wait: Duration) -> ReadOutcome {
    let mut buf = vec![0u8; 64 * 1024];
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Err(_) => ReadOutcome::StillOpen,
        Ok(Ok(0)) | Ok(Err(_)) => ReadOutcome::Closed,
        Ok(Ok(n)) => ReadOutcome::Data(buf[..n].to_vec()),
    }
}

/// Reads until the server closes the connection (at most 5 s).
pub async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server did not close the connection within 5 s");
    out
}

/// Sends a four-letter word on a new connection and returns the whole answer.
pub async fn four_letter(addr: SocketAddr, word: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(word.as_bytes()).await.expect("write");
    String::from_utf8(read_to_close(&mut stream).await).expect("utf8")
}

/// A frame: length prefix and payload.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// A modern client's ConnectRequest frame for a new session.
pub fn connect_frame(timeout_ms: i32) -> Vec<u8> {
    let request = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        time_out: timeout_ms,
        session_id: 0,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: Some(false),
    };
    frame(&request.encode().expect("encode"))
}

/// A ping request frame (xid -2, opcode 11, no body).
pub fn ping_frame() -> Vec<u8> {
    let header = RequestHeader { xid: -2, op: 11 };
    frame(&jute::to_bytes(&header).expect("encode"))
}

/// Reads exactly one frame's payload (at most 5 s).
pub async fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    let read = async {
        let len = stream.read_i32().await?;
        let mut payload = vec![0u8; usize::try_from(len).expect("negative frame length")];
        stream.read_exact(&mut payload).await?;
        io::Result::Ok(payload)
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("no frame within 5 s")
        .expect("read frame")
}

/// Connects and completes the handshake; returns the stream and the ConnectResponse payload.
pub async fn connect_session(addr: SocketAddr) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(&connect_frame(30_000)).await.expect("write");
    let response = read_frame(&mut stream).await;
    (stream, response)
}

/// Writes `dir/zoo.cfg` for a server on 127.0.0.1:`port` (0: any) with its data in `dir/data`, no AdminServer.
pub fn write_zoo_cfg(dir: &Path, port: u16) -> PathBuf {
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    let path = dir.join("zoo.cfg");
    std::fs::write(
        &path,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
            dir.join("data").display()
        ),
    )
    .expect("write zoo.cfg");
    path
}

/// One frame's payload from a blocking socket, or None at the end of the stream or on an error.
pub fn read_frame_blocking(stream: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut payload = vec![0u8; usize::try_from(i32::from_be_bytes(len)).ok()?];
    stream.read_exact(&mut payload).ok()?;
    Some(payload)
}

/// The entries of a zoo.cfg text, read as Java properties, in file order.
pub fn properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    java_properties::PropertiesIter::new(text.as_bytes())
        .read_into(|k, v| out.push((k, v)))
        .expect("properties");
    out
}
