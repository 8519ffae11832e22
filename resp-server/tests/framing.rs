//! Property tests of request framing (`protocol::request`), the first code every byte a
//! client sends goes through:
//! - any sequence of commands, encoded as multibulk or inline requests and delivered in
//!   reads of any sizes, parses back to exactly those commands;
//! - any bytes at all (valid requests with damage, or noise made of protocol tokens), fed
//!   whole or in pieces, give the same commands and then the same outcome (an error with
//!   the same text, or a wait for more bytes), never a panic, and never an argument longer
//!   than `proto-max-bulk-len` from a multibulk request;
//! - a client that has not authenticated cannot make the parser accept a multibulk request
//!   of more than 10 arguments or a bulk argument over 16 KiB.

use bytes::BytesMut;
use proptest::prelude::*;
use resp_server::protocol::request::{split_args, Limits, ProtocolError, RequestParser, INLINE_MAX};

type Command = Vec<Vec<u8>>;

/// What parsing a byte stream produced: its commands, then how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    commands: Vec<Command>,
    /// `Some(error text)` if the stream broke the protocol; `None` if the parser was left
    /// waiting for more bytes (or the stream ended on a request boundary).
    error: Option<String>,
}

fn to_vecs(args: Vec<bytes::Bytes>) -> Command {
    args.iter().map(|a| a.to_vec()).collect()
}

/// Parses `input` delivered in reads that end at `cuts` (ascending offsets, any values).
fn parse_in_pieces(input: &[u8], cuts: &[usize], limits: Limits) -> Outcome {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut commands = Vec::new();
    let mut from = 0;
    let ends = cuts.iter().map(|&c| c.min(input.len())).chain(std::iter::once(input.len()));
    for end in ends {
        if end < from {
            continue;
        }
        buf.extend_from_slice(&input[from..end]);
        from = end;
        loop {
            match parser.parse(&mut buf, limits) {
                Ok(Some(args)) => commands.push(to_vecs(args)),
                Ok(None) => break,
                Err(ProtocolError(e)) => return Outcome { commands, error: Some(e) },
            }
        }
    }
    Outcome { commands, error: None }
}

fn multibulk(cmd: &Command) -> Vec<u8> {
    let mut out = format!("*{}\r\n", cmd.len()).into_bytes();
    for a in cmd {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// An inline form of `cmd` that [`split_args`] turns back into it: each argument quoted with
/// `"…"` and every byte written as a `\xHH` escape, so any bytes survive.
fn inline(cmd: &Command) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in cmd.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.push(b'"');
        for b in a {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
        out.push(b'"');
    }
    out.extend_from_slice(b"\r\n");
    out
}

const OPEN: Limits = Limits { max_bulk: 512 << 20, auth_required: false };

fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..24),
        // Bytes that look like the protocol inside an argument.
        proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'*'), Just(b'$'), Just(b'"')], 0..8),
        // Now and then an argument larger than one read.
        proptest::collection::vec(any::<u8>(), 1000..5000),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    proptest::collection::vec(arg(), 1..6)
}

/// Noise made of the protocol's own tokens, so that it gets past the first byte often.
fn token_noise() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"-".to_vec()),
        Just(b"0".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"'".to_vec()),
        Just(b"\\x4".to_vec()),
        (0u32..40).prop_map(|n| n.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 1..4),
        Just(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".to_vec()),
    ];
    proptest::collection::vec(token, 0..60).prop_map(|t| t.concat())
}

fn cuts(max: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..max.max(1), 0..12).prop_map(|mut c| {
        c.sort_unstable();
        c
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Commands in either request form, in reads of any sizes, come back unchanged.
    #[test]
    fn commands_survive_any_split(
        cmds in proptest::collection::vec((command(), any::<bool>()), 1..8),
        cut_points in cuts(40_000),
    ) {
        let mut input = Vec::new();
        for (cmd, as_inline) in &cmds {
            // An inline request longer than 64 KiB is refused (as by Redis): those go multibulk.
            let line = inline(cmd);
            input.extend(if *as_inline && line.len() <= INLINE_MAX { line } else { multibulk(cmd) });
        }
        let got = parse_in_pieces(&input, &cut_points, OPEN);
        let want: Vec<Command> = cmds.iter().map(|(c, _)| c.clone()).collect();
        prop_assert_eq!(got, Outcome { commands: want, error: None });
    }

    /// Damaged or random input: the same result whole or in pieces, and no panic.
    #[test]
    fn any_bytes_parse_the_same_whole_or_in_pieces(
        input in prop_oneof![
            token_noise(),
            proptest::collection::vec(any::<u8>(), 0..200),
            // A valid pipeline with one byte changed and the rest cut off somewhere.
            (proptest::collection::vec(command(), 1..4), any::<prop::sample::Index>(), any::<u8>(), any::<prop::sample::Index>())
                .prop_map(|(cmds, at, byte, keep)| {
                    let mut v: Vec<u8> = cmds.iter().flat_map(multibulk).collect();
                    let i = at.index(v.len());
                    v[i] = byte;
                    let keep = keep.index(v.len() + 1);
                    v.truncate(keep);
                    v
                }),
        ],
        cut_points in cuts(300),
        max_bulk in prop_oneof![Just(512i64 << 20), 0i64..64],
        auth_required in any::<bool>(),
    ) {
        let limits = Limits { max_bulk, auth_required };
        let whole = parse_in_pieces(&input, &[], limits);
        let pieces = parse_in_pieces(&input, &cut_points, limits);
        prop_assert_eq!(&whole, &pieces);
        if let Some(e) = &whole.error {
            // Redis's wording: the connection replies `-ERR Protocol error: <this>`.
            prop_assert!(!e.is_empty() && !e.contains('\n'), "error text {:?}", e);
        }
    }

    /// The limits hold for multibulk requests, however they are split: no argument over
    /// `max_bulk`, and before authentication at most 10 arguments of at most 16 KiB each.
    #[test]
    fn multibulk_limits_hold(
        cmd in proptest::collection::vec(prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            proptest::collection::vec(any::<u8>(), 16_000..17_000),
        ], 1..14),
        max_bulk in 1i64..50,
        auth_required in any::<bool>(),
        cut_points in cuts(40_000),
    ) {
        let input = multibulk(&cmd);
        let limits = Limits { max_bulk: if auth_required { 1 << 20 } else { max_bulk }, auth_required };
        let got = parse_in_pieces(&input, &cut_points, limits);
        let too_many = auth_required && cmd.len() > 10;
        let too_long = if auth_required {
            cmd.iter().any(|a| a.len() > 16 * 1024)
        } else {
            cmd.iter().any(|a| a.len() as i64 > max_bulk)
        };
        if too_many || too_long {
            prop_assert!(got.commands.is_empty());
            let e = got.error.expect("a request over the limits is refused");
            prop_assert!(
                ["unauthenticated multibulk length", "unauthenticated bulk length", "invalid bulk length"].contains(&e.as_str()),
                "unexpected error {:?}", e
            );
        } else {
            prop_assert_eq!(got, Outcome { commands: vec![cmd], error: None });
        }
    }

    /// `split_args` (inline requests, and redis.conf lines) never panics, and what it splits
    /// quotes back to the same arguments.
    #[test]
    fn split_args_round_trips_its_own_output(line in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Some(args) = split_args(&line) {
            let requoted = inline(&args);
            let again = split_args(&requoted[..requoted.len() - 2]).expect("quoted arguments split");
            prop_assert_eq!(again, args);
        }
    }
}
