//! INFO, CONFIG, COMMAND, SLOWLOG and LATENCY over a real socket, checked the way clients
//! read them: INFO parsed like redis-py's `parse_info`, replies compared with what Redis 7.0
//! sends for the same calls.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{cmd, err, TestServer};
use redis::Value;

/// An INFO value as redis-py's `parse_info` makes it: a number, a string, or (for
/// `a=1,b=2` values) a map.
#[derive(Debug, Clone, PartialEq)]
enum InfoValue {
    Int(i64),
    Float(f64),
    Str(String),
    Map(HashMap<String, InfoValue>),
}

impl InfoValue {
    fn int(&self) -> i64 {
        match self {
            InfoValue::Int(n) => *n,
            other => panic!("not an integer: {other:?}"),
        }
    }

    fn str(&self) -> String {
        match self {
            InfoValue::Str(s) => s.clone(),
            InfoValue::Int(n) => n.to_string(),
            other => panic!("not a string: {other:?}"),
        }
    }

    fn field(&self, name: &str) -> &InfoValue {
        match self {
            InfoValue::Map(m) => m.get(name).unwrap_or_else(|| panic!("no {name} in {m:?}")),
            other => panic!("not a map: {other:?}"),
        }
    }
}

/// redis-py's `get_value`.
fn info_value(v: &str) -> InfoValue {
    if !v.contains(',') || !v.contains('=') {
        if let Ok(n) = v.parse::<i64>() {
            return InfoValue::Int(n);
        }
        if let Ok(f) = v.parse::<f64>() {
            return InfoValue::Float(f);
        }
        return InfoValue::Str(v.to_string());
    }
    let mut m = HashMap::new();
    for item in v.split(',') {
        if let Some((k, v)) = item.split_once('=') {
            m.insert(k.to_string(), info_value(v));
        }
    }
    InfoValue::Map(m)
}

/// redis-py's `parse_info`: every `key:value` line of every section into one map.
fn parse_info(text: &str) -> HashMap<String, InfoValue> {
    let mut info = HashMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once(':').unwrap_or_else(|| panic!("INFO line without ':': {line:?}"));
        info.insert(k.to_string(), info_value(v));
    }
    info
}

/// The INFO text (RESP2 bulk string or RESP3 verbatim string).
fn info_text(c: &mut redis::Connection, sections: &[&str]) -> String {
    let mut args = vec!["INFO"];
    args.extend_from_slice(sections);
    match cmd(c, &args).unwrap() {
        Value::BulkString(b) => String::from_utf8(b).unwrap(),
        Value::VerbatimString { text, .. } => text,
        other => panic!("INFO replied {other:?}"),
    }
}

fn info(c: &mut redis::Connection, sections: &[&str]) -> HashMap<String, InfoValue> {
    parse_info(&info_text(c, sections))
}

