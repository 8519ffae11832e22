//! The Redis serialization protocol: [`request`] turns bytes into commands, [`reply`] turns
//! replies into bytes.

pub mod reply;
pub mod request;
