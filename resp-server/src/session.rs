//! The state of one client connection that commands read and change: selected database,
//! authentication, protocol, and what the connection must do after the current command.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::clients::ClientHandle;

/// Per-connection command state.
#[derive(Debug)]
pub struct Session {
    /// The registry's view of this client.
    pub handle: Arc<ClientHandle>,
    /// Selected database.
    pub db: u8,
    /// True once `AUTH`/`HELLO AUTH` succeeded (or when no password is required).
    pub authenticated: bool,
    /// Close the connection once the replies so far are written (`QUIT`, `CLIENT KILL` of
    /// oneself).
    pub close: bool,
    /// A write ran since the last durability wait (for `appendfsync always`).
    pub wrote: bool,
    /// Set by `MONITOR`: the connection switches to the monitor feed after this command.
    pub start_monitor: bool,
}

impl Session {
    /// A new session for a connection.
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Session {
        Session { handle, db: 0, authenticated, close: false, wrote: false, start_monitor: false }
    }

    /// The client id.
    pub fn id(&self) -> u64 {
        self.handle.id
    }

    /// Selects database `db`.
    pub fn select(&mut self, db: u8) {
        self.db = db;
        self.handle.db.store(db, Ordering::Relaxed);
    }
}
