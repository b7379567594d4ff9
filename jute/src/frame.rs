//! What is not a record: frame boundaries, the connect handshake in both shapes, and four-letter words.
//!
//! Every message on the client port is a big-endian `int` length followed by that many bytes
//! (`NIOServerCnxn.readLength`). `check_frame` is the cheap test a connection runs on its buffer before it
//! decodes anything: complete, incomplete (read more) or invalid (close).

use bytes::{BufMut, Bytes};
use nom::combinator::{all_consuming, opt};
use nom::number::complete::{be_i32, be_i64, be_u8};
use nom::IResult;
use serde::{Deserialize, Serialize};

use crate::de::Decoder;
use crate::error::{Error, Result};
use crate::records::proto::{ConnectRequest, ConnectResponse};
use crate::ser::to_writer;

/// The outcome of looking at the start of a buffer for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameCheck {
    /// A whole frame is there: `len` payload bytes after the 4-byte prefix.
    Complete { len: usize },
    /// Not enough bytes yet; at least `needed` more are required.
    Incomplete { needed: usize },
    /// The length is negative or over the limit: the connection must be closed.
    Invalid { len: i32 },
}

fn length_prefix(input: &[u8]) -> IResult<&[u8], i32> {
    be_i32(input)
}

/// Checks whether `buf` starts with a whole frame whose payload is at most `max_len` bytes.
pub fn check_frame(buf: &[u8], max_len: usize) -> FrameCheck {
    let Ok((rest, len)) = length_prefix(buf) else {
        return FrameCheck::Incomplete {
            needed: 4 - buf.len(),
        };
    };
    match usize::try_from(len) {
        Ok(n) if n <= max_len => {
            if rest.len() >= n {
                FrameCheck::Complete { len: n }
            } else {
                FrameCheck::Incomplete {
                    needed: n - rest.len(),
                }
            }
        }
        _ => FrameCheck::Invalid { len },
    }
}

/// Prefixes `payload` with its length.
pub fn put_frame<B: BufMut>(out: &mut B, payload: &[u8]) -> Result<()> {
    let len = i32::try_from(payload.len()).map_err(|_| Error::Length {
        offset: 0,
        len: payload.len() as i64,
        max: i32::MAX as usize,
    })?;
    out.put_i32(len);
    out.put_slice(payload);
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct ConnectRequestBase {
    protocol_version: i32,
    last_zxid_seen: i64,
    time_out: i32,
    session_id: i64,
    passwd: Bytes,
}

#[derive(Serialize, Deserialize)]
struct ConnectResponseBase {
    protocol_version: i32,
    time_out: i32,
    session_id: i64,
    passwd: Bytes,
}

/// The optional trailing readOnly byte: present (any non-zero is true) or absent, and nothing after it.
fn trailing_read_only(rest: &[u8], offset: usize) -> Result<Option<bool>> {
    let parsed: IResult<&[u8], Option<u8>> = all_consuming(opt(be_u8))(rest);
    match parsed {
        Ok((_, flag)) => Ok(flag.map(|b| b != 0)),
        Err(_) => Err(Error::Trailing {
            offset: offset + 1,
            remaining: rest.len().saturating_sub(1),
        }),
    }
}

/// A record followed by the optional readOnly byte, as both connect records are laid out.
fn decode_with_flag<'de, B: serde::Deserialize<'de>>(
    payload: &'de [u8],
    max_len: usize,
) -> Result<(B, Option<bool>)> {
    let mut d = Decoder::new(payload).with_max_len(max_len);
    let base: B = d.read()?;
    let read_only = trailing_read_only(d.remaining(), d.position())?;
    Ok((base, read_only))
}

fn encode_with_flag<B: serde::Serialize>(
    base: &B,
    read_only: Option<bool>,
    capacity: usize,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(capacity);
    to_writer(&mut out, base)?;
    if let Some(flag) = read_only {
        out.push(u8::from(flag));
    }
    Ok(out)
}

impl ConnectRequest {
    /// Decodes a connect request payload in either shape (with or without the readOnly byte).
    pub fn decode(payload: &[u8], max_len: usize) -> Result<ConnectRequest> {
        let (base, read_only): (ConnectRequestBase, _) = decode_with_flag(payload, max_len)?;
        Ok(ConnectRequest {
            protocol_version: base.protocol_version,
            last_zxid_seen: base.last_zxid_seen,
            time_out: base.time_out,
            session_id: base.session_id,
            passwd: base.passwd,
            read_only,
        })
    }

    /// Encodes the payload (without the frame length).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let base = ConnectRequestBase {
            protocol_version: self.protocol_version,
            last_zxid_seen: self.last_zxid_seen,
            time_out: self.time_out,
            session_id: self.session_id,
            passwd: self.passwd.clone(),
        };
        encode_with_flag(&base, self.read_only, 45)
    }
}

