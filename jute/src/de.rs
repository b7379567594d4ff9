//! The Jute decoder as a serde `Deserializer` (what `org.apache.jute.BinaryInputArchive` does).
//!
//! Every length is checked against the configured maximum (ZooKeeper's `jute.maxbuffer`) and against what is
//! left of the input before anything is allocated, so arbitrary bytes can never make the decoder allocate more
//! than the input it was given. Strings and byte buffers borrow from the input when the target type borrows
//! (`&'de str`, `&'de [u8]`).

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};

use crate::error::{Error, Result};
use crate::java_utf8::java_utf8_lossy;

/// ZooKeeper's default `jute.maxbuffer`: 0xfffff bytes.
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff;

/// Decodes one `T` that must fill `input` exactly, with the default length limit.
pub fn from_slice<'de, T: de::Deserialize<'de>>(input: &'de [u8]) -> Result<T> {
    let mut decoder = Decoder::new(input);
    let value = decoder.read()?;
    decoder.finish()?;
    Ok(value)
}

/// For `ustring` fields ZooKeeper dereferences without a null check (request paths): a null string there is a
/// malformed request (Java fails with a NullPointerException that the server answers as MARSHALLINGERROR).
pub fn required_string<'de, D: de::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<String, D::Error> {
    let value: Option<String> = de::Deserialize::deserialize(deserializer)?;
    value.ok_or_else(|| de::Error::custom("null string where a value is required"))
}

/// A cursor over Jute bytes that reads records one after another.
#[derive(Debug, Clone)]
pub struct Decoder<'de> {
    input: &'de [u8],
    pos: usize,
    max_len: usize,
}

impl<'de> Decoder<'de> {
    /// A decoder over `input` with ZooKeeper's default `jute.maxbuffer` as the length limit.
    pub fn new(input: &'de [u8]) -> Self {
        Decoder {
            input,
            pos: 0,
            max_len: DEFAULT_MAX_BUFFER,
        }
    }

    /// Sets the largest string, buffer or vector length accepted.
    pub fn with_max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len;
        self
    }

    /// Reads the next record.
    pub fn read<T: de::Deserialize<'de>>(&mut self) -> Result<T> {
        T::deserialize(&mut *self)
    }

    /// The bytes not yet consumed.
    pub fn remaining(&self) -> &'de [u8] {
        &self.input[self.pos..]
    }

    /// How many bytes have been consumed.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True when every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.pos == self.input.len()
    }

    /// Fails unless every byte has been consumed.
    pub fn finish(&self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Trailing {
                offset: self.pos,
                remaining: self.input.len() - self.pos,
            })
        }
    }

    /// Reads the next `int` without consuming it.
    pub fn peek_i32(&self) -> Result<i32> {
        let bytes = self.input.get(self.pos..self.pos + 4).ok_or(Error::Eof {
            offset: self.pos,
            needed: 4 - self.remaining().len().min(4),
        })?;
        Ok(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// Fails with an `Invalid` error at the current position.
    pub fn invalid(&self, message: impl Into<String>) -> Error {
        Error::Invalid {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'de [u8]> {
        let rest = self.input.len() - self.pos;
        if n > rest {
            return Err(Error::Eof {
                offset: self.pos,
                needed: n - rest,
            });
        }
        let slice = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// Reads a length prefix; `None` for -1 (null). The length must fit the limit and the remaining input.
    fn length(&mut self) -> Result<Option<usize>> {
        let offset = self.pos;
        let len = self.i32()?;
        if len == -1 {
            return Ok(None);
        }
        let rest = self.input.len() - self.pos;
        match usize::try_from(len) {
            Ok(n) if n <= self.max_len && n <= rest => Ok(Some(n)),
            Ok(n) if n <= self.max_len => Err(Error::Eof {
                offset: self.pos,
                needed: n - rest,
            }),
            _ => Err(Error::Length {
                offset,
                len: i64::from(len),
                max: self.max_len,
            }),
        }
    }
}

struct Counted<'a, 'de> {
    decoder: &'a mut Decoder<'de>,
    left: usize,
}

impl<'a, 'de> SeqAccess<'de> for Counted<'a, 'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.decoder).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        // Never promise more elements than bytes remain: each element takes at least one byte.
        Some(self.left.min(self.decoder.remaining().len()))
    }
}

impl<'a, 'de> de::MapAccess<'de> for Counted<'a, 'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.decoder).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.decoder)
    }
}

