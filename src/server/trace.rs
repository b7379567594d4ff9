//! Text tracing of requests, pings and watch events, selected by the trace mask that `stmk`/`gtmk` and the
//! AdminServer's `set_trace_mask`/`get_trace_mask` set and show (`ZooTrace`). A line is written when the
//! `ferrokeeper::trace` target is enabled at TRACE level (`RUST_LOG=ferrokeeper::trace=trace`, as ZooKeeper's
//! logger must be at TRACE) and the line's bit is in the mask. Lines follow ZooKeeper's: `:P` when a request
//! enters the pipeline and `:E` when it is answered (`PrepRequestProcessor`, `FinalRequestProcessor`), with
//! `Request.toString`'s fields, and `Deliver event ...` for a notification (`NIOServerCnxn.process`).

use jute::codes::OpCode;
use jute::request::Request;

use crate::types::SessionId;

/// `ZooTrace.CLIENT_REQUEST_TRACE_MASK`: requests other than pings.
pub const CLIENT_REQUEST: i64 = 1 << 1;
/// `ZooTrace.CLIENT_PING_TRACE_MASK`: pings as they enter the pipeline.
pub const CLIENT_PING: i64 = 1 << 3;
/// `ZooTrace.SERVER_PACKET_TRACE_MASK`: quorum packets (no ensemble yet, so nothing is traced under it).
pub const SERVER_PACKET: i64 = 1 << 4;
/// `ZooTrace.SESSION_TRACE_MASK`.
pub const SESSION: i64 = 1 << 5;
/// `ZooTrace.EVENT_DELIVERY_TRACE_MASK`: watch notifications sent.
pub const EVENT_DELIVERY: i64 = 1 << 6;
/// `ZooTrace.SERVER_PING_TRACE_MASK`: pings as they are answered.
pub const SERVER_PING: i64 = 1 << 7;
/// `ZooTrace.WARNING_TRACE_MASK`.
pub const WARNING: i64 = 1 << 8;
/// ZooKeeper's initial mask (0x132, 306).
pub const DEFAULT_MASK: i64 = CLIENT_REQUEST | SERVER_PACKET | SESSION | WARNING;

/// The `tracing` target of these lines.
pub const TARGET: &str = "ferrokeeper::trace";

/// The mask in force (`ZooTrace.traceMask`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceMask(i64);

impl Default for TraceMask {
    fn default() -> TraceMask {
        TraceMask(DEFAULT_MASK)
    }
}

impl TraceMask {
    pub fn get(self) -> i64 {
        self.0
    }

    /// Sets the mask, saying so as `ZooTrace.setTextTraceLevel` does.
    pub fn set(&mut self, mask: i64) {
        self.0 = mask;
        tracing::info!("Set text trace mask to 0x{:x}", mask);
    }

    /// Whether a line under `bit` is written.
    pub fn enabled(self, bit: i64) -> bool {
        self.0 & bit != 0 && tracing::enabled!(target: TARGET, tracing::Level::TRACE)
    }

    /// A request entering the pipeline (`:P`): pings under [`CLIENT_PING`], the rest under [`CLIENT_REQUEST`].
    pub fn request_in(self, session: Option<SessionId>, xid: i32, op: i32, request: Option<&Request>) {
        let bit = if op == OpCode::Ping.code() {
            CLIENT_PING
        } else {
            CLIENT_REQUEST
        };
        if self.enabled(bit) {
            let path = request.and_then(request_path);
            tracing::trace!(target: TARGET, "{}", line('P', session, xid, op, None, path.as_deref()));
        }
    }

    /// A request answered (`:E`): pings under [`SERVER_PING`], the rest under [`CLIENT_REQUEST`].
    pub fn request_out(self, session: Option<SessionId>, xid: i32, op: OpCode, zxid: i64) {
        let bit = if op == OpCode::Ping {
            SERVER_PING
        } else {
            CLIENT_REQUEST
        };
        if self.enabled(bit) {
            tracing::trace!(target: TARGET, "{}", line('E', session, xid, op.code(), Some(zxid), None));
        }
    }

