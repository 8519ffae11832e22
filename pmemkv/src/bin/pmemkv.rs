//! `pmemkv`: the command-line tool for a pmemkv store directory.
//!
//! Opens (or creates) the store, runs one command and closes it cleanly. Large values are
//! streamed through the engine's blob writer/reader with a progress bar, never loaded whole.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use pmemkv::{Durability, Options, Store};

#[derive(Parser)]
#[command(name = "pmemkv", version, about = "Inspect and use a pmemkv store directory")]
struct Cli {
    /// Store directory (created if missing).
    #[arg(long, short, default_value = "./data", env = "PMEMKV_DIR")]
    dir: PathBuf,
    /// Durability of writes made by this command.
    #[arg(long, value_enum, default_value_t = Sync::Always)]
    sync: Sync,
    /// Log level (error, warn, info, debug, trace).
    #[arg(long, default_value = "warn", env = "PMEMKV_LOG")]
    log: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Sync {
    Always,
    Everysec,
    Never,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print what opening found (recovery report) and the store's statistics.
    Info,
    /// Print the value of KEY to standard output.
    Get {
        /// The key.
        key: String,
    },
    /// Store VALUE (or the contents of --file, streamed) under KEY.
    Put {
        /// The key.
        key: String,
        /// The value (omit with --file).
        value: Option<String>,
        /// Stream the value from this file (any size).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Expire after this many seconds.
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Delete KEY.
    Del {
        /// The key.
        key: String,
    },
    /// Write the value of KEY to a file, streamed and verified chunk by chunk.
    Export {
        /// The key.
        key: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// List keys in order (with value lengths).
    Scan {
        /// Only keys starting with this prefix.
        #[arg(long, default_value = "")]
        prefix: String,
        /// At most this many keys.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Verify every index run and every live value against its checksum.
    Verify,
    /// Write a checkpoint (a later open replays nothing written before it).
    Checkpoint,
    /// Reclaim space now (full: from every segment with dead bytes).
    Compact {
        /// Compact every segment with any dead bytes and merge all runs.
        #[arg(long)]
        full: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log).context("bad --log filter")?)
        .with_writer(std::io::stderr)
        .init();
    let durability = match cli.sync {
        Sync::Always => Durability::Always,
        Sync::Everysec => Durability::EverySec,
        Sync::Never => Durability::Never,
    };
    let store = Store::open(&cli.dir, Options { durability, ..Options::default() })
        .with_context(|| format!("opening store {}", cli.dir.display()))?;
    run(&store, cli.cmd)?;
    store.close().context("closing the store")?;
    Ok(())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

fn run(store: &Store, cmd: Cmd) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        Cmd::Info => {
            writeln!(out, "store: {}", store.path().display())?;
            writeln!(out, "{:#?}", store.recovery_report())?;
            writeln!(out, "{:#?}", store.stats())?;
        }
        Cmd::Get { key } => match store.get(key.as_bytes())? {
            Some(v) => {
                out.write_all(&v)?;
                out.write_all(b"\n")?;
            }
            None => bail!("key not found: {key}"),
        },
        Cmd::Put { key, value, file, ttl } => {
            let expire = ttl.map(|s| now_ms() + s * 1000);
            match (value, file) {
                (Some(v), None) => {
                    let expiry = expire.map_or(pmemkv::Expiry::Never, pmemkv::Expiry::At);
                    store.put_with(
                        key.as_bytes(),
                        v.as_bytes(),
                        pmemkv::PutOptions { expiry, ..Default::default() },
                    )?;
                }
                (None, Some(path)) => {
                    let mut f = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
                    let len = f.metadata()?.len();
                    let pb = bar(len, "writing");
                    let mut w = store.blob_writer(key.as_bytes())?;
                    w.set_expiry(expire);
                    let mut buf = vec![0u8; 1 << 20];
                    loop {
                        let n = f.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        w.write_all(&buf[..n])?;
                        pb.inc(n as u64);
                    }
                    w.commit()?;
                    pb.finish_and_clear();
                }
                _ => bail!("give either VALUE or --file"),
            }
        }
        Cmd::Del { key } => {
            if !store.delete(key.as_bytes())? {
                bail!("key not found: {key}");
            }
        }
        Cmd::Export { key, out: path } => {
            let Some(mut r) = store.blob_reader(key.as_bytes())? else { bail!("key not found: {key}") };
            let pb = bar(r.len(), "exporting");
            let mut f = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = r.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                f.write_all(&buf[..n])?;
                pb.inc(n as u64);
            }
            f.sync_all()?;
            pb.finish_and_clear();
        }
        Cmd::Scan { prefix, limit } => {
            for item in store.prefix(prefix.as_bytes()).keys().take(limit) {
                let (k, meta) = item?;
                writeln!(out, "{}\t{}", String::from_utf8_lossy(&k), meta.len)?;
            }
        }
        Cmd::Verify => {
            let n = store.verify()?;
            writeln!(out, "ok: {n} live keys verified")?;
        }
        Cmd::Checkpoint => store.checkpoint()?,
        Cmd::Compact { full } => {
            store.compact(full)?;
            writeln!(out, "{:#?}", store.stats())?;
        }
    }
    Ok(())
}
