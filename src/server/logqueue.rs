//! The server task's side of the txn log: entries of the current turn, commands the log thread's bounded
//! channel had no room for yet, and the txns in flight (handed over and not yet durable), counted and
//! weighed. Nothing here waits: when the channel is full the commands stay queued here, and when the txns in
//! flight reach `ferrokeeper.maxInFlightTxns` or `ferrokeeper.maxInFlightTxnBytes` the server task stops
//! taking requests (`Runtime::accepts_requests`), so that connections wait in their sockets until the log
//! catches up. Apache ZooKeeper's queues to its `SyncRequestProcessor` have no bound; its `RequestThrottler`
//! stalls new requests once `request_throttle_max_requests` are in process, which is off by default.

use std::collections::VecDeque;
use std::io;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Instant;

use bytes::Bytes;

use super::logthread::LogCommand;
use crate::types::Zxid;

/// Bounds on the txns in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InFlightLimits {
    /// `ferrokeeper.maxInFlightTxns`.
    pub(crate) txns_max: usize,
    /// `ferrokeeper.maxInFlightTxnBytes`.
    pub(crate) bytes_max: usize,
}

/// Txn entries on their way to the log thread and back.
#[derive(Debug)]
pub(crate) struct LogQueue {
    tx: SyncSender<LogCommand>,
    limits: InFlightLimits,
    /// Entries of this turn, in zxid order, not yet made a command.
    turn: Vec<(Zxid, Bytes)>,
    /// Commands the channel had no room for, in order.
    unsent: VecDeque<LogCommand>,
    /// Entries made a command and not yet durable, with when and their size, oldest first.
    in_flight: VecDeque<(Zxid, Instant, usize)>,
    /// Bytes of the entries in `turn` and `in_flight`.
    bytes: usize,
}

impl LogQueue {
    pub(crate) fn new(tx: SyncSender<LogCommand>, limits: InFlightLimits) -> LogQueue {
        LogQueue {
            tx,
            limits,
            turn: Vec::new(),
            unsent: VecDeque::new(),
            in_flight: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Adds an entry of this turn.
    pub(crate) fn push(&mut self, zxid: Zxid, entry: Bytes) {
        self.bytes += entry.len();
        self.turn.push((zxid, entry));
    }

    /// Makes the entries of this turn one command, and hands the log thread every queued command it has
    /// room for.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if !self.turn.is_empty() {
            let at = Instant::now();
            self.in_flight
                .extend(self.turn.iter().map(|(zxid, entry)| (*zxid, at, entry.len())));
            let entries = std::mem::take(&mut self.turn);
            self.unsent.push_back(LogCommand::Append(entries));
        }
        while let Some(command) = self.unsent.pop_front() {
            match self.tx.try_send(command) {
                Ok(()) => {}
                Err(TrySendError::Full(command)) => {
                    self.unsent.push_front(command);
                    break;
                }
                Err(TrySendError::Disconnected(_)) => {
                    return Err(io::Error::other("the txn log thread has stopped"))
                }
            }
        }
        Ok(())
    }

    /// Starts a new log file after the entries so far.
    pub(crate) fn roll(&mut self) -> io::Result<()> {
        self.flush()?;
        self.unsent.push_back(LogCommand::Roll);
        self.flush()
    }

    /// Entries up to `zxid` are durable: each one's time from hand-over to now goes to `waited_ms`.
    pub(crate) fn durable(&mut self, zxid: Zxid, now: Instant, mut waited_ms: impl FnMut(u64)) {
        while let Some(&(appended, at, len)) = self.in_flight.front() {
            if appended > zxid {
                break;
            }
            self.in_flight.pop_front();
            self.bytes -= len;
            waited_ms(now.saturating_duration_since(at).as_millis() as u64);
        }
    }

    /// True while more txns may be prepared: the channel took every command so far, and the txns in flight
    /// are under both limits.
    pub(crate) fn has_room(&self) -> bool {
        self.unsent.is_empty() && self.txns() < self.limits.txns_max && self.bytes < self.limits.bytes_max
    }

    /// Txns prepared and not yet durable.
    pub(crate) fn txns(&self) -> usize {
        self.turn.len() + self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(len: usize) -> Bytes {
        Bytes::from(vec![0; len])
    }

    /// A queue over a channel of `capacity` commands, and the channel's receiving end.
    fn queue(
        capacity: usize,
        txns_max: usize,
        bytes_max: usize,
    ) -> (LogQueue, std::sync::mpsc::Receiver<LogCommand>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
        let limits = InFlightLimits { txns_max, bytes_max };
        (LogQueue::new(tx, limits), rx)
    }

    fn describe(command: LogCommand) -> String {
        match command {
            LogCommand::Append(e) => format!("append {}", e[0].0 .0),
            LogCommand::Roll => "roll".into(),
        }
    }

    #[test]
    fn room_ends_at_either_limit_and_comes_back_when_durable() {
        let (mut q, rx) = queue(8, 3, 100);
        q.push(Zxid(1), entry(10));
        q.push(Zxid(2), entry(10));
        assert!(q.has_room());
        q.push(Zxid(3), entry(10));
        assert!(!q.has_room(), "three txns");
        q.flush().expect("flush");
        assert!(matches!(rx.try_recv(), Ok(LogCommand::Append(e)) if e.len() == 3));
        let mut waits = 0;
        q.durable(Zxid(2), Instant::now(), |_| waits += 1);
        assert_eq!((waits, q.txns()), (2, 1));
        assert!(q.has_room());
        q.push(Zxid(4), entry(90));
        assert!(!q.has_room(), "100 bytes");
        q.durable(Zxid(4), Instant::now(), |_| {});
        assert_eq!(q.txns(), 1, "zxid 4 was not handed over yet");
        q.flush().expect("flush");
        q.durable(Zxid(4), Instant::now(), |_| {});
        assert_eq!(q.txns(), 0);
        assert!(q.has_room());
    }

    #[test]
    fn commands_the_channel_has_no_room_for_wait_in_order() {
        let (mut q, rx) = queue(1, 100, 1000);
        q.push(Zxid(1), entry(1));
        q.flush().expect("flush");
        q.push(Zxid(2), entry(1));
        q.roll().expect("roll");
        q.push(Zxid(3), entry(1));
        q.flush().expect("flush");
        assert!(!q.has_room(), "commands wait");
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(describe(rx.try_recv().expect("a command")));
            q.flush().expect("flush");
        }
        seen.push(describe(rx.try_recv().expect("a command")));
        assert_eq!(seen, ["append 1", "append 2", "roll", "append 3"]);
        assert!(q.has_room());
        drop(rx);
        q.push(Zxid(4), entry(1));
        assert!(q.flush().is_err(), "a log thread that is gone is an error");
    }
}
