//! `--wait-ready`: how long until a server answers a real request. A listening port or a `ruok` reply is not
//! enough: ZooKeeper accepts connections and answers four-letter words while it is still loading its data
//! directory (`ServerCnxnFactory` starts before `ZKDatabase.loadDataBase` finishes), so readiness here means
//! a session opened and an `exists /` on it answered without error.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use jute::codes::OpCode;
use serde::Serialize;

use crate::conn::Conn;
use crate::wire::{path_watch_body, put_request, reply_header};

/// Pause between attempts.
const RETRY_EVERY: Duration = Duration::from_millis(10);
/// How long one attempt may take before it is abandoned.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// When the server first answered.
#[derive(Debug, Clone, Serialize)]
pub struct Ready {
    pub target: String,
    pub ready_s: f64,
    pub attempts: u64,
}

/// One attempt: open a session, `exists /`, close.
async fn probe(addr: SocketAddr) -> Result<()> {
    let mut conn = Conn::open(addr, 30_000).await?;
    let mut out = Vec::new();
    put_request(&mut out, 1, OpCode::Exists, &path_watch_body("/", false)?)?;
    conn.write_all(&out).await?;
    let reply = reply_header(&conn.read_frame().await?)?;
    if reply.xid != 1 || reply.err != 0 {
        bail!("exists / answered xid {} error {}", reply.xid, reply.err);
    }
    conn.close(2).await
}

/// Retries `probe` until it succeeds or `limit` has passed.
pub async fn wait(addr: SocketAddr, limit: Duration) -> Result<Ready> {
    let start = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let outcome = tokio::time::timeout(ATTEMPT_TIMEOUT, probe(addr)).await;
        if let Ok(Ok(())) = outcome {
            return Ok(Ready {
                target: addr.to_string(),
                ready_s: start.elapsed().as_secs_f64(),
                attempts,
            });
        }
        if start.elapsed() >= limit {
            bail!(
                "{addr} did not answer a request within {:.1} s",
                limit.as_secs_f64()
            );
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}