impl ConnectResponse {
    /// Decodes a connect response payload in either shape.
    pub fn decode(payload: &[u8], max_len: usize) -> Result<ConnectResponse> {
        let (base, read_only): (ConnectResponseBase, _) = decode_with_flag(payload, max_len)?;
        Ok(ConnectResponse {
            protocol_version: base.protocol_version,
            time_out: base.time_out,
            session_id: base.session_id,
            passwd: base.passwd,
            read_only,
        })
    }

    /// Encodes the payload (without the frame length).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let base = ConnectResponseBase {
            protocol_version: self.protocol_version,
            time_out: self.time_out,
            session_id: self.session_id,
            passwd: self.passwd.clone(),
        };
        encode_with_flag(&base, self.read_only, 37)
    }
}

/// The four-letter words of ZooKeeper 3.9 (`FourLetterCommands`).
pub const FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst", "srvr",
    "stat", "stmk", "wchc", "wchp", "wchs",
];

/// The telnet interrupt sequence that ZooKeeper also recognises as a command (it just closes).
pub const TELNET_CLOSE: [u8; 4] = [0xFF, 0xF4, 0xFF, 0xFD];

/// A first frame recognised as a four-letter word instead of a ConnectRequest length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FourLetter {
    Word(&'static str),
    TelnetClose,
}

/// Recognises a four-letter word in the first four bytes of a connection.
pub fn four_letter_word(first: &[u8]) -> Option<FourLetter> {
    let head = first.get(..4)?;
    if head == TELNET_CLOSE {
        return Some(FourLetter::TelnetClose);
    }
    FOUR_LETTER_WORDS
        .iter()
        .find(|w| w.as_bytes() == head)
        .map(|w| FourLetter::Word(w))
}

/// Parses the 8-byte trace mask that follows `stmk`.
pub fn stmk_mask(after_word: &[u8]) -> Option<i64> {
    be_i64::<_, nom::error::Error<&[u8]>>(after_word)
        .ok()
        .map(|(_, mask)| mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_check_distinguishes_complete_incomplete_invalid() {
        assert_eq!(check_frame(&[0, 0], 10), FrameCheck::Incomplete { needed: 2 });
        assert_eq!(
            check_frame(&[0, 0, 0, 3, 1], 10),
            FrameCheck::Incomplete { needed: 2 }
        );
        assert_eq!(
            check_frame(&[0, 0, 0, 3, 1, 2, 3, 9], 10),
            FrameCheck::Complete { len: 3 }
        );
        assert_eq!(check_frame(&[0, 0, 0, 11], 10), FrameCheck::Invalid { len: 11 });
        assert_eq!(
            check_frame(&[0xff, 0xff, 0xff, 0xff], 10),
            FrameCheck::Invalid { len: -1 }
        );
    }

    #[test]
    fn connect_request_round_trips_in_both_shapes() {
        for read_only in [None, Some(false), Some(true)] {
            let req = ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 7,
                time_out: 30000,
                session_id: 0x0100_0000_0000_0001,
                passwd: Bytes::from_static(&[0; 16]),
                read_only,
            };
            let bytes = req.encode().expect("encode");
            assert_eq!(bytes.len(), if read_only.is_some() { 45 } else { 44 });
            assert_eq!(ConnectRequest::decode(&bytes, 1024).expect("decode"), req);
        }
    }

    #[test]
    fn connect_request_with_extra_bytes_is_refused() {
        let req = ConnectRequest {
            passwd: Bytes::from_static(&[0; 16]),
            ..Default::default()
        };
        let mut bytes = req.encode().expect("encode");
        bytes.extend_from_slice(&[1, 2]);
        assert!(matches!(
            ConnectRequest::decode(&bytes, 1024),
            Err(Error::Trailing { .. })
        ));
    }

    #[test]
    fn four_letter_words_are_recognised_only_exactly() {
        assert_eq!(four_letter_word(b"ruok"), Some(FourLetter::Word("ruok")));
        assert_eq!(four_letter_word(b"mntr\n"), Some(FourLetter::Word("mntr")));
        assert_eq!(four_letter_word(&TELNET_CLOSE), Some(FourLetter::TelnetClose));
        assert_eq!(four_letter_word(b"RUOK"), None);
        assert_eq!(four_letter_word(&[0, 0, 0, 45]), None);
        assert_eq!(four_letter_word(b"ru"), None);
        assert_eq!(stmk_mask(&[0, 0, 0, 0, 0, 0, 1, 2]), Some(258));
    }
}