    /// A watch notification sent to a session.
    pub fn event(self, session: Option<SessionId>, zxid: i64) {
        if self.enabled(EVENT_DELIVERY) {
            let session = session.map_or(0, |s| s.0);
            tracing::trace!(target: TARGET, "Deliver event zxid:0x{zxid:x} to 0x{session:x}");
        }
    }
}

/// `":" + stage + Request.toString()`.
fn line(
    stage: char,
    session: Option<SessionId>,
    xid: i32,
    op: i32,
    zxid: Option<i64>,
    path: Option<&str>,
) -> String {
    let name = OpCode::from_code(op).map_or_else(|| "unknown".to_owned(), OpCode::name);
    format!(
        ":{stage}sessionid:0x{:x} type:{name} cxid:0x{:x} zxid:0x{:x} txntype:unknown reqpath:{}",
        session.map_or(0, |s| s.0),
        xid,
        zxid.unwrap_or(-2),
        path.unwrap_or("n/a")
    )
}

/// The path a request names, found as `Request.toString` finds it: the string the request record starts with,
/// for the requests that have one.
fn request_path(request: &Request) -> Option<String> {
    if matches!(
        request.opcode(),
        OpCode::SetWatches | OpCode::SetWatches2 | OpCode::CloseSession
    ) {
        return None;
    }
    let bytes = request.encode_body().ok()?;
    let len = usize::try_from(i32::from_be_bytes(bytes.get(..4)?.try_into().ok()?)).ok()?;
    if len >= 4096 {
        return None;
    }
    bytes
        .get(4..4 + len)
        .map(|p| String::from_utf8_lossy(p).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What the trace lines written by `f` say, with `ferrokeeper::trace` at TRACE.
    fn traced(f: impl FnOnce()) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,ferrokeeper::trace=trace",
            ))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = out.0.lock().expect("lock").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    fn get_data() -> Request {
        Request::GetData(jute::records::proto::GetDataRequest {
            path: "/app/x".into(),
            watch: false,
        })
    }

    #[test]
    fn the_mask_selects_what_is_traced() {
        let session = Some(SessionId(0x0010_0000_0000_000a));
        let ping = OpCode::Ping.code();
        let all = traced(|| {
            let mask = TraceMask::default();
            mask.request_in(session, 7, OpCode::GetData.code(), Some(&get_data()));
            mask.request_out(session, 7, OpCode::GetData, 0x25);
            mask.request_in(session, -2, ping, None);
            mask.event(session, 0x26);
        });
        // The default mask traces requests, neither pings nor events.
        assert!(
            all.contains(":Psessionid:0x1000000000000a type:getData cxid:0x7 zxid:0xfffffffffffffffe txntype:unknown reqpath:/app/x"),
            "{all}"
        );
        assert!(
            all.contains(":Esessionid:0x1000000000000a type:getData cxid:0x7 zxid:0x25"),
            "{all}"
        );
        assert!(
            !all.contains("type:ping") && !all.contains("Deliver event"),
            "{all}"
        );
        let some = traced(|| {
            let mut mask = TraceMask::default();
            mask.set(CLIENT_PING | EVENT_DELIVERY);
            mask.request_in(session, 7, OpCode::GetData.code(), Some(&get_data()));
            mask.request_in(session, -2, ping, None);
            mask.request_out(session, -2, OpCode::Ping, 0x25);
            mask.event(session, 0x26);
        });
        assert!(some.contains("Set text trace mask to 0x48"), "{some}");
        assert!(!some.contains("type:getData"), "{some}");
        assert!(some.contains(":Psessionid:0x1000000000000a type:ping"), "{some}");
        assert!(
            !some.contains(":Esessionid"),
            "pings answered are SERVER_PING: {some}"
        );
        assert!(
            some.contains("Deliver event zxid:0x26 to 0x1000000000000a"),
            "{some}"
        );
        let none = traced(|| {
            let mut mask = TraceMask::default();
            mask.set(0);
            mask.request_in(session, 7, OpCode::GetData.code(), Some(&get_data()));
            mask.request_out(session, 7, OpCode::GetData, 0x25);
        });
        assert!(!none.contains("sessionid"), "{none}");
    }
}
