//! A durable server on loopback port 0 with its AdminServer and Prometheus endpoint also on port 0, a small
//! client speaking the wire protocol, four-letter words and plain HTTP GETs.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use ferrokeeper::config::ServerConfig;
use ferrokeeper::server::Server;
use jute::records::proto::{ConnectRequest, CreateRequest, ExistsRequest, RequestHeader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server; dropping it stops the server.
pub struct OpsServer {
    pub client: SocketAddr,
    pub admin: SocketAddr,
    pub metrics: SocketAddr,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Drop for OpsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl OpsServer {
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
    }
}

/// Starts a server from a zoo.cfg written to a temporary directory, with `extra` zoo.cfg lines.
pub async fn start(extra: &str) -> OpsServer {
    start_with(extra, |_| {}).await
}

/// [`start`], after `prepare` has filled the dataDir it is given.
pub async fn start_with(extra: &str, prepare: impl FnOnce(&std::path::Path)) -> OpsServer {
    let dir = tempfile::tempdir().expect("tempdir");
    prepare(&dir.path().join("data"));
    let config_path = dir.path().join("zoo.cfg");
    let text = format!(
        "tickTime=2000\ndataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n\
         admin.serverAddress=127.0.0.1\nadmin.serverPort=0\n\
         metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=0\n{extra}",
        dir.path().join("data").display()
    );
    std::fs::write(&config_path, text).expect("write zoo.cfg");
    let config = ServerConfig::from_file(&config_path).expect("config");
    let server = Server::bind(config).await.expect("bind");
    let client = server.local_addr().expect("client addr");
    let admin = server.admin_addr().expect("admin enabled");
    // With `metricsProvider.className` set back to the default provider in `extra`, there is no /metrics: the
    // address is then the unspecified one, which no test connects to.
    let metrics = server
        .metrics_addr()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run_durable(async move {
        let _ = stopped.await;
    }));
    OpsServer {
        client,
        admin,
        metrics,
        dir,
        config_path,
        stop: Some(stop),
        task: Some(task),
    }
}

/// Sends a four-letter word (and any bytes after it) and reads the answer until the server closes.
pub async fn four_letter(addr: SocketAddr, word: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(word).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .expect("answer within 5 s")
        .expect("read");
    String::from_utf8(out).expect("utf8")
}

/// An HTTP/1.1 GET (or another method): status code and body.
pub async fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    http_with(addr, method, path, "").await
}

/// As [`http`], with `headers` (each line ending in CRLF) added to the request.
pub async fn http_with(addr: SocketAddr, method: &str, path: &str, headers: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}Content-Length: 0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .expect("answer within 5 s")
        .expect("read");
    let text = String::from_utf8(out).expect("utf8");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers");
    let status = head
        .split_whitespace()
        .nth(1)
        .expect("status")
        .parse()
        .expect("status code");
    (status, head.to_owned(), body.to_owned())
}

/// A client session over raw frames.
pub struct Client {
    stream: TcpStream,
    pub session: i64,
    xid: i32,
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: 30_000,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
        };
        stream
            .write_all(&frame(&request.encode().expect("encode")))
            .await
            .expect("write");
        let response = read_frame(&mut stream).await;
        let session = i64::from_be_bytes(response[8..16].try_into().expect("session id"));
        Client {
            stream,
            session,
            xid: 0,
        }
    }

    /// Sends one request and returns its reply's error code, skipping watch notifications.
    async fn call(&mut self, op: i32, body: &[u8]) -> i32 {
        self.xid += 1;
        let mut payload = jute::to_bytes(&RequestHeader { xid: self.xid, op }).expect("header");
        payload.extend_from_slice(body);
        self.stream.write_all(&frame(&payload)).await.expect("write");
        loop {
            let reply = read_frame(&mut self.stream).await;
            let xid = i32::from_be_bytes(reply[..4].try_into().expect("xid"));
            if xid == self.xid {
                return i32::from_be_bytes(reply[12..16].try_into().expect("err"));
            }
        }
    }

    /// Creates a node with open ACL (`flags` 1 for ephemeral); returns the error code.
    pub async fn create(&mut self, path: &str, flags: i32) -> i32 {
        let acl = vec![jute::records::data::Acl {
            perms: 31,
            id: jute::records::data::Id {
                scheme: "world".into(),
                id: Some("anyone".into()),
            },
        }];
        let request = CreateRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"x")),
            acl,
            flags,
        };
        self.call(1, &jute::to_bytes(&request).expect("create")).await
    }

    /// getData with a watch (a data watch).
    pub async fn get_data_watch(&mut self, path: &str) -> i32 {
        let r = ExistsRequest {
            path: path.into(),
            watch: true,
        };
        self.call(4, &jute::to_bytes(&r).expect("getData")).await
    }

    /// exists with a watch (a data watch, also on a missing node).
    pub async fn exists_watch(&mut self, path: &str) -> i32 {
        let r = ExistsRequest {
            path: path.into(),
            watch: true,
        };
        self.call(3, &jute::to_bytes(&r).expect("exists")).await
    }

    /// getChildren with a watch (a child watch, which wchs does not count).
    pub async fn get_children_watch(&mut self, path: &str) -> i32 {
        let r = ExistsRequest {
            path: path.into(),
            watch: true,
        };
        self.call(8, &jute::to_bytes(&r).expect("getChildren")).await
    }
}

async fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
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

/// `0x<hex>` as ZooKeeper prints session ids.
pub fn hex(id: i64) -> String {
    format!("0x{id:x}")
}
