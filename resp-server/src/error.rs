//! Errors: [`ServerError`] at the crate boundary (starting the server), and [`CmdError`], what a
//! command replies when it fails, worded exactly as Redis words it so that clients react
//! correctly (`ERR`, `WRONGTYPE`, `NOAUTH`, `EXECABORT`, …).

use std::fmt;

/// Failure to start or run the server.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// The store could not be opened (or failed while running).
    #[error("store: {0}")]
    Store(#[from] pmemkv::Error),
    /// A socket could not be bound or served.
    #[error("{context}: {source}")]
    Io {
        /// What the server was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// A command's error reply. The text starts with the error code and is sent as `-<text>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError(pub String);

/// The result of running a command (its reply has been written on success).
pub type CmdResult = Result<(), CmdError>;

impl CmdError {
    /// `ERR <msg>`.
    pub fn err(msg: impl fmt::Display) -> CmdError {
        CmdError(format!("ERR {msg}"))
    }

    /// `ERR syntax error`.
    pub fn syntax() -> CmdError {
        CmdError::err("syntax error")
    }

    /// `ERR value is not an integer or out of range`.
    pub fn not_int() -> CmdError {
        CmdError::err("value is not an integer or out of range")
    }

    /// `ERR value is not a valid float`.
    pub fn not_float() -> CmdError {
        CmdError::err("value is not a valid float")
    }

    /// The arity error for `command` (lowercase name).
    pub fn wrong_args(command: &str) -> CmdError {
        CmdError::err(format_args!("wrong number of arguments for '{command}' command"))
    }

    /// `WRONGTYPE …`.
    pub fn wrong_type() -> CmdError {
        CmdError("WRONGTYPE Operation against a key holding the wrong kind of value".into())
    }

    /// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
    pub fn unknown_subcommand(sub: &[u8], command: &str) -> CmdError {
        CmdError::err(format_args!(
            "unknown subcommand '{}'. Try {} HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)]),
            command.to_ascii_uppercase()
        ))
    }

    /// `NOAUTH Authentication required.`
    pub fn noauth() -> CmdError {
        CmdError("NOAUTH Authentication required.".into())
    }

    /// `ERR no such key`.
    pub fn no_such_key() -> CmdError {
        CmdError::err("no such key")
    }

    /// `ERR index out of range`.
    pub fn out_of_range() -> CmdError {
        CmdError::err("index out of range")
    }
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<pmemkv::Error> for CmdError {
    fn from(e: pmemkv::Error) -> CmdError {
        use pmemkv::Error as E;
        match e {
            E::WrongType => CmdError::wrong_type(),
            // The engine words its argument errors like Redis (e.g. "value is not an integer
            // or out of range", "increment or decrement would overflow").
            E::InvalidArgument(m) => CmdError::err(m),
            E::KeyTooLarge { len, max } => {
                CmdError::err(format_args!("key of {len} bytes exceeds the limit of {max} bytes"))
            }
            E::ValueTooLarge { len, max } => {
                CmdError::err(format_args!("string of {len} bytes exceeds the maximum allowed size ({max} bytes)"))
            }
            E::BatchTooLarge { len, max } => {
                CmdError::err(format_args!("write of {len} bytes exceeds the largest atomic write ({max} bytes)"))
            }
            // Redis's wording when its own persistence fails: clients see a write refused.
            E::Poisoned(why) => CmdError(format!("MISCONF Errors writing to the store: {why}")),
            other => {
                tracing::error!(error = %other, "engine error");
                CmdError::err(other)
            }
        }
    }
}
