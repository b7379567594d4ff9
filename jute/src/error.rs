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

/// The message of the error a multi request's decoder raises for a create op with a null ACL list. ZooKeeper
/// 3.8.2+ and 3.9 refuse such a request while decoding it (`CreateOptions` requires the list: a
/// NullPointerException, answered as MARSHALLINGERROR before a zxid is taken), unlike every other malformed
/// multi, so the server must tell it apart (`Error::is_null_acl_in_multi`).
pub(crate) const NULL_ACL_IN_MULTI: &str = "null ACL list in a create op of a multi";

impl Error {
    /// True for the error of a multi request with a create op whose ACL list is null.
    pub fn is_null_acl_in_multi(&self) -> bool {
        matches!(self, Error::Custom(message) if message == NULL_ACL_IN_MULTI)
    }
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
