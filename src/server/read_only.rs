//! Serving read-only while the member looks for a leader (`QuorumPeer.run`'s LOOKING branch with
//! `readonlymode.enabled`): the member waits a grace period (`max(2000, tickTime)` ms) before it decides it is
//! cut off, then serves the database it recovered for the election from a read-only core (`core::read_only`)
//! until the election ends. Its connections are then closed (`ReadOnlyZooKeeperServer.shutdownComponents`,
//! `closeAllConnections`), so that its clients reconnect to a member that serves writes, and the core goes back
//! to the role that follows, unchanged: a read-only server makes no txn, and nothing it does reaches the disk
//! (it has no log thread and no snapshotter).
//!
//! Until the grace period is over, and without the setting, client connections are closed as they arrive and
//! four-letter words answered as by a ZooKeeper server that is not running (`isro` "null", most words "This
//! ZooKeeper instance is not currently serving requests").

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::link::Link;
use super::logthread::{self, LogEvent};
use super::runtime::{core_config, now_at, Runtime};
use super::{Services, Stopped, Turns};
use crate::core::Core;
use crate::net::four_letter as fl;
use crate::net::Inbound;
use jute::frame::FourLetter;

/// The least time a member looks for a leader before it serves read-only (`QuorumPeer.run`: "lower-bound grace
/// period to 2 secs").
const GRACE_MS_MIN: u64 = 2000;

/// A read-only server while it runs.
pub(super) struct ReadOnly {
    runtime: Runtime,
    /// Kept so that the serving loop's log events never end: no log thread runs.
    _events_tx: mpsc::Sender<LogEvent>,
    events: mpsc::Receiver<LogEvent>,
}

/// Closes client connections while no role serves them, answering four-letter words as a ZooKeeper server
/// that is not running does (`NIOServerCnxn.checkFourLetterWord` with no `zkServer`).
pub(super) async fn refuse_clients(
    inbound: &mut mpsc::Receiver<Inbound>,
    whitelist: &crate::config::FourLetterWhitelist,
) {
    let mut opened = std::collections::HashMap::new();
    while let Some(message) = inbound.recv().await {
        match message {
            Inbound::Opened { conn, handle, .. } => {
                opened.insert(conn, handle);
            }
            Inbound::FourLetter { conn, word, .. } => {
                if let Some(handle) = opened.remove(&conn) {
                    if let FourLetter::Word(word) = word {
                        if let Some(text) = not_serving(word, whitelist) {
                            handle.send(bytes::Bytes::from(text));
                        }
                    }
                    handle.close();
                }
            }
            Inbound::Connect { conn, .. }
            | Inbound::Request { conn, .. }
            | Inbound::Requests { conn, .. } => {
                if let Some(handle) = opened.remove(&conn) {
                    handle.close();
                }
            }
            Inbound::Closed { conn } => {
                opened.remove(&conn);
            }
        }
    }
}

/// What a four-letter word answers from a member that serves no clients; `None` for those answered with
/// nothing (the trace mask words, whose mask is the serving role's).
fn not_serving(word: &str, whitelist: &crate::config::FourLetterWhitelist) -> Option<String> {
    if !whitelist.allows(word) {
        return Some(fl::not_whitelisted(word));
    }
    Some(match word {
        "isro" => "null".to_owned(),
        "ruok" => fl::ruok().to_owned(),
        "envi" => fl::envi(),
        "hash" => NOT_SERVING.to_owned(),
        "gtmk" | "stmk" => return None,
        _ => format!("{NOT_SERVING}\n"),
    })
}

/// `AbstractFourLetterCommand.ZK_NOT_SERVING`.
const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// What the member does with its clients while it looks for a leader: refuses them, or, with
/// `readonlymode.enabled`, serves `core` read-only from the end of the grace period on. Returns only when the
/// client port's queue ends (shutdown) or the serving loop fails; the election's end drops this future, and
/// [`stop`] then closes what was served.
pub(super) async fn serve_while_looking(
    svc: &mut Services,
    core: &mut Core,
    started: Instant,
    slot: &mut Option<ReadOnly>,
) -> io::Result<Stopped> {
    if !svc.config.read_only_mode {
        refuse_clients(&mut svc.inbound, &svc.config.four_letter_whitelist).await;
        return Ok(Stopped::Shutdown);
    }
    let grace = Duration::from_millis(GRACE_MS_MIN.max(u64::from(svc.config.tick_time_ms)));
    tokio::select! {
        () = refuse_clients(&mut svc.inbound, &svc.config.four_letter_whitelist) => return Ok(Stopped::Shutdown),
        () = tokio::time::sleep(grace) => {}
    }
    tracing::info!(zxid = %core.last_zxid(), "no leader after the grace period: serving read-only");
    let placeholder = Core::new(core_config(&svc.config), now_at(started));
    let mut ro_core = std::mem::replace(core, placeholder);
    ro_core.become_read_only(u64::from(svc.config.sessionless_cnxn_timeout_ms));
    // No log thread: anything handed to this log fails the loop (and the core never makes a txn).
    let (log_tx, _) = std::sync::mpsc::sync_channel(1);
    let (events_tx, events) = mpsc::channel(logthread::EVENTS_MAX);
    let mut runtime = Runtime::new(
        svc.config.clone(),
        ro_core,
        started,
        log_tx,
        None,
        Arc::clone(&svc.counters),
        svc.metrics.take().unwrap_or_default(),
    );
    runtime.link = Link::ReadOnly;
    let ro = slot.insert(ReadOnly {
        runtime,
        _events_tx: events_tx,
        events,
    });
    let turns = Turns {
        inbound: &mut svc.inbound,
        queries: &mut svc.queries,
        events: &mut ro.events,
        prometheus: svc.prometheus.as_ref(),
        quorum: None,
        election: None,
    };
    let never = std::future::pending::<()>();
    tokio::pin!(never);
    turns.run(&mut ro.runtime, never.as_mut()).await
}

/// Stops the read-only server, if one started: closes its connections, and gives the core back (to `core`)
/// and the metrics back to the services, for the role that follows.
pub(super) fn stop(svc: &mut Services, core: &mut Core, slot: Option<ReadOnly>) {
    let Some(mut ro) = slot else {
        return;
    };
    tracing::info!("the election is over: the read-only server stops and closes its connections");
    ro.runtime.close_all();
    svc.metrics = Some(std::mem::take(&mut ro.runtime.metrics));
    let now = ro.runtime.now();
    let mut ro_core = ro.runtime.into_core();
    ro_core.leave_read_only(now);
    *core = ro_core;
}
