//! INFO: the server's state as Redis 7.0's `INFO` text, section by section.
//!
//! Every section Redis 7.0 prints is printed with Redis's field names, in Redis's order and
//! with Redis's number formats, so that redis-py's `info()`, redis_exporter and other INFO
//! parsers read pmemkv-server like Redis. Values come from what the server tracks
//! ([`crate::shared::Stats`], the client registry, the store) and from `/proc/self`. A
//! field whose number pmemkv-server does not track is reported as 0 and marked "not
//! tracked" in the code below; a field that is 0 because pmemkv-server has no such thing
//! (forks, replicas, eviction, Lua) is marked so as well. Nothing is made up.
//!
//! One extra section, `# Pmemkv`, reports the engine's own counters
//! ([`pmemkv::Store::stats`]). Like a Redis module's section it is printed for
//! `INFO everything`, `INFO modules` and `INFO pmemkv`, not for `INFO`/`INFO all`.
//!
//! Cost: the `Keyspace` section counts the keys of every database, O(keys) (there is no
//! per-database key counter yet). Every other section is O(commands + clients).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::LazyLock;

use bytes::Bytes;

use super::flags::*;
use super::{Command, Ctx};
use crate::error::CmdResult;
use crate::shared::{random_hex, Shared};

/// The INFO family.
pub static COMMANDS: &[Command] = &[Command {
    name: "info",
    arity: -1,
    flags: LOADING | STALE,
    first_key: 0,
    last_key: 0,
    step: 0,
    group: "server",
    summary: "Returns information and statistics about the server.",
    since: "1.0.0",
    run: info,
}];

/// The sections `INFO` prints without arguments (and for `default`), as Redis 7.0 names
/// them (`module_list` is the `# Modules` header).
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
];

/// ```text
/// INFO [section [section ...]]
/// ```
/// Sections: server, clients, memory, persistence, stats, replication, cpu, modules,
/// commandstats, errorstats, latencystats, cluster, keyspace, pmemkv; `default`, `all`
/// (every Redis section), `everything` (`all` and pmemkv). Names are case-insensitive;
/// unknown names are ignored (an empty reply if nothing is left), as in Redis.
fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sel = Selection::parse(&args[1..]);
    let text = generate(ctx.srv, &sel)?;
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// Which sections an `INFO` call asked for (Redis's `genInfoSectionDict`).
#[derive(Debug, Default)]
pub struct Selection {
    all: bool,
    everything: bool,
    names: HashSet<String>,
}

impl Selection {
    /// The selection of `INFO` with these arguments (the section names).
    pub fn parse(args: &[Bytes]) -> Selection {
        let mut sel = Selection::default();
        if args.is_empty() {
            sel.names.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
            return sel;
        }
        for a in args {
            let name = String::from_utf8_lossy(a).to_ascii_lowercase();
            match name.as_str() {
                "default" => sel.names.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string())),
                "all" => sel.all = true,
                "everything" => {
                    sel.all = true;
                    sel.everything = true;
                }
                _ => {
                    sel.names.insert(name);
                }
            }
        }
        sel
    }

    /// True if Redis section `name` is to be printed.
    fn has(&self, name: &str) -> bool {
        self.all || self.names.contains(name)
    }

    /// True if the module-like `# Pmemkv` section is to be printed.
    fn has_pmemkv(&self) -> bool {
        self.everything || self.names.contains("modules") || self.names.contains("pmemkv")
    }
}

/// Appends `name:value\r\n` lines to a section.
macro_rules! lines {
    ($out:expr, $( $name:literal => $value:expr ),* $(,)?) => {
        $( let _ = write!($out, concat!($name, ":{}\r\n"), $value); )*
    };
}

