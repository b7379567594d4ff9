//! The frames the server task has for one connection during a turn of its loop. They go to the connection's
//! task in one message at the end of the turn instead of one message per frame: each message is a channel send
//! and a wake-up of the connection task, which cost more than copying the few small frames of a turn into one
//! buffer. Order is kept: frames are appended as the core emits them, so a connection receives its replies
//! and notifications exactly in the order they were queued.

use bytes::{Bytes, BytesMut};

/// Frames queued for one connection and not yet handed to its task.
#[derive(Debug, Default)]
pub(super) enum Outgoing {
    #[default]
    Empty,
    /// A single frame, handed on as it is (no copy).
    One(Bytes),
    /// Several frames, copied one after another.
    Many(BytesMut),
}

impl Outgoing {
    /// Appends a frame (or a run of frames). Returns true if nothing was queued before, so that the caller
    /// records the connection as having output to flush.
    pub(super) fn push(&mut self, frame: Bytes) -> bool {
        match self {
            Outgoing::Empty => {
                *self = Outgoing::One(frame);
                true
            }
            Outgoing::One(first) => {
                // Room for a few more replies of this size, so that a turn with many grows the buffer rarely.
                let mut buf = BytesMut::with_capacity(4 * (first.len() + frame.len()));
                buf.extend_from_slice(first);
                buf.extend_from_slice(&frame);
                *self = Outgoing::Many(buf);
                false
            }
            Outgoing::Many(buf) => {
                buf.extend_from_slice(&frame);
                false
            }
        }
    }

    /// Bytes queued.
    pub(super) fn len(&self) -> usize {
        match self {
            Outgoing::Empty => 0,
            Outgoing::One(frame) => frame.len(),
            Outgoing::Many(buf) => buf.len(),
        }
    }

    /// Everything queued, leaving nothing; `None` if nothing was.
    pub(super) fn take(&mut self) -> Option<Bytes> {
        match std::mem::take(self) {
            Outgoing::Empty => None,
            Outgoing::One(frame) => Some(frame),
            Outgoing::Many(buf) => Some(buf.freeze()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_in_the_order_they_were_pushed() {
        let mut out = Outgoing::default();
        assert_eq!(out.take(), None);
        assert!(out.push(Bytes::from_static(b"ab")));
        assert_eq!(out.len(), 2);
        assert!(!out.push(Bytes::from_static(b"cd")));
        assert!(!out.push(Bytes::from_static(b"e")));
        assert_eq!(out.len(), 5);
        assert_eq!(out.take(), Some(Bytes::from_static(b"abcde")));
        assert_eq!(out.take(), None);
    }

    #[test]
    fn a_single_frame_is_handed_on_without_a_copy() {
        let frame = Bytes::from(vec![1u8, 2, 3]);
        let at = frame.as_ptr();
        let mut out = Outgoing::default();
        assert!(out.push(frame));
        assert_eq!(out.take().map(|b| b.as_ptr()), Some(at));
    }
}
