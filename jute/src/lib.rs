//! ZooKeeper's Jute binary format and every record of ZooKeeper 3.9.
//!
//! Jute is big-endian: `int` is 4 bytes, `long` 8, `boolean` 1; a `ustring`, `buffer` or `vector` is an `int`
//! length (or count) followed by its contents, with -1 meaning null; a record is its fields in order with no
//! tags. This crate implements that once as a serde data format ([`to_bytes`], [`Decoder`]) and declares each
//! record of `zookeeper.jute` as a plain struct ([`records`]). What is not a record (frame boundaries, the
//! connect handshake with its optional trailing byte, four-letter words) is parsed in [`frame`]. What a quorum
//! packet's data carries, by packet type, is typed in [`quorum`].
//!
//! The crate is synchronous and knows nothing of sockets or files.

pub mod codes;
pub mod de;
pub mod election;
pub mod error;
pub mod frame;
mod java_utf8;
pub mod quorum;
pub mod records;
pub mod request;
pub mod ser;

pub use java_utf8::string_hash_code;
pub mod txn_entry;

pub use de::{from_slice, Decoder, DEFAULT_MAX_BUFFER};
pub use error::{Error, Result};
pub use ser::{to_bytes, to_writer};