/// The `INFO` text of the selected sections.
pub fn generate(srv: &Shared, sel: &Selection) -> Result<String, crate::error::CmdError> {
    let mut out = String::with_capacity(8 * 1024);
    let mut sections = 0;
    let mut begin = |out: &mut String, title: &str| {
        if sections > 0 {
            out.push_str("\r\n");
        }
        sections += 1;
        out.push_str("# ");
        out.push_str(title);
        out.push_str("\r\n");
    };
    if sel.has("server") {
        begin(&mut out, "Server");
        server(srv, &mut out);
    }
    if sel.has("clients") {
        begin(&mut out, "Clients");
        clients(srv, &mut out);
    }
    if sel.has("memory") {
        begin(&mut out, "Memory");
        memory(srv, &mut out);
    }
    if sel.has("persistence") {
        begin(&mut out, "Persistence");
        persistence(srv, &mut out);
    }
    if sel.has("stats") {
        begin(&mut out, "Stats");
        stats(srv, &mut out);
    }
    if sel.has("replication") {
        begin(&mut out, "Replication");
        replication(&mut out);
    }
    if sel.has("cpu") {
        begin(&mut out, "CPU");
        cpu(&mut out);
    }
    if sel.has("module_list") || sel.names.contains("modules") {
        // No modules can be loaded: the list is empty.
        begin(&mut out, "Modules");
    }
    if sel.has("commandstats") {
        begin(&mut out, "Commandstats");
        commandstats(srv, &mut out);
    }
    if sel.has("errorstats") {
        // Not tracked: the server counts error replies (`total_error_replies`) but not per
        // error code, so there are no `errorstat_<CODE>:count=N` lines to print.
        begin(&mut out, "Errorstats");
    }
    if sel.has("latencystats") {
        // Not tracked: no per-command latency histograms (Redis with
        // `latency-tracking no` prints the same empty section).
        begin(&mut out, "Latencystats");
    }
    if sel.has("cluster") {
        begin(&mut out, "Cluster");
        lines!(out, "cluster_enabled" => 0);
    }
    if sel.has("keyspace") {
        begin(&mut out, "Keyspace");
        keyspace(srv, &mut out)?;
    }
    if sel.has_pmemkv() {
        begin(&mut out, "Pmemkv");
        pmemkv(srv, &mut out);
    }
    Ok(out)
}

fn server(srv: &Shared, out: &mut String) {
    let cfg = srv.config.read();
    let uptime = srv.started.elapsed().as_secs();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let os = format!(
        "{} {} {}",
        read_proc("/proc/sys/kernel/ostype").as_deref().map_or(std::env::consts::OS, str::trim),
        read_proc("/proc/sys/kernel/osrelease").as_deref().map_or("", str::trim),
        std::env::consts::ARCH
    );
    let executable = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
    let config_file = cfg
        .file
        .as_ref()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()).display().to_string())
        .unwrap_or_default();
    lines!(out,
        "redis_version" => crate::REDIS_VERSION,
        // Redis prints these when it was not built from a git checkout; there is no Redis
        // build here at all.
        "redis_git_sha1" => "00000000",
        "redis_git_dirty" => 0,
        "redis_build_id" => 0,
        "redis_mode" => "standalone",
        "os" => os,
        "arch_bits" => usize::BITS,
        // std's Instant is clock_gettime(CLOCK_MONOTONIC); tokio waits with epoll on Linux.
        "monotonic_clock" => "POSIX clock_gettime",
        "multiplexing_api" => if cfg!(target_os = "linux") { "epoll" } else { "kqueue" },
        "atomicvar_api" => "c11-builtin",
        // Not built with gcc: Redis prints 0.0.0 then.
        "gcc_version" => "0.0.0",
        "process_id" => std::process::id(),
        "process_supervised" => "no",
        "run_id" => srv.run_id,
        "tcp_port" => srv.tcp_port.load(Ordering::Relaxed),
        "server_time_usec" => now.as_micros(),
        "uptime_in_seconds" => uptime,
        "uptime_in_days" => uptime / (3600 * 24),
        // The server's periodic chores (stats sampling) run 10 times a second.
        "hz" => 10,
        "configured_hz" => 10,
        // Redis's LRU clock: seconds, modulo 2^24. Derived from the time; pmemkv-server has
        // no LRU eviction that uses it.
        "lru_clock" => now.as_secs() & ((1 << 24) - 1),
        "executable" => executable,
        "config_file" => config_file,
        "io_threads_active" => 0,
    );
}

fn clients(srv: &Shared, out: &mut String) {
    let all = srv.clients.all();
    let blocked = all.iter().filter(|c| c.blocked.load(Ordering::Relaxed)).count();
    // Redis reports the largest buffers over the last few seconds; these are the largest
    // right now.
    let max_in = all.iter().map(|c| c.qbuf.load(Ordering::Relaxed)).max().unwrap_or(0);
    let max_out = all.iter().map(|c| c.omem.load(Ordering::Relaxed)).max().unwrap_or(0);
    let maxclients = srv.config.read().maxclients;
    lines!(out,
        "connected_clients" => all.len(),
        "cluster_connections" => 0,
        "maxclients" => maxclients,
        "client_recent_max_input_buffer" => max_in,
        "client_recent_max_output_buffer" => max_out,
        "blocked_clients" => blocked,
        // No client-side caching (CLIENT TRACKING).
        "tracking_clients" => 0,
        // Not tracked: blocked clients with a timeout.
        "clients_in_timeout_table" => 0,
    );
}

