//! The pure core: data tree, sessions, watches and the one write path. No tokio, files, sockets, clocks or
//! randomness here.

pub mod effects;

pub use effects::Effect;
