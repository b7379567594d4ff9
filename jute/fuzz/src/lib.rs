//! The harness of jute's fuzz targets: a heap counter around the target bodies in [`bodies`].
//!
//! Every target checks two things on arbitrary bytes: no panic (the bodies assert what must hold), and no
//! allocation that the input does not pay for. The decoder refuses a length or count before allocating for
//! it unless the input actually holds that many bytes, so the heap in use while one input is processed may
//! only grow in proportion to the input: [`ALLOC_BYTES_PER_INPUT_BYTE`] times its length plus
//! [`ALLOC_SLACK_BYTES`]. A decoder that trusted a length prefix (up to `jute.maxbuffer`, 1 MiB) or a vector
//! count (up to 2^31) breaks that bound on a few bytes of input.
//!
//! `cargo test -p jute` replays the committed corpus through the same bodies (`tests/fuzz_corpus.rs`), without
//! the heap counter.

#![deny(unsafe_code)]

pub mod bodies;
mod counting_alloc;

use counting_alloc::CountingAlloc;

#[global_allocator]
static HEAP: CountingAlloc = CountingAlloc;

/// How much heap one input byte may cost while a body runs. A body holds up to three decoded copies of its
/// input (decoded, re-encoded and decoded again) as Rust values, which are larger than their encoding (a
/// 12-byte ACL is a 56-byte struct), and serde reserves `min(count, bytes left)` elements for a vector before
/// finding that the input cannot back its count. The committed corpus peaks at about 50 bytes per input byte;
/// a trusted length prefix or count costs thousands.
pub const ALLOC_BYTES_PER_INPUT_BYTE: usize = 128;
/// Heap any input may use regardless of its length.
pub const ALLOC_SLACK_BYTES: usize = 64 * 1024;

/// Runs one body on `data` and fails if the heap in use grew past what `data` allows.
pub fn run(body: fn(&[u8]), data: &[u8]) {
    let base = counting_alloc::start_window();
    body(data);
    let peak = counting_alloc::peak_in_window() - base;
    let allowed = data.len() * ALLOC_BYTES_PER_INPUT_BYTE + ALLOC_SLACK_BYTES;
    assert!(
        peak <= allowed,
        "{peak} bytes of heap for {} bytes of input (allowed {allowed})",
        data.len()
    );
}