/// The process's memory, from `/proc/self/status` (kB fields) and `/proc/meminfo`.
#[derive(Debug, Default, Clone, Copy)]
struct ProcMemory {
    /// Resident set size, all of it (`VmRSS`): heap, stacks, code and the pages of the
    /// store's mapped files that are in memory.
    rss: u64,
    /// Resident anonymous memory (`RssAnon`): heap and stacks, what an allocator counter
    /// would report; the mapped store files are not in it.
    anon: u64,
    /// Physical memory of the machine (`MemTotal`).
    total_system: u64,
}

fn proc_memory() -> ProcMemory {
    let kb = |text: &str, field: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |n| n * 1024)
    };
    let status = read_proc("/proc/self/status").unwrap_or_default();
    let meminfo = read_proc("/proc/meminfo").unwrap_or_default();
    ProcMemory { rss: kb(&status, "VmRSS"), anon: kb(&status, "RssAnon"), total_system: kb(&meminfo, "MemTotal") }
}

/// The highest `used_memory` seen by an `INFO` call in this process (Redis also samples its
/// peak; this one is sampled only by `INFO`).
static PEAK_USED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn memory(srv: &Shared, out: &mut String) {
    let m = proc_memory();
    // used_memory: Redis reports its allocator's count of allocated bytes. pmemkv-server
    // has no allocator counter; the closest measured number is the resident anonymous
    // memory (heap and stacks). used_memory_rss adds the resident pages of the mapped
    // store files, so mem_fragmentation_ratio here is (all resident) / (anonymous).
    let used = m.anon;
    let peak = PEAK_USED.fetch_max(used, Ordering::Relaxed).max(used);
    let frag = if used > 0 { m.rss as f64 / used as f64 } else { 0.0 };
    let cfg = srv.config.read();
    let policy = crate::config::param("maxmemory-policy").map_or_else(|| "noeviction".to_string(), |p| (p.get)(&cfg));
    let maxmemory: u64 = crate::config::param("maxmemory").and_then(|p| (p.get)(&cfg).parse().ok()).unwrap_or_default();
    drop(cfg);
    lines!(out,
        "used_memory" => used,
        "used_memory_human" => bytes_to_human(used),
        "used_memory_rss" => m.rss,
        "used_memory_rss_human" => bytes_to_human(m.rss),
        "used_memory_peak" => peak,
        "used_memory_peak_human" => bytes_to_human(peak),
        "used_memory_peak_perc" => format_args!("{:.2}%", if peak > 0 { used as f64 * 100.0 / peak as f64 } else { 0.0 }),
        // Not tracked: the split of used_memory into overhead, startup and dataset.
        "used_memory_overhead" => 0,
        "used_memory_startup" => 0,
        "used_memory_dataset" => 0,
        "used_memory_dataset_perc" => "0.00%",
        // Not tracked: allocator internals.
        "allocator_allocated" => 0,
        "allocator_active" => 0,
        "allocator_resident" => 0,
        "total_system_memory" => m.total_system,
        "total_system_memory_human" => bytes_to_human(m.total_system),
        // No Lua, no functions, no script cache: these are truly 0.
        "used_memory_lua" => 0,
        "used_memory_vm_eval" => 0,
        "used_memory_lua_human" => "0B",
        "used_memory_scripts_eval" => 0,
        "number_of_cached_scripts" => 0,
        "number_of_functions" => 0,
        "number_of_libraries" => 0,
        "used_memory_vm_functions" => 0,
        "used_memory_vm_total" => 0,
        "used_memory_vm_total_human" => "0B",
        "used_memory_functions" => 0,
        "used_memory_scripts" => 0,
        "used_memory_scripts_human" => "0B",
        "maxmemory" => maxmemory,
        "maxmemory_human" => bytes_to_human(maxmemory),
        "maxmemory_policy" => policy,
        // Not tracked: allocator fragmentation (no allocator statistics).
        "allocator_frag_ratio" => "0.00",
        "allocator_frag_bytes" => 0,
        "allocator_rss_ratio" => "0.00",
        "allocator_rss_bytes" => 0,
        "rss_overhead_ratio" => "0.00",
        "rss_overhead_bytes" => 0,
        "mem_fragmentation_ratio" => format_args!("{frag:.2}"),
        "mem_fragmentation_bytes" => m.rss as i64 - used as i64,
        "mem_not_counted_for_evict" => 0,
        // No replication.
        "mem_replication_backlog" => 0,
        "mem_total_replication_buffers" => 0,
        "mem_clients_slaves" => 0,
        // Not tracked: memory of client buffers.
        "mem_clients_normal" => 0,
        "mem_cluster_links" => 0,
        // The log is written through to the store: no AOF buffer.
        "mem_aof_buffer" => 0,
        // The Rust global allocator (the system's malloc).
        "mem_allocator" => "libc",
        "active_defrag_running" => 0,
        "lazyfree_pending_objects" => 0,
        "lazyfreed_objects" => 0,
    );
}