impl<'de> de::Deserializer<'de> for &mut Decoder<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(Error::Unsupported("self-describing input"))
    }
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // Java's readBool treats any non-zero byte as true.
        visitor.visit_bool(self.array::<1>()?[0] != 0)
    }
    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_i8(i8::from_be_bytes(self.array()?))
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_i16(i16::from_be_bytes(self.array()?))
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_i32(self.i32()?)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_i64(i64::from_be_bytes(self.array()?))
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_u8(self.array::<1>()?[0])
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_u16(u16::from_be_bytes(self.array()?))
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_u32(u32::from_be_bytes(self.array()?))
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_u64(u64::from_be_bytes(self.array()?))
    }
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_f32(f32::from_be_bytes(self.array()?))
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_f64(f64::from_be_bytes(self.array()?))
    }
    fn deserialize_char<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(Error::Unsupported("char"))
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // A null string reads as empty where the type cannot say null (kazoo sends empty strings as -1).
        let Some(len) = self.length()? else {
            return visitor.visit_borrowed_str("");
        };
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => visitor.visit_borrowed_str(s),
            // Java decodes with replacement characters rather than failing; do the same, by its rules.
            Err(_) => visitor.visit_string(java_utf8_lossy(bytes)),
        }
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let Some(len) = self.length()? else {
            return visitor.visit_borrowed_bytes(&[]);
        };
        visitor.visit_borrowed_bytes(self.take(len)?)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek_i32()? == -1 {
            self.pos += 4;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let left = self.length()?.unwrap_or(0);
        visitor.visit_seq(Counted { decoder: self, left })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(Counted {
            decoder: self,
            left: len,
        })
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_tuple(len, visitor)
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let left = self.length()?.unwrap_or(0);
        visitor.visit_map(Counted { decoder: self, left })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_tuple(fields.len(), visitor)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(Error::Unsupported("enum"))
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(Error::Unsupported("identifier"))
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(Error::Unsupported("ignored value"))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::data::{Acl, Stat};
    use crate::records::proto::{CreateRequest, GetChildrenResponse};
    use crate::to_bytes;
    use bytes::Bytes;

    #[test]
    fn null_string_buffer_and_vector_are_minus_one() {
        let req = CreateRequest {
            path: "/a".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
        };
        let bytes = to_bytes(&req).expect("encode");
        assert_eq!(&bytes[..10], &[0, 0, 0, 2, b'/', b'a', 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(from_slice::<CreateRequest>(&bytes).expect("decode"), req);
        let empty = CreateRequest {
            data: Some(Bytes::new()),
            ..req
        };
        assert_eq!(
            from_slice::<CreateRequest>(&to_bytes(&empty).expect("encode")).expect("decode"),
            empty
        );
    }

    #[test]
    fn stat_is_68_bytes_with_pzxid_last() {
        let stat = Stat {
            pzxid: 0x0102,
            ..Default::default()
        };
        let bytes = to_bytes(&stat).expect("encode");
        assert_eq!(bytes.len(), 68);
        assert_eq!(&bytes[60..], &[0, 0, 0, 0, 0, 0, 1, 2]);
    }

    #[test]
    fn lengths_over_the_limit_or_the_input_are_refused_before_allocating() {
        let huge = [0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(
            from_slice::<String>(&huge),
            Err(Error::Length { offset: 0, .. })
        ));
        let short = [0, 0, 0, 5, b'a'];
        assert!(matches!(
            from_slice::<String>(&short),
            Err(Error::Eof { offset: 4, needed: 4 })
        ));
        let mut d = Decoder::new(&[0, 0, 0, 3, b'a', b'b', b'c']).with_max_len(2);
        assert!(matches!(
            d.read::<String>(),
            Err(Error::Length { len: 3, max: 2, .. })
        ));
        let many = [0x00, 0xff, 0xff, 0xff, 0, 0, 0, 0];
        assert!(from_slice::<GetChildrenResponse>(&many).is_err());
    }

    #[test]
    fn negative_lengths_other_than_null_are_refused() {
        assert!(matches!(
            from_slice::<String>(&[0xff, 0xff, 0xff, 0xfe]),
            Err(Error::Length { len: -2, .. })
        ));
        assert_eq!(
            from_slice::<Option<String>>(&[0xff, 0xff, 0xff, 0xff]).expect("null"),
            None
        );
    }

    #[test]
    fn strings_borrow_from_the_input_and_invalid_utf8_is_replaced_like_java() {
        let bytes = [0, 0, 0, 2, b'h', b'i'];
        let s: &str = from_slice(&bytes).expect("borrow");
        assert_eq!(s, "hi");
        let bad = [0, 0, 0, 2, b'a', 0xff];
        assert_eq!(from_slice::<String>(&bad).expect("lossy"), "a\u{fffd}");
        // Java's writer turns U+1F600 into two 3-byte surrogates; Java's reader makes one U+FFFD of each.
        let cesu = [0, 0, 0, 6, 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80];
        assert_eq!(from_slice::<String>(&cesu).expect("lossy"), "\u{fffd}\u{fffd}");
    }

    #[test]
    fn supplementary_characters_are_written_as_java_does() {
        let bytes = to_bytes("\u{1F600}").expect("encode");
        assert_eq!(bytes, [0, 0, 0, 6, 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80]);
    }
}
