//! `pmemkv-server`: the Redis-protocol server on a pmemkv store.
//!
//! ```text
//! pmemkv-server [config-file] [--port 6379] [--bind 127.0.0.1] [--dir ./data] …
//! ```
//! Settings come from the defaults, then the optional redis.conf-style file, then the
//! command line (`--name value`, any parameter `CONFIG GET` lists).

use anyhow::{bail, Context};
use clap::Parser;
use resp_server::config::{Config, LogLevel};
use resp_server::Server;

/// A Redis-compatible server that keeps its data in a crash-consistent pmemkv store.
#[derive(Parser, Debug)]
#[command(name = "pmemkv-server", version, about)]
struct Args {
    /// A redis.conf-style configuration file.
    config: Option<std::path::PathBuf>,
    /// TCP port (0 disables TCP).
    #[arg(long)]
    port: Option<u16>,
    /// Addresses to listen on (space-separated; a leading '-' marks one that may be missing).
    #[arg(long, num_args = 1..)]
    bind: Option<Vec<String>>,
    /// Unix socket path to listen on as well.
    #[arg(long)]
    unixsocket: Option<String>,
    /// Data directory (the store).
    #[arg(long)]
    dir: Option<String>,
    /// Password clients must AUTH with.
    #[arg(long)]
    requirepass: Option<String>,
    /// Durability of writes: always, everysec or no.
    #[arg(long)]
    appendfsync: Option<String>,
    /// Most simultaneous clients.
    #[arg(long)]
    maxclients: Option<String>,
    /// Close clients idle this many seconds (0 = never).
    #[arg(long)]
    timeout: Option<String>,
    /// debug, verbose, notice or warning.
    #[arg(long)]
    loglevel: Option<String>,
    /// Log file ("" = standard output).
    #[arg(long)]
    logfile: Option<String>,
    /// Refuse non-loopback clients while no password is set (yes/no).
    #[arg(long = "protected-mode")]
    protected_mode: Option<String>,
    /// Any other parameter, as `name value` pairs: `--set timeout 30 --set databases 4`.
    #[arg(long = "set", num_args = 2, value_names = ["NAME", "VALUE"], action = clap::ArgAction::Append)]
    set: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = Config::default();
    if let Some(path) = &args.config {
        config.apply_file(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut overrides: Vec<(&str, Vec<String>)> = Vec::new();
    if let Some(p) = args.port {
        overrides.push(("port", vec![p.to_string()]));
    }
    if let Some(b) = &args.bind {
        overrides.push(("bind", b.clone()));
    }
    for (name, v) in [
        ("unixsocket", &args.unixsocket),
        ("dir", &args.dir),
        ("requirepass", &args.requirepass),
        ("appendfsync", &args.appendfsync),
        ("maxclients", &args.maxclients),
        ("timeout", &args.timeout),
        ("loglevel", &args.loglevel),
        ("logfile", &args.logfile),
        ("protected-mode", &args.protected_mode),
    ] {
        if let Some(v) = v {
            overrides.push((name, vec![v.clone()]));
        }
    }
    for pair in args.set.chunks(2) {
        overrides.push((&pair[0], vec![pair[1].clone()]));
    }
    for (name, v) in overrides {
        config.set(name, &v).map_err(|e| anyhow::anyhow!("--{name}: {e}"))?;
    }
    init_logging(config.loglevel, &config.logfile)?;
    if config.port == 0 && config.unixsocket.is_none() {
        bail!("nothing to listen on: set a port or a unixsocket");
    }
    // This runtime accepts connections and runs the chores; the connections themselves run
    // on the server's connection threads (`io-threads`, one per CPU by default).
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().thread_name("pmemkv-server").build()?;
    runtime.block_on(async move {
        tracing::info!(version = env!("CARGO_PKG_VERSION"), dir = %config.dir.display(), port = config.port,
            appendfsync = config.appendfsync.as_str(), "pmemkv-server starting");
        let server = Server::bind(config).await.context("starting the server")?;
        server.run(true).await.context("running the server")?;
        anyhow::Ok(())
    })
}

fn init_logging(level: LogLevel, file: &str) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PMEMKV_LOG").unwrap_or_else(|_| EnvFilter::new(level.directive()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if file.is_empty() {
        builder.init();
    } else {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .with_context(|| format!("opening log file {file}"))?;
        builder.with_ansi(false).with_writer(std::sync::Mutex::new(f)).init();
    }
    Ok(())
}
