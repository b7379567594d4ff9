//! The Jute encoder as a serde `Serializer` (what `org.apache.jute.BinaryOutputArchive` does).
//!
//! Integers are big-endian; strings, buffers and vectors carry an `int` length; `None` is written as length -1,
//! which is how Jute encodes a null string, buffer or vector. Structs and tuples are their fields in order.

use bytes::BufMut;
use serde::ser::{self, Serialize};

use crate::error::{Error, Result};

/// Encodes `value` into a new vector.
pub fn to_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    to_writer(&mut out, value)?;
    Ok(out)
}

/// Appends the encoding of `value` to `out`.
pub fn to_writer<B: BufMut, T: Serialize + ?Sized>(out: &mut B, value: &T) -> Result<()> {
    value.serialize(&mut Serializer { out })
}

/// A serde serializer writing Jute into any `BufMut`.
pub struct Serializer<'a, B: BufMut> {
    out: &'a mut B,
}

fn len_i32(len: usize) -> Result<i32> {
    i32::try_from(len).map_err(|_| Error::Length {
        offset: 0,
        len: len as i64,
        max: i32::MAX as usize,
    })
}

/// Writes a string the way Java's `BinaryOutputArchive.writeString` does: one UTF-16 unit at a time, so a
/// character outside the Basic Multilingual Plane becomes two 3-byte surrogate sequences (CESU-8).
fn put_java_string<B: BufMut>(out: &mut B, s: &str) -> Result<()> {
    // Every string of every record is checked, so no decoding when none is needed. `is_ascii` checks a word
    // at a time, and paths, schemes and ids are nearly always ASCII.
    if s.is_ascii() || !has_four_byte_chars(s.as_bytes()) {
        out.put_i32(len_i32(s.len())?);
        out.put_slice(s.as_bytes());
        return Ok(());
    }
    let mut encoded = Vec::with_capacity(s.len() + 8);
    for unit in s.encode_utf16() {
        let u = u32::from(unit);
        if u < 0x80 {
            encoded.push(u as u8);
        } else if u < 0x800 {
            encoded.push(0xC0 | (u >> 6) as u8);
            encoded.push(0x80 | (u & 0x3F) as u8);
        } else {
            encoded.push(0xE0 | (u >> 12) as u8);
            encoded.push(0x80 | ((u >> 6) & 0x3F) as u8);
            encoded.push(0x80 | (u & 0x3F) as u8);
        }
    }
    out.put_i32(len_i32(encoded.len())?);
    out.put_slice(&encoded);
    Ok(())
}

/// Whether UTF-8 `bytes` hold a character outside the Basic Multilingual Plane. Only those take four bytes
/// in UTF-8, and only their first byte is 0xF0 or above; without one, the UTF-8 bytes are already what Java
/// writes.
fn has_four_byte_chars(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b >= 0xF0)
}

/// UTF-8 text held as bytes (a node name cut from a stored path, say), written as a ustring exactly as the
/// `&str` would be, without checking the bytes again: as they are (a ustring is laid out as a buffer) unless
/// they hold a 4-byte character, which goes through the Java string encoder. Bytes that are not UTF-8 are
/// written as an empty string in that case; callers hold text that was a `&str`.
#[derive(Debug, Clone, Copy)]
pub struct Utf8Bytes<'a>(pub &'a [u8]);

impl Serialize for Utf8Bytes<'_> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if has_four_byte_chars(self.0) {
            s.serialize_str(std::str::from_utf8(self.0).unwrap_or_default())
        } else {
            s.serialize_bytes(self.0)
        }
    }
}

impl<'a, 'b, B: BufMut> ser::Serializer for &'a mut Serializer<'b, B> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out.put_u8(u8::from(v));
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.out.put_i8(v);
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.out.put_i16(v);
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.out.put_i32(v);
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        self.out.put_i64(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.out.put_u8(v);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.out.put_u16(v);
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.out.put_u32(v);
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        self.out.put_u64(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<()> {
        self.out.put_f32(v);
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        self.out.put_f64(v);
        Ok(())
    }
    fn serialize_char(self, _v: char) -> Result<()> {
        Err(Error::Unsupported("char"))
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        put_java_string(self.out, v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        self.out.put_i32(len_i32(v.len())?);
        self.out.put_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<()> {
        self.out.put_i32(-1);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        Ok(())
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, _variant: &'static str) -> Result<()> {
        Err(Error::Unsupported("enum"))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<()> {
        Err(Error::Unsupported("enum"))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self> {
        let len = len.ok_or(Error::Unsupported("a sequence of unknown length"))?;
        self.out.put_i32(len_i32(len)?);
        Ok(self)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Error::Unsupported("enum"))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self> {
        let len = len.ok_or(Error::Unsupported("a map of unknown length"))?;
        self.out.put_i32(len_i32(len)?);
        Ok(self)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Error::Unsupported("enum"))
    }
}

impl<'a, 'b, B: BufMut> ser::SerializeSeq for &'a mut Serializer<'b, B> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}

impl<'a, 'b, B: BufMut> ser::SerializeTuple for &'a mut Serializer<'b, B> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}

impl<'a, 'b, B: BufMut> ser::SerializeTupleStruct for &'a mut Serializer<'b, B> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}

impl<'a, 'b, B: BufMut> ser::SerializeMap for &'a mut Serializer<'b, B> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}

impl<'a, 'b, B: BufMut> ser::SerializeStruct for &'a mut Serializer<'b, B> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _key: &'static str, value: &T) -> Result<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}
