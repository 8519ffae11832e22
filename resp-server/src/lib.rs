//! The Redis-protocol front end of pmemkv: `pmemkv-server`.
//!
//! A tokio server that speaks RESP2 and RESP3 over TCP and Unix sockets and keeps its data in
//! a pmemkv store, so redis-cli, redis-benchmark, redis-py and redis-rs work against it
//! unchanged while every acknowledged write survives `kill -9`.
//!
//! Module map:
//! - [`protocol`]: request framing (pure, bounded) and reply encoding (RESP2/RESP3);
//! - [`connection`]: one client's read → parse → run → durability → write loop;
//! - [`server`]: store opening, listeners, admission (`maxclients`, protected mode),
//!   background chores, shutdown;
//! - [`cmd`]: the command table and one module per command family;
//! - [`config`]: defaults, redis.conf files, `CONFIG GET/SET/REWRITE`;
//! - [`shared`], [`session`], [`clients`]: server-wide, per-connection and registry state;
//! - [`keyspace`]: logical databases and numeric `SCAN` cursors; [`glob`]: Redis patterns.
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

pub mod blocking;
pub mod burst;
pub mod clients;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod error;
pub mod glob;
pub mod io_pool;
pub mod keyspace;
pub mod protocol;
pub mod pubsub;
pub mod server;
pub mod session;
pub mod shared;
pub mod watch;

pub use config::Config;
pub use error::{CmdError, ServerError};
pub use server::Server;

/// The Redis version pmemkv-server reports (`HELLO`, `INFO`): the Redis release whose
/// command semantics it follows.
pub const REDIS_VERSION: &str = "7.0.15";
