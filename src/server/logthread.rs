//! The thread that makes txns durable (`SyncRequestProcessor`): it takes every entry queued since its last
//! fsync, writes them, fsyncs once and reports the last durable zxid to the core task. Under load many entries
//! share one fsync (group commit); when idle, an entry is written as soon as it arrives, with no added wait.
//! The core task keeps serving reads and preparing writes meanwhile.
//!
//! Both channels are bounded. The core task never waits on the command channel (`logqueue` keeps what it has
//! no room for); this thread waits on the event channel when the core task is that far behind, which only
//! holds back its next fsync.

use std::io;
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::mpsc::Sender;

use super::txnlog::TxnLog;
use crate::types::Zxid;

/// Commands waiting for the log thread, at most: each is one turn's entries (or a roll), and the thread takes
/// all that are queued before each fsync.
pub(crate) const COMMANDS_MAX: usize = 64;
/// Events waiting for the core task, at most; one per fsync.
pub(crate) const EVENTS_MAX: usize = 16;

/// What the core task asks of the log thread, in order.
#[derive(Debug)]
pub(crate) enum LogCommand {
    /// Entries in zxid order: those the core task produced in one turn of its loop, sent together because
    /// one channel message per entry cost more than the append itself.
    Append(Vec<(Zxid, Bytes)>),
    /// Start a new log file with the next entry.
    Roll,
}

/// What the log thread reports.
#[derive(Debug)]
pub(crate) enum LogEvent {
    /// Every entry up to this zxid is durable, by this batch.
    Durable(Zxid, Batch),
    /// The log failed; nothing after the last `Durable` may be acknowledged.
    Failed(io::Error),
}

/// One append + fsync round of the log thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Batch {
    /// The fsync took this many ms (none for a log that does not fsync).
    pub(crate) fsync_ms: Option<u64>,
    /// Syncing the batch (writing out what is buffered, then the fsync if any) took this many ms
    /// (`sync_processor_queue_flush_time_ms`).
    pub(crate) flush_ms: u64,
    /// Appending the batch and syncing it took this many ms (`sync_process_time`).
    pub(crate) process_ms: u64,
    /// Entries appended in the batch (`sync_processor_batch_size`).
    pub(crate) entries: u64,
}

/// Starts the log thread over `log`.
pub(crate) fn spawn(
    mut log: Box<dyn TxnLog>,
    events: Sender<LogEvent>,
) -> io::Result<(SyncSender<LogCommand>, JoinHandle<()>)> {
    let (tx, rx) = std::sync::mpsc::sync_channel(COMMANDS_MAX);
    let handle = std::thread::Builder::new()
        .name("txn-log".into())
        .spawn(move || run(log.as_mut(), &rx, &events))?;
    Ok((tx, handle))
}

fn run(log: &mut dyn TxnLog, rx: &Receiver<LogCommand>, events: &Sender<LogEvent>) {
    let mut last = None;
    // Blocks only while there is nothing to write.
    while let Ok(first) = rx.recv() {
        let begun = std::time::Instant::now();
        let mut entries = appended(&first);
        let mut result = apply(log, first);
        while result.is_ok() {
            match rx.try_recv() {
                Ok(command) => {
                    entries += appended(&command);
                    result = apply(log, command)
                }
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let synced = result.and_then(|()| log.sync());
        let flush_ms = started.elapsed().as_millis() as u64;
        let sync_ms = log.fsyncs().then_some(flush_ms);
        match synced {
            Ok(Some(zxid)) if Some(zxid) != last => {
                last = Some(zxid);
                let batch = Batch {
                    fsync_ms: sync_ms,
                    flush_ms,
                    process_ms: begun.elapsed().as_millis() as u64,
                    entries,
                };
                if events.blocking_send(LogEvent::Durable(zxid, batch)).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                let _ = events.blocking_send(LogEvent::Failed(e));
                return;
            }
        }
    }
}

/// The entries a command appends.
fn appended(command: &LogCommand) -> u64 {
    match command {
        LogCommand::Append(entries) => entries.len() as u64,
        LogCommand::Roll => 0,
    }
}

fn apply(log: &mut dyn TxnLog, command: LogCommand) -> io::Result<()> {
    match command {
        LogCommand::Append(entries) => entries
            .into_iter()
            .try_for_each(|(zxid, entry)| log.append(zxid, entry)),
        LogCommand::Roll => log.roll(),
    }
}