fn persistence(srv: &Shared, out: &mut String) {
    let st = srv.store.stats();
    lines!(out,
        // The store is open before the server accepts clients: never loading.
        "loading" => 0,
        "async_loading" => 0,
        // No fork, no copy-on-write.
        "current_cow_peak" => 0,
        "current_cow_size" => 0,
        "current_cow_size_age" => 0,
        "current_fork_perc" => "0.00",
        "current_save_keys_processed" => 0,
        "current_save_keys_total" => 0,
        "rdb_changes_since_last_save" => srv.dirty.load(Ordering::Relaxed),
        // SAVE/BGSAVE are checkpoints, run to completion before replying.
        "rdb_bgsave_in_progress" => 0,
        "rdb_last_save_time" => srv.last_save.load(Ordering::Relaxed),
        // A failed checkpoint fails the SAVE/BGSAVE that asked for it; no failure is
        // remembered afterwards (not tracked).
        "rdb_last_bgsave_status" => "ok",
        "rdb_last_bgsave_time_sec" => -1,
        "rdb_current_bgsave_time_sec" => -1,
        // Checkpoints since the store was opened (RESETSTAT does not reset it).
        "rdb_saves" => st.checkpoints,
        "rdb_last_cow_size" => 0,
        // Not tracked: keys seen when the store was opened.
        "rdb_last_load_keys_expired" => 0,
        "rdb_last_load_keys_loaded" => 0,
        // The engine's log is always on: it is the store.
        "aof_enabled" => 1,
        // Log compaction is the engine's business and is not reported as a rewrite.
        "aof_rewrite_in_progress" => 0,
        "aof_rewrite_scheduled" => 0,
        "aof_last_rewrite_time_sec" => -1,
        "aof_current_rewrite_time_sec" => -1,
        "aof_last_bgrewrite_status" => "ok",
        "aof_rewrites" => 0,
        "aof_rewrites_consecutive_failures" => 0,
        // Not tracked: the engine refuses writes after a failed log write (MISCONF
        // replies) but does not expose that state for reading.
        "aof_last_write_status" => "ok",
        "aof_last_cow_size" => 0,
        "module_fork_in_progress" => 0,
        "module_fork_last_cow_size" => 0,
        // Bytes of log records on disk.
        "aof_current_size" => st.log_bytes,
        // Not tracked: there is no base file.
        "aof_base_size" => 0,
        "aof_pending_rewrite" => 0,
        "aof_buffer_length" => 0,
        "aof_pending_bio_fsync" => 0,
        "aof_delayed_fsync" => 0,
    );
}