/// The `# Title` lines of an INFO text.
fn titles(text: &str) -> Vec<&str> {
    text.lines().filter_map(|l| l.strip_prefix("# ")).collect()
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn strings(v: &Value) -> Vec<String> {
    let (Value::Array(items) | Value::Set(items)) = v else { panic!("not an array: {v:?}") };
    items
        .iter()
        .map(|i| match i {
            Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
            Value::SimpleString(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        })
        .collect()
}

/// A RESP2 flat array or RESP3 map as pairs.
fn pairs(v: Value) -> Vec<(Value, Value)> {
    match v {
        Value::Map(p) => p,
        Value::Array(items) => {
            assert!(items.len() % 2 == 0, "odd flat map {items:?}");
            let mut it = items.into_iter();
            let mut out = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            out
        }
        other => panic!("not a map: {other:?}"),
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn info_reads_like_redis_for_redis_py() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    for args in [
        &["SET", "a", "1"][..],
        &["SET", "b", "2"],
        &["SET", "t", "3", "EX", "100"],
        &["SELECT", "2"],
        &["SET", "x", "y"],
    ] {
        cmd(&mut c, args).unwrap();
    }
    cmd(&mut c, &["GET", "x"]).unwrap();
    cmd(&mut c, &["GET", "nope"]).unwrap();

    let text = info_text(&mut c, &[]);
    assert!(text.starts_with("# Server\r\nredis_version:7.0.15\r\n"), "{text}");
    assert!(text.ends_with("\r\n") && !text.ends_with("\r\n\r\n"));
    assert!(!text.replace("\r\n", "").contains('\n'), "bare LF in INFO");
    assert!(text.contains("\r\n\r\n# Clients\r\n"), "sections are separated by an empty line");
    assert_eq!(
        titles(&text),
        [
            "Server",
            "Clients",
            "Memory",
            "Persistence",
            "Stats",
            "Replication",
            "CPU",
            "Modules",
            "Errorstats",
            "Cluster",
            "Keyspace"
        ]
    );

    let i = parse_info(&text);
    assert_eq!(i["redis_version"].str(), "7.0.15");
    assert_eq!(i["redis_mode"].str(), "standalone");
    assert_eq!(i["arch_bits"].int(), 64);
    assert_eq!(i["process_id"].int(), std::process::id() as i64);
    assert_eq!(i["tcp_port"].int(), srv.addr.port() as i64);
    assert_eq!(i["run_id"].str(), srv.shared.run_id);
    assert!(i["uptime_in_seconds"].int() >= 0 && i["uptime_in_days"].int() == 0);
    assert!(i["os"].str().contains(std::env::consts::ARCH));
    assert_eq!(i["maxclients"].int(), 10_000);
    assert_eq!(i["blocked_clients"].int(), 0);
    let used = i["used_memory"].int();
    assert!(used > 0 && i["used_memory_rss"].int() >= used && i["used_memory_peak"].int() >= used);
    assert!(i["used_memory_human"].str().ends_with(['B', 'K', 'M', 'G']));
    assert!(matches!(i["mem_fragmentation_ratio"], InfoValue::Float(r) if r >= 1.0));
    assert_eq!(i["maxmemory"].int(), 0);
    assert_eq!(i["maxmemory_policy"].str(), "noeviction");
    assert_eq!(i["loading"].int(), 0);
    assert_eq!(i["aof_enabled"].int(), 1);
    assert_eq!(i["aof_last_write_status"].str(), "ok");
    assert!(i["aof_current_size"].int() > 0, "the log holds the writes");
    assert_eq!(i["rdb_changes_since_last_save"].int(), 4);
    assert!(i["rdb_last_save_time"].int() > 1_600_000_000);
    assert_eq!(i["role"].str(), "master");
    assert_eq!(i["connected_slaves"].int(), 0);
    assert_eq!(i["master_replid"].str().len(), 40);
    assert!(matches!(i["used_cpu_user"], InfoValue::Float(_) | InfoValue::Int(_)));
    assert!(i.contains_key("used_cpu_sys"));
    assert_eq!(i["cluster_enabled"].int(), 0);
    // Commands so far: SET ×4, SELECT, GET ×2 (INFO counts once it has run), plus what the
    // client sent when connecting.
    assert!(i["total_commands_processed"].int() >= 7);
    assert!(i["keyspace_hits"].int() >= 1 && i["keyspace_misses"].int() >= 1);
    assert!(i["total_net_input_bytes"].int() > 0 && i["total_net_output_bytes"].int() > 0);
    assert_eq!(i["rejected_connections"].int(), 0);
    assert_eq!(i["expired_keys"].int(), 0);
    assert_eq!(i["evicted_keys"].int(), 0);
    assert_eq!(i["pubsub_channels"].int(), 0);
    // Keyspace: only the non-empty databases, with their key and expiry counts.
    assert_eq!(i["db0"].field("keys").int(), 3);
    assert_eq!(i["db0"].field("expires").int(), 1);
    assert_eq!(i["db0"].field("avg_ttl").int(), 0);
    assert_eq!(i["db2"].field("keys").int(), 1);
    assert_eq!(i["db2"].field("expires").int(), 0);
    assert!(!i.contains_key("db1"));

    // Clients come and go.
    assert_eq!(i["connected_clients"].int(), 1);
    let before = i["total_connections_received"].int();
    let extra = srv.conn();
    let i = info(&mut c, &["clients", "stats"]);
    assert_eq!(i["connected_clients"].int(), 2);
    assert_eq!(i["total_connections_received"].int(), before + 1);
    drop(extra);
    wait_until("the closed client to leave", || info(&mut c, &["clients"])["connected_clients"].int() == 1);

    // Deleting every key of db2 removes its line.
    cmd(&mut c, &["DEL", "x"]).unwrap();
    assert!(!info(&mut c, &["keyspace"]).contains_key("db2"));
}

#[test]
fn info_sections_and_commandstats() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let text = info_text(&mut c, &["server", "CPU"]);
    assert_eq!(titles(&text), ["Server", "CPU"]);
    assert_eq!(info_text(&mut c, &["nosuchsection"]), "");
    assert_eq!(titles(&info_text(&mut c, &["keyspace", "default"])).len(), 11);

    let all = info_text(&mut c, &["all"]);
    for t in ["Commandstats", "Latencystats", "Errorstats", "Keyspace"] {
        assert!(titles(&all).contains(&t), "{t} missing from INFO all");
    }
    assert!(!titles(&all).contains(&"Pmemkv"), "the Pmemkv section is module-like: not in INFO all");
    let every = info_text(&mut c, &["everything"]);
    assert_eq!(titles(&every).last(), Some(&"Pmemkv"));
    let pm = info(&mut c, &["pmemkv"]);
    assert_eq!(pm["pmemkv_dir"].str(), srv.shared.store.path().display().to_string());
    assert!(pm["pmemkv_segments"].int() >= 1);
    assert!(pm.contains_key("pmemkv_log_dead_bytes") && pm.contains_key("pmemkv_checkpoints"));

    // Per-command statistics: calls, failures (ran and replied with an error) and
    // rejections (refused before running).
    for _ in 0..3 {
        cmd(&mut c, &["SET", "k", "v"]).unwrap();
    }
    cmd(&mut c, &["GET", "k"]).unwrap();
    err(&mut c, &["GET"]);
    err(&mut c, &["SET", "k", "v", "EX", "notanumber"]);
    let s = info(&mut c, &["commandstats"]);
    let set = &s["cmdstat_set"];
    assert_eq!(set.field("calls").int(), 4);
    assert_eq!(set.field("failed_calls").int(), 1);
    assert_eq!(set.field("rejected_calls").int(), 0);
    assert!(set.field("usec").int() >= 0);
    assert!(matches!(set.field("usec_per_call"), InfoValue::Float(_) | InfoValue::Int(_)));
    let get = &s["cmdstat_get"];
    assert_eq!((get.field("calls").int(), get.field("rejected_calls").int()), (1, 1));
    assert!(s["cmdstat_info"].field("calls").int() >= 1);
    assert!(!s.contains_key("cmdstat_del"), "commands never called are not listed");
    assert!(info(&mut c, &["stats"])["total_error_replies"].int() >= 2);

    // RESP3: a verbatim string of format txt.
    let mut c3 = srv.conn3();
    match cmd(&mut c3, &["INFO", "server"]).unwrap() {
        Value::VerbatimString { format, text } => {
            assert_eq!(format, redis::VerbatimFormat::Text);
            assert!(text.starts_with("# Server\r\n"));
        }
        other => panic!("INFO in RESP3 replied {other:?}"),
    }
}

#[test]
fn config_get_set_rewrite_resetstat() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pmemkv.conf");
    std::fs::write(&file, "timeout 0\n").unwrap();
    let f = file.clone();
    let srv = TestServer::start_with(move |cfg| cfg.file = Some(f));
    let mut c = srv.conn();

    assert_eq!(
        cmd(&mut c, &["CONFIG", "GET", "maxclients"]).unwrap(),
        Value::Array(vec![bulk("maxclients"), bulk("10000")])
    );
    // A name without glob characters is answered under the name as given, like Redis.
    assert_eq!(cmd(&mut c, &["CONFIG", "GET", "TIMEOUT"]).unwrap(), Value::Array(vec![bulk("TIMEOUT"), bulk("0")]));
    assert_eq!(cmd(&mut c, &["CONFIG", "GET", "nosuch"]).unwrap(), Value::Array(vec![]));
    let names: Vec<Value> =
        pairs(cmd(&mut c, &["CONFIG", "GET", "APPEND*", "appendonly"]).unwrap()).into_iter().map(|(k, _)| k).collect();
    assert_eq!(names, [bulk("appendfsync"), bulk("appendonly")]);
    assert!(pairs(cmd(&mut c, &["CONFIG", "GET", "*"]).unwrap()).len() >= 20);
    let mut c3 = srv.conn3();
    assert_eq!(
        cmd(&mut c3, &["CONFIG", "GET", "maxclients"]).unwrap(),
        Value::Map(vec![(bulk("maxclients"), bulk("10000"))]),
        "CONFIG GET is a map in RESP3"
    );

    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "timeout", "30", "maxclients", "500"]).unwrap(), Value::Okay);
    let mut got = pairs(cmd(&mut c, &["CONFIG", "GET", "timeout", "maxclients"]).unwrap());
    got.sort_by_key(|(k, _)| format!("{k:?}"));
    assert_eq!(got, [(bulk("maxclients"), bulk("500")), (bulk("timeout"), bulk("30"))]);
    // All or nothing.
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "timeout", "40", "maxclients", "abc"]),
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"
    );
    assert_eq!(srv.shared.config.read().timeout, 30);
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "nosuch", "1"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "databases", "4"]),
        "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "timeout", "1", "TIMEOUT", "2"]),
        "ERR CONFIG SET failed (possibly related to argument 'TIMEOUT') - duplicate parameter"
    );
    assert_eq!(err(&mut c, &["CONFIG", "SET", "timeout", "1", "maxclients"]), "ERR syntax error");
    // Value checks worded and bounded as Redis 7.0 words them.
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "maxclients", "0"]),
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 \
         inclusive"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "appendfsync", "sometimes"]),
        "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: \
         everysec, always, no"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "save", "900 1 300"]),
        "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    );
    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "save", "900 1 300 10"]).unwrap(), Value::Okay);
    assert_eq!(err(&mut c, &["CONFIG", "SET", "timeout"]), "ERR wrong number of arguments for 'config|set' command");
    assert_eq!(err(&mut c, &["CONFIG", "GET"]), "ERR wrong number of arguments for 'config|get' command");
    assert_eq!(err(&mut c, &["CONFIG"]), "ERR wrong number of arguments for 'config' command");
    assert_eq!(err(&mut c, &["CONFIG", "nope"]), "ERR unknown subcommand 'nope'. Try CONFIG HELP.");
    assert_eq!(srv.shared.config.read().timeout, 30);

    // REWRITE persists the live values to the file the configuration came from.
    assert_eq!(cmd(&mut c, &["CONFIG", "REWRITE"]).unwrap(), Value::Okay);
    let mut back = resp_server::Config::default();
    back.apply_file(&file).unwrap();
    assert_eq!((back.timeout, back.maxclients), (30, 500));

    // RESETSTAT clears the INFO counters but keeps the slow log (as Redis 7.0 does).
    cmd(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]).unwrap();
    cmd(&mut c, &["SET", "k", "v"]).unwrap();
    let slow = cmd(&mut c, &["SLOWLOG", "LEN"]).unwrap();
    assert!(info(&mut c, &["stats"])["total_commands_processed"].int() > 5);
    assert_eq!(cmd(&mut c, &["CONFIG", "RESETSTAT"]).unwrap(), Value::Okay);
    let i = info(&mut c, &["stats", "commandstats"]);
    // Only RESETSTAT itself has been counted since.
    assert_eq!(i["total_commands_processed"].int(), 1);
    assert_eq!(i["total_connections_received"].int(), 0);
    assert_eq!(i["cmdstat_config"].field("calls").int(), 1);
    assert!(!i.contains_key("cmdstat_set"));
    let Value::Int(before) = slow else { panic!("SLOWLOG LEN replied {slow:?}") };
    let Value::Int(after) = cmd(&mut c, &["SLOWLOG", "LEN"]).unwrap() else { panic!() };
    assert!(after > before, "RESETSTAT must not empty the slow log ({before} -> {after})");

    let help = strings(&cmd(&mut c, &["CONFIG", "HELP"]).unwrap());
    assert_eq!(help[0], "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    assert_eq!(help.last().unwrap(), "    Prints this help.");
}

