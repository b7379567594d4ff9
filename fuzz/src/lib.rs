//! ferrokeeper's fuzz targets for the data-directory readers; the bodies are in [`bodies`], which
//! `tests/storage_fuzz_corpus.rs` also runs over the committed corpus.

#![deny(unsafe_code)]

pub mod bodies;
