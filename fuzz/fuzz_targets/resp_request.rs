//! Fuzzes request framing (`resp_server::protocol::request`): any bytes, parsed whole or
//! delivered in pieces (cut where the input's first bytes say), give the same commands and
//! the same outcome, never a panic. (The limits on well-formed requests are checked by the
//! proptests in `resp-server/tests/framing.rs`.)
#![no_main]
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use resp_server::protocol::request::{Limits, RequestParser};

/// Commands parsed, then the error text or `None` (waiting for more bytes).
fn parse(input: &[u8], cuts: &[usize], limits: Limits) -> (Vec<Vec<Vec<u8>>>, Option<String>) {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut from = 0;
    for end in cuts.iter().copied().chain(std::iter::once(input.len())) {
        let end = end.clamp(from, input.len());
        buf.extend_from_slice(&input[from..end]);
        from = end;
        loop {
            match parser.parse(&mut buf, limits) {
                Ok(Some(args)) => out.push(args.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => break,
                Err(e) => return (out, Some(e.0)),
            }
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    // The first byte picks the limits, the next two how the rest is cut.
    let limits = Limits { max_bulk: if data[0] & 1 == 0 { 512 << 20 } else { (data[0] >> 1) as i64 }, auth_required: data[0] & 0x80 != 0 };
    let step = 1 + data[1] as usize % 64;
    let offset = data[2] as usize % step;
    let input = &data[3..];
    let cuts: Vec<usize> = (offset..input.len()).step_by(step).collect();
    let whole = parse(input, &[], limits);
    let pieces = parse(input, &cuts, limits);
    assert_eq!(whole, pieces);
});
