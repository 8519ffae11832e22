//! The Redis-protocol front end of pmemkv.
//!
//! This crate will hold the tokio server (`pmemkv-server`): RESP framing, one module per
//! command family, connection handling, configuration, INFO and AUTH. It is built on the
//! [`pmemkv`] engine and is filled in by the resp-server issue; until then it exports nothing.
