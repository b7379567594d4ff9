//! The snappy-java stream format (`SnappyOutputStream` / `SnappyInputStream` of xerial snappy-java, which
//! Apache ZooKeeper uses for `snapshot.<zxid>.snappy`), not Google's framing format: a 16-byte header (the
//! magic `0x82 "SNAPPY" 0`, then version 1 and minimum compatible version 1 as big-endian ints), then
//! chunks of (big-endian int length, raw snappy block), each block compressing up to 32 KiB of input.

use std::io::{self, Write};

/// `SnappyCodec.MAGIC_HEADER`.
pub const MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const HEADER_LEN: usize = 16;
/// `SnappyOutputStream.DEFAULT_BLOCK_SIZE`.
const BLOCK: usize = 32 * 1024;

/// Compresses into the snappy-java stream format. Call [`SnappyWriter::finish`] at the end.
pub struct SnappyWriter<W: Write> {
    inner: W,
    block: Vec<u8>,
    encoder: snap::raw::Encoder,
    out: Vec<u8>,
}

impl<W: Write> SnappyWriter<W> {
    pub fn new(mut inner: W) -> io::Result<SnappyWriter<W>> {
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&1i32.to_be_bytes());
        header.extend_from_slice(&1i32.to_be_bytes());
        inner.write_all(&header)?;
        Ok(SnappyWriter {
            inner,
            block: Vec::with_capacity(BLOCK),
            encoder: snap::raw::Encoder::new(),
            out: vec![0; snap::raw::max_compress_len(BLOCK)],
        })
    }

    fn emit(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let n = self
            .encoder
            .compress(&self.block, &mut self.out)
            .map_err(io::Error::other)?;
        self.inner.write_all(&(n as i32).to_be_bytes())?;
        self.inner.write_all(&self.out[..n])?;
        self.block.clear();
        Ok(())
    }

    /// Writes the last block and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.emit()?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SnappyWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = BLOCK - self.block.len();
        let n = room.min(buf.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == BLOCK {
            self.emit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// How many bytes one byte of a raw snappy block can become at most: a 3-byte copy element yields at most 64
/// bytes, every other element less per byte.
const MAX_EXPANSION: usize = 22;

/// Decompresses a whole snappy-java stream (concatenated streams, each with its header, are accepted as
/// `SnappyInputStream` accepts them).
pub fn decompress(input: &[u8]) -> io::Result<Vec<u8>> {
    let bad = |what: &str, at: usize| {
        io::Error::new(io::ErrorKind::InvalidData, format!("snappy {what} at byte {at}"))
    };
    if input.len() < HEADER_LEN || input[..8] != MAGIC {
        return Err(bad("magic header missing", 0));
    }
    let mut decoder = snap::raw::Decoder::new();
    let mut out = Vec::with_capacity(input.len() * 3);
    let mut pos = HEADER_LEN;
    while pos < input.len() {
        if input[pos..].starts_with(&MAGIC) {
            pos += HEADER_LEN;
            continue;
        }
        let len_bytes: [u8; 4] = input
            .get(pos..pos + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("chunk length cut short", pos))?;
        let len = i32::from_be_bytes(len_bytes);
        let chunk = usize::try_from(len)
            .ok()
            .and_then(|len| input.get(pos + 4..pos + 4 + len))
            .ok_or_else(|| bad("chunk cut short", pos))?;
        let start = out.len();
        let size = snap::raw::decompress_len(chunk).map_err(|e| bad(&e.to_string(), pos))?;
        // A chunk declares its decompressed length up front; believing a length the chunk cannot produce would
        // let a few bytes reserve gigabytes.
        if size > chunk.len().saturating_mul(MAX_EXPANSION) {
            return Err(bad(
                &format!("chunk of {} bytes claiming {size} bytes", chunk.len()),
                pos,
            ));
        }
        out.resize(start + size, 0);
        decoder
            .decompress(chunk, &mut out[start..])
            .map_err(|e| bad(&e.to_string(), pos))?;
        pos += 4 + chunk.len();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_across_block_boundaries() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 251).to_be_bytes()).collect();
        let mut w = SnappyWriter::new(Vec::new()).expect("header");
        for chunk in data.chunks(7000) {
            w.write_all(chunk).expect("write");
        }
        let bytes = w.finish().expect("finish");
        assert_eq!(&bytes[..8], &MAGIC);
        assert_eq!(&bytes[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(decompress(&bytes).expect("decompress"), data);
        assert!(decompress(&bytes[..bytes.len() - 3]).is_err());
    }

    #[test]
    fn a_chunk_claiming_more_than_it_can_hold_is_refused_before_allocating() {
        // Zeros compress as well as anything can: one chunk's declared length is within the bound.
        let zeros = vec![0u8; 32 * 1024];
        let mut w = SnappyWriter::new(Vec::new()).expect("header");
        w.write_all(&zeros).expect("write");
        let bytes = w.finish().expect("finish");
        assert_eq!(decompress(&bytes).expect("decompress"), zeros);
        // A 6-byte chunk whose varint says 4 GiB - 1.
        let mut lying = bytes[..HEADER_LEN].to_vec();
        lying.extend_from_slice(&6i32.to_be_bytes());
        lying.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
        let err = decompress(&lying).expect_err("refused");
        assert!(err.to_string().contains("claiming"), "{err}");
    }
}