fn stats(srv: &Shared, out: &mut String) {
    let s = &srv.stats;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    lines!(out,
        "total_connections_received" => get(&srv.clients.total_received),
        "total_commands_processed" => get(&s.commands),
        "instantaneous_ops_per_sec" => s.ops_per_sec(),
        "total_net_input_bytes" => get(&s.net_input),
        "total_net_output_bytes" => get(&s.net_output),
        // No replication traffic.
        "total_net_repl_input_bytes" => 0,
        "total_net_repl_output_bytes" => 0,
        // Not tracked: instantaneous network rates.
        "instantaneous_input_kbps" => "0.00",
        "instantaneous_output_kbps" => "0.00",
        "instantaneous_input_repl_kbps" => "0.00",
        "instantaneous_output_repl_kbps" => "0.00",
        "rejected_connections" => get(&srv.clients.rejected),
        "sync_full" => 0,
        "sync_partial_ok" => 0,
        "sync_partial_err" => 0,
        // Not tracked: the engine drops expired keys lazily and in compaction without
        // counting them.
        "expired_keys" => 0,
        "expired_stale_perc" => "0.00",
        "expired_time_cap_reached_count" => 0,
        "expire_cycle_cpu_milliseconds" => 0,
        // No eviction.
        "evicted_keys" => 0,
        "evicted_clients" => 0,
        "total_eviction_exceeded_time" => 0,
        "current_eviction_exceeded_time" => 0,
        "keyspace_hits" => get(&s.keyspace_hits),
        "keyspace_misses" => get(&s.keyspace_misses),
        "pubsub_channels" => srv.pubsub.channel_count(),
        "pubsub_patterns" => srv.pubsub.pattern_count(),
        // No sharded pub/sub (a cluster feature).
        "pubsubshard_channels" => 0,
        // Never forks.
        "latest_fork_usec" => 0,
        "total_forks" => 0,
        "migrate_cached_sockets" => 0,
        "slave_expires_tracked_keys" => 0,
        // No active defragmentation, no client-side caching.
        "active_defrag_hits" => 0,
        "active_defrag_misses" => 0,
        "active_defrag_key_hits" => 0,
        "active_defrag_key_misses" => 0,
        "total_active_defrag_time" => 0,
        "current_active_defrag_time" => 0,
        "tracking_total_keys" => 0,
        "tracking_total_items" => 0,
        "tracking_total_prefixes" => 0,
        "unexpected_error_replies" => 0,
        "total_error_replies" => get(&s.error_replies),
        "dump_payload_sanitizations" => 0,
        // Not tracked: socket read and write calls.
        "total_reads_processed" => 0,
        "total_writes_processed" => 0,
        "io_threaded_reads_processed" => 0,
        "io_threaded_writes_processed" => 0,
        "reply_buffer_shrinks" => 0,
        "reply_buffer_expands" => 0,
    );
}

/// A replication id for this process (Redis makes a random one at start; there is no
/// replication to use it).
static REPLID: LazyLock<String> = LazyLock::new(|| random_hex(40));

fn replication(out: &mut String) {
    lines!(out,
        "role" => "master",
        "connected_slaves" => 0,
        "master_failover_state" => "no-failover",
        "master_replid" => *REPLID,
        "master_replid2" => "0000000000000000000000000000000000000000",
        "master_repl_offset" => 0,
        "second_repl_offset" => -1,
        "repl_backlog_active" => 0,
        // No backlog (Redis shows its configured size, which does not exist here).
        "repl_backlog_size" => 0,
        "repl_backlog_first_byte_offset" => 0,
        "repl_backlog_histlen" => 0,
    );
}

