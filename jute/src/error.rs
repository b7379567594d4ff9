//! Typed decoding and encoding errors. Every decoding error carries the byte offset where it was detected so
//! an operator (or a fuzz crash report) can see what was wrong and where.

use std::fmt::Display;

/// What went wrong while reading or writing Jute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input ended inside a field.
    #[error("unexpected end of input at byte {offset}: {needed} more bytes needed")]
    Eof { offset: usize, needed: usize },
    /// A buffer, string or vector length is negative (other than -1) or over the configured maximum
    /// (ZooKeeper's `jute.maxbuffer`), or larger than what is left of the input.
    #[error("unreasonable length {len} at byte {offset} (limit {max})")]
    Length { offset: usize, len: i64, max: usize },
    /// Input left over after a record that should have filled the frame.
    #[error("{remaining} unexpected trailing bytes at byte {offset}")]
    Trailing { offset: usize, remaining: usize },
    /// A value that the record does not allow (an unknown opcode in a multi, a bad enum number, ...).
    #[error("invalid value at byte {offset}: {message}")]
    Invalid { offset: usize, message: String },
    /// A serde shape that Jute cannot represent (maps with unknown keys, floats in records, enums, ...).
    #[error("Jute cannot represent {0}")]
    Unsupported(&'static str),
    /// An error raised by a `Serialize` or `Deserialize` implementation.
    #[error("{0}")]
    Custom(String),
}

/// Result alias for Jute operations.
pub type Result<T> = std::result::Result<T, Error>;

impl serde::ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }
}