#[test]
fn config_rewrite_needs_a_file() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(err(&mut c, &["CONFIG", "REWRITE"]), "ERR The server is running without a config file");
    assert_eq!(err(&mut c, &["CONFIG", "REWRITE", "x"]), "ERR wrong number of arguments for 'config|rewrite' command");
}

#[test]
fn command_describes_the_table() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    let n = resp_server::cmd::count();
    assert_eq!(cmd(&mut c, &["COMMAND", "COUNT"]).unwrap(), Value::Int(n as i64));
    let Value::Array(all) = cmd(&mut c, &["COMMAND"]).unwrap() else { panic!() };
    assert_eq!(all.len(), n);
    let Value::Array(all_info) = cmd(&mut c, &["COMMAND", "INFO"]).unwrap() else { panic!() };
    assert_eq!(all_info.len(), n);

    let Value::Array(v) = cmd(&mut c, &["COMMAND", "INFO", "get", "nosuch", "CONFIG"]).unwrap() else { panic!() };
    assert_eq!(v.len(), 3);
    let Value::Array(get) = &v[0] else { panic!("{v:?}") };
    assert_eq!(get.len(), 10);
    assert_eq!(get[0], bulk("get"));
    assert_eq!(get[1], Value::Int(2));
    assert_eq!(strings(&get[2]), ["readonly", "fast"]);
    assert_eq!(get[3..6], [Value::Int(1), Value::Int(1), Value::Int(1)]);
    assert_eq!(strings(&get[6]), ["@read", "@string", "@fast"]);
    assert_eq!(v[1], Value::Nil);
    let Value::Array(config) = &v[2] else { panic!("{v:?}") };
    assert_eq!(config[1], Value::Int(-2));
    let Value::Array(subs) = &config[9] else { panic!("{config:?}") };
    let get_sub = subs
        .iter()
        .find_map(|s| match s {
            Value::Array(e) if e[0] == bulk("config|get") => Some(e.clone()),
            _ => None,
        })
        .expect("config|get is a subcommand of config");
    assert_eq!(get_sub[1], Value::Int(-3));

    // RESP3: flags and categories are sets.
    let mut c3 = srv.conn3();
    let Value::Array(v) = cmd(&mut c3, &["COMMAND", "INFO", "get"]).unwrap() else { panic!() };
    let Value::Array(get) = &v[0] else { panic!() };
    assert!(matches!(get[2], Value::Set(_)), "{:?}", get[2]);

    // DOCS: name → map of summary, since, group (and complexity where known).
    let docs = pairs(cmd(&mut c, &["COMMAND", "DOCS", "get", "nosuch", "slowlog"]).unwrap());
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].0, bulk("get"));
    let get_docs = pairs(docs[0].1.clone());
    assert_eq!(get_docs[0].0, bulk("summary"));
    assert!(get_docs.contains(&(bulk("since"), bulk("1.0.0"))));
    assert!(get_docs.contains(&(bulk("group"), bulk("string"))));
    let slowlog_docs = pairs(docs[1].1.clone());
    let (_, subs) = slowlog_docs.iter().find(|(k, _)| *k == bulk("subcommands")).expect("containers list subcommands");
    assert!(pairs(subs.clone()).iter().any(|(k, _)| *k == bulk("slowlog|get")));
    let Value::Map(all_docs) = cmd(&mut c3, &["COMMAND", "DOCS"]).unwrap() else { panic!() };
    assert_eq!(all_docs.len(), n);

    // LIST: every command, containers followed by their subcommands.
    let list = strings(&cmd(&mut c, &["COMMAND", "LIST"]).unwrap());
    for command in resp_server::cmd::all() {
        assert!(list.iter().any(|l| l == command.name), "{} missing from COMMAND LIST", command.name);
    }
    assert!(list.iter().any(|l| l == "config|set"));
    let conf = strings(&cmd(&mut c, &["COMMAND", "LIST", "FILTERBY", "PATTERN", "CONF*"]).unwrap());
    assert!(conf.contains(&"config".to_string()) && conf.iter().all(|l| l.starts_with("config")), "{conf:?}");
    let string = strings(&cmd(&mut c, &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "string"]).unwrap());
    assert!(string.contains(&"get".to_string()) && !string.contains(&"del".to_string()), "{string:?}");
    assert_eq!(cmd(&mut c, &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"]).unwrap(), Value::Array(vec![]));
    assert_eq!(cmd(&mut c, &["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]).unwrap(), Value::Array(vec![]));
    assert_eq!(err(&mut c, &["COMMAND", "LIST", "FILTERBY", "foo", "x"]), "ERR syntax error");
    assert_eq!(err(&mut c, &["COMMAND", "LIST", "x"]), "ERR syntax error");

    // GETKEYS, with Redis's errors.
    assert_eq!(strings(&cmd(&mut c, &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]).unwrap()), ["a", "b"]);
    assert_eq!(strings(&cmd(&mut c, &["COMMAND", "GETKEYS", "get", "k"]).unwrap()), ["k"]);
    assert_eq!(strings(&cmd(&mut c, &["COMMAND", "GETKEYS", "rename", "a", "b"]).unwrap()), ["a", "b"]);
    assert_eq!(err(&mut c, &["COMMAND", "GETKEYS", "nosuch", "a"]), "ERR Invalid command specified");
    assert_eq!(err(&mut c, &["COMMAND", "GETKEYS", "ping", "a"]), "ERR The command has no key arguments");
    assert_eq!(
        err(&mut c, &["COMMAND", "GETKEYS", "get", "a", "b"]),
        "ERR Invalid number of arguments specified for command"
    );
    // Commands whose keys move with their arguments: from numkeys or STREAMS, as Redis 7.0.15
    // replies (checked side by side with redis-cli).
    let keys = |c: &mut redis::Connection, args: &[&str]| {
        let mut full = vec!["COMMAND", "GETKEYS"];
        full.extend_from_slice(args);
        strings(&cmd(c, &full).unwrap())
    };
    assert_eq!(keys(&mut c, &["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"]), ["d", "a", "b"]);
    assert_eq!(keys(&mut c, &["zinterstore", "d", "1", "a"]), ["d", "a"]);
    assert_eq!(keys(&mut c, &["SINTERCARD", "3", "a", "b", "c"]), ["a", "b", "c"]);
    assert_eq!(keys(&mut c, &["LMPOP", "2", "a", "b", "LEFT"]), ["a", "b"]);
    assert_eq!(keys(&mut c, &["BLMPOP", "0", "2", "a", "b", "LEFT"]), ["a", "b"]);
    assert_eq!(keys(&mut c, &["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"]), ["s1", "s2"]);
    assert_eq!(keys(&mut c, &["XREADGROUP", "GROUP", "g", "c", "streams", "s1", "0"]), ["s1"]);
    assert_eq!(keys(&mut c, &["XREAD", "STREAMS", "s1", "s2", "0"]), ["s1"]);
    for bad in [
        &["ZUNIONSTORE", "d", "3", "a", "b"][..],
        &["ZUNIONSTORE", "d", "0", "a"],
        &["ZUNIONSTORE", "d", "x", "a"],
        &["ZUNIONSTORE", "d", "-1", "a"],
        &["SINTERCARD", "3", "a", "b"],
        &["LMPOP", "0", "a", "LEFT"],
        &["XREAD", "COUNT", "1", "BLOCK", "0"],
        &["XREAD", "COUNT", "1", "STREAMS", "s"],
    ] {
        let mut full = vec!["COMMAND", "GETKEYS"];
        full.extend_from_slice(bad);
        assert_eq!(err(&mut c, &full), "ERR Invalid arguments specified for command", "{bad:?}");
    }
    assert_eq!(
        err(&mut c, &["COMMAND", "GETKEYS", "LMPOP", "2", "a"]),
        "ERR Invalid number of arguments specified for command"
    );
    assert_eq!(
        err(&mut c, &["COMMAND", "GETKEYS", "get"]),
        "ERR wrong number of arguments for 'command|getkeys' command"
    );
    assert_eq!(err(&mut c, &["COMMAND", "COUNT", "x"]), "ERR wrong number of arguments for 'command|count' command");
    assert_eq!(err(&mut c, &["COMMAND", "foo"]), "ERR unknown subcommand 'foo'. Try COMMAND HELP.");
    assert_eq!(
        strings(&cmd(&mut c, &["command", "help"]).unwrap())[0],
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
}

#[test]
fn slowlog_records_commands_over_the_threshold() {
    let srv = TestServer::start_with(|cfg| cfg.slowlog_log_slower_than = 0);
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["SLOWLOG", "RESET"]).unwrap(), Value::Okay);
    cmd(&mut c, &["CLIENT", "SETNAME", "tester"]).unwrap();
    cmd(&mut c, &["SET", "k", "v"]).unwrap();
    // The newest entry first; SLOWLOG GET itself is logged only after it ran.
    let Value::Array(entries) = cmd(&mut c, &["SLOWLOG", "GET", "1"]).unwrap() else { panic!() };
    assert_eq!(entries.len(), 1);
    let Value::Array(e) = &entries[0] else { panic!("{entries:?}") };
    assert_eq!(e.len(), 6);
    let (Value::Int(id), Value::Int(time), Value::Int(micros)) = (&e[0], &e[1], &e[2]) else { panic!("{e:?}") };
    assert!(*id > 0 && *micros >= 0);
    assert!((*time - resp_server::shared::unix_secs() as i64).abs() < 60);
    assert_eq!(strings(&e[3]), ["SET", "k", "v"]);
    assert!(strings(&Value::Array(vec![e[4].clone()]))[0].starts_with("127.0.0.1:"), "{:?}", e[4]);
    assert_eq!(e[5], bulk("tester"));

    // RESET, then RESET itself is the only entry (as in Redis).
    assert_eq!(cmd(&mut c, &["SLOWLOG", "RESET"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["SLOWLOG", "LEN"]).unwrap(), Value::Int(1));
    for i in 0..20 {
        cmd(&mut c, &["SET", "k", &i.to_string()]).unwrap();
    }
    let Value::Array(default) = cmd(&mut c, &["SLOWLOG", "GET"]).unwrap() else { panic!() };
    assert_eq!(default.len(), 10, "SLOWLOG GET defaults to 10 entries");
    let Value::Int(len) = cmd(&mut c, &["SLOWLOG", "LEN"]).unwrap() else { panic!() };
    let Value::Array(every) = cmd(&mut c, &["SLOWLOG", "GET", "-1"]).unwrap() else { panic!() };
    assert_eq!(every.len() as i64, len + 1, "the LEN call was logged in between");
    // Newest first: ids decrease.
    let ids: Vec<i64> = every
        .iter()
        .map(|e| match e {
            Value::Array(f) => match f[0] {
                Value::Int(id) => id,
                _ => panic!(),
            },
            _ => panic!(),
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");

    // The length bound.
    cmd(&mut c, &["CONFIG", "SET", "slowlog-max-len", "3"]).unwrap();
    for _ in 0..5 {
        cmd(&mut c, &["PING"]).unwrap();
    }
    assert_eq!(cmd(&mut c, &["SLOWLOG", "LEN"]).unwrap(), Value::Int(3));

    assert_eq!(err(&mut c, &["SLOWLOG", "GET", "-2"]), "ERR count should be greater than or equal to -1");
    assert_eq!(err(&mut c, &["SLOWLOG", "GET", "x"]), "ERR count should be greater than or equal to -1");
    assert_eq!(
        err(&mut c, &["SLOWLOG", "GET", "1", "2"]),
        "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."
    );
    assert_eq!(err(&mut c, &["SLOWLOG", "LEN", "x"]), "ERR wrong number of arguments for 'slowlog|len' command");
    assert_eq!(err(&mut c, &["SLOWLOG", "foo"]), "ERR unknown subcommand 'foo'. Try SLOWLOG HELP.");
    assert_eq!(err(&mut c, &["SLOWLOG"]), "ERR wrong number of arguments for 'slowlog' command");
    let help = strings(&cmd(&mut c, &["SLOWLOG", "HELP"]).unwrap());
    assert_eq!(help.len(), 12);
    assert_eq!(help[1], "GET [<count>]");
}

#[test]
fn slowlog_off_by_default_for_fast_commands() {
    let srv = TestServer::start_with(|cfg| cfg.slowlog_log_slower_than = -1);
    let mut c = srv.conn();
    cmd(&mut c, &["SET", "k", "v"]).unwrap();
    assert_eq!(cmd(&mut c, &["SLOWLOG", "LEN"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["SLOWLOG", "GET"]).unwrap(), Value::Array(vec![]));
}

#[test]
fn latency_monitoring_is_off() {
    let srv = TestServer::start();
    let mut c = srv.conn();
    assert_eq!(cmd(&mut c, &["LATENCY", "LATEST"]).unwrap(), Value::Array(vec![]));
    assert_eq!(cmd(&mut c, &["LATENCY", "HISTORY", "command"]).unwrap(), Value::Array(vec![]));
    assert_eq!(cmd(&mut c, &["LATENCY", "RESET"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["LATENCY", "RESET", "command", "fork"]).unwrap(), Value::Int(0));
    assert_eq!(err(&mut c, &["LATENCY", "GRAPH", "command"]), "ERR No samples available for event 'command'");
    let Value::BulkString(doctor) = cmd(&mut c, &["LATENCY", "DOCTOR"]).unwrap() else { panic!() };
    let doctor = String::from_utf8(doctor).unwrap();
    assert!(doctor.starts_with("I'm sorry, Dave, I can't do that. Latency monitoring is disabled"), "{doctor}");
    assert_eq!(err(&mut c, &["LATENCY", "HISTORY"]), "ERR wrong number of arguments for 'latency|history' command");
    assert_eq!(err(&mut c, &["LATENCY", "LATEST", "x"]), "ERR wrong number of arguments for 'latency|latest' command");
    assert_eq!(err(&mut c, &["LATENCY", "foo"]), "ERR unknown subcommand 'foo'. Try LATENCY HELP.");
    let help = strings(&cmd(&mut c, &["LATENCY", "HELP"]).unwrap());
    assert_eq!(help[0], "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    assert_eq!(help.len(), 17);
    let mut c3 = srv.conn3();
    assert_eq!(cmd(&mut c3, &["LATENCY", "HISTOGRAM"]).unwrap(), Value::Map(vec![]));
    assert!(matches!(cmd(&mut c3, &["LATENCY", "DOCTOR"]).unwrap(), Value::VerbatimString { .. }));
}

/// `CONFIG SET appendfsync` reaches the engine: switching from `no` to `everysec` starts
/// the once-a-second fsync of the log (seen in INFO's `pmemkv_syncs`), and switching back to
/// `no` first makes what was acknowledged under `everysec` durable.
#[test]
fn config_set_appendfsync_is_live() {
    let srv = TestServer::start_with(|cfg| cfg.appendfsync = resp_server::config::AppendFsync::No);
    let mut c = srv.conn();
    let syncs = |c: &mut redis::Connection| info(c, &["pmemkv"])["pmemkv_syncs"].int();
    assert_eq!(cmd(&mut c, &["SET", "k", "1"]).unwrap(), Value::Okay);
    let before = syncs(&mut c);
    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "appendfsync", "everysec"]).unwrap(), Value::Okay);
    assert_eq!(
        cmd(&mut c, &["CONFIG", "GET", "appendfsync"]).unwrap(),
        Value::Array(vec![bulk("appendfsync"), bulk("everysec")])
    );
    wait_until("the flusher's first fsync after CONFIG SET appendfsync everysec", || syncs(&mut c) > before);

    assert_eq!(cmd(&mut c, &["SET", "k", "2"]).unwrap(), Value::Okay);
    let before = syncs(&mut c);
    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "appendfsync", "no"]).unwrap(), Value::Okay);
    assert!(syncs(&mut c) > before, "switching to appendfsync no did not sync what everysec had acknowledged");
}