/// CPU seconds used, from `/proc/self/stat`: (user, system, children user, children
/// system).
fn cpu_times() -> [(u64, u64); 4] {
    // /proc reports clock ticks of USER_HZ, which is 100 on every Linux architecture.
    const HZ: u64 = 100;
    let stat = read_proc("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces):
    // state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest.split_whitespace().map(|w| w.parse().unwrap_or(0)).collect();
    let t = |i: usize| {
        let ticks = f.get(i).copied().unwrap_or(0);
        (ticks / HZ, (ticks % HZ) * (1_000_000 / HZ))
    };
    [t(11), t(12), t(13), t(14)]
}

fn cpu(out: &mut String) {
    let [user, sys, cuser, csys] = cpu_times();
    let f = |(s, us): (u64, u64)| format!("{s}.{us:06}");
    // Redis adds used_cpu_*_main_thread; there is no main thread here (the commands run on
    // tokio's worker threads), so those lines are left out, as Redis does where
    // RUSAGE_THREAD is missing.
    lines!(out,
        "used_cpu_sys" => f(sys),
        "used_cpu_user" => f(user),
        "used_cpu_sys_children" => f(csys),
        "used_cpu_user_children" => f(cuser),
    );
}

fn commandstats(srv: &Shared, out: &mut String) {
    let mut rows: Vec<_> = super::all().zip(&srv.stats.per_cmd).collect();
    rows.sort_by_key(|(c, _)| c.name);
    for (c, st) in rows {
        let calls = st.calls.load(Ordering::Relaxed);
        let usec = st.usec.load(Ordering::Relaxed);
        let rejected = st.rejected.load(Ordering::Relaxed);
        let failed = st.failed.load(Ordering::Relaxed);
        if calls == 0 && rejected == 0 && failed == 0 {
            continue;
        }
        // Redis divides as C floats; so does this.
        let per_call = if calls == 0 { 0.0 } else { usec as f32 / calls as f32 };
        let _ = write!(
            out,
            "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},\
             failed_calls={failed}\r\n",
            c.name
        );
    }
}

fn keyspace(srv: &Shared, out: &mut String) -> CmdResult {
    let dbs = srv.config.read().databases;
    for db in 0..dbs {
        // O(keys in the database): there is no per-database counter.
        let (keys, expires) = srv.colls.count_keys_in(&[db as u8])?;
        if keys > 0 || expires > 0 {
            // Not tracked: the average TTL (Redis samples it; 0 means "unknown" there too).
            let _ = write!(out, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
    }
    Ok(())
}

fn pmemkv(srv: &Shared, out: &mut String) {
    let st = srv.store.stats();
    lines!(out,
        "pmemkv_version" => env!("CARGO_PKG_VERSION"),
        "pmemkv_dir" => srv.store.path().display(),
        "pmemkv_memtable_entries" => st.memtable_entries,
        "pmemkv_memtable_bytes" => st.memtable_bytes,
        "pmemkv_runs" => st.runs,
        "pmemkv_run_entries" => st.run_entries,
        "pmemkv_run_bytes" => st.run_bytes,
        "pmemkv_segments" => st.segments,
        "pmemkv_segment_file_bytes" => st.segment_file_bytes,
        "pmemkv_log_bytes" => st.log_bytes,
        "pmemkv_log_dead_bytes" => st.log_dead_bytes,
        "pmemkv_next_seq" => st.next_seq,
        "pmemkv_syncs" => st.syncs,
        "pmemkv_batches" => st.batches,
        "pmemkv_checkpoints" => st.checkpoints,
        "pmemkv_merges" => st.merges,
        "pmemkv_segments_compacted" => st.segments_compacted,
        "pmemkv_bytes_relocated" => st.bytes_relocated,
    );
}

fn read_proc(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// Redis's `bytesToHuman`: `100B`, `895.41K`, `6.34M`, `23.54G`, …
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: &[(u64, &str)] = &[(1 << 10, "K"), (1 << 20, "M"), (1 << 30, "G"), (1 << 40, "T"), (1 << 50, "P")];
    if n < 1024 {
        return format!("{n}B");
    }
    for (i, &(div, unit)) in UNITS.iter().enumerate() {
        let next = UNITS.get(i + 1).map_or(1 << 60, |u| u.0);
        if n < next {
            return format!("{:.2}{unit}", n as f64 / div as f64);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_like_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(916_896), "895.41K");
        assert_eq!(bytes_to_human(6_643_712), "6.34M");
        assert_eq!(bytes_to_human(25_276_502_016), "23.54G");
        assert_eq!(bytes_to_human(1 << 40), "1.00T");
    }

    #[test]
    fn selection_follows_redis() {
        let s = |args: &[&str]| Selection::parse(&args.iter().map(|a| Bytes::from(a.to_string())).collect::<Vec<_>>());
        let d = s(&[]);
        assert!(d.has("server") && d.has("keyspace") && d.has("module_list") && d.has("errorstats"));
        assert!(!d.has("commandstats") && !d.has("latencystats") && !d.has_pmemkv());
        let a = s(&["ALL"]);
        assert!(a.has("commandstats") && a.has("latencystats") && !a.has_pmemkv());
        assert!(s(&["everything"]).has_pmemkv());
        assert!(s(&["Pmemkv"]).has_pmemkv());
        let one = s(&["CPU"]);
        assert!(one.has("cpu") && !one.has("server"));
    }

    #[test]
    fn cpu_times_parse() {
        let [user, sys, _, _] = cpu_times();
        // A running test has used some CPU, in whole ticks.
        assert!(user.0 * 1_000_000 + user.1 + sys.0 * 1_000_000 + sys.1 < 1_000_000_000_000);
        assert_eq!(user.1 % 10_000, 0);
    }
}
