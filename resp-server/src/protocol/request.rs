//! Request framing: turns the bytes a client sent into commands (argument vectors).
//!
//! Pure and bounded: [`RequestParser::parse`] looks only at the buffer it is given, never does
//! I/O, and either returns a complete command (consuming its bytes), `Ok(None)` when more bytes
//! are needed, or a [`ProtocolError`] whose text is Redis's (the connection then replies
//! `-ERR Protocol error: …` and closes). Both Redis request forms are accepted:
//!
//! ```text
//! *2\r\n$3\r\nGET\r\n$3\r\nkey\r\n      multibulk (what client libraries send)
//! GET key\r\n                           inline (what a person types into telnet)
//! ```
//!
//! The parser keeps its progress through a multibulk request between calls, so a command
//! that arrives in many small reads is not re-scanned from the start each time, and a large
//! bulk argument is reserved for in the buffer once. Arguments are [`Bytes`] slices of the
//! read buffer: no copy per argument.

use bytes::{Buf, Bytes, BytesMut};

/// Largest inline request and largest `*`/`$` header line (Redis's `PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX: usize = 64 * 1024;
/// Bulk arguments at least this large get their buffer space reserved up front
/// (Redis's `PROTO_MBULK_BIG_ARG`).
const BIG_ARG: usize = 32 * 1024;
/// Most argument slots preallocated from a multibulk header (the rest grow as they arrive,
/// so a client announcing a huge count cannot make us allocate it in advance).
const PREALLOC_ARGS: usize = 1024;
/// Largest multibulk count and bulk length a client may send before it authenticated.
const UNAUTH_MULTIBULK: i64 = 10;
const UNAUTH_BULK: i64 = 16 * 1024;

/// A violation of the protocol. The text is exactly what Redis replies after `ERR `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

/// The limits a parse runs under (from the server configuration and the client's state).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest bulk argument (`proto-max-bulk-len`).
    pub max_bulk: i64,
    /// Whether the client still has to authenticate (tighter limits, as in Redis).
    pub auth_required: bool,
}

/// A multibulk request in progress. Nothing is consumed from the buffer until the whole
/// request has arrived; then it is split off once and each argument is a slice of it.
#[derive(Debug, Default)]
struct Partial {
    /// Arguments still expected.
    remaining: usize,
    /// Byte ranges of the arguments complete so far, relative to the buffer start.
    args: Vec<(usize, usize)>,
    /// Length of the bulk being read, if its header has been read.
    bulk_len: Option<usize>,
    /// Bytes of the buffer examined so far.
    pos: usize,
}

/// Incremental request parser of one connection.
#[derive(Debug, Default)]
pub struct RequestParser {
    partial: Option<Partial>,
    /// Argument positions of the last request, kept to reuse its allocation.
    spare: Vec<(usize, usize)>,
}

impl RequestParser {
    /// A parser at the start of a request.
    pub fn new() -> RequestParser {
        RequestParser::default()
    }

    /// True while a multibulk request has been started but not completed.
    pub fn in_progress(&self) -> bool {
        self.partial.is_some()
    }

    /// Parses the next command from `buf`, consuming its bytes. `Ok(None)`: more bytes are
    /// needed (the parser remembers how far it got). An empty command (a blank inline line,
    /// `*0`) is skipped.
    pub fn parse(&mut self, buf: &mut BytesMut, limits: Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if self.partial.is_none() {
                if buf.is_empty() {
                    return Ok(None);
                }
                if buf[0] != b'*' {
                    match parse_inline(buf)? {
                        None => return Ok(None),
                        Some(args) if args.is_empty() => continue,
                        Some(args) => return Ok(Some(args)),
                    }
                }
                let Some((line, next)) = find_line(buf, 0, "too big mbulk count string")? else { return Ok(None) };
                let n = parse_int(&buf[1..line]).filter(|&n| n <= i32::MAX as i64);
                let Some(n) = n else { return Err(err("invalid multibulk length")) };
                if n > UNAUTH_MULTIBULK && limits.auth_required {
                    return Err(err("unauthenticated multibulk length"));
                }
                if n <= 0 {
                    buf.advance(next);
                    continue;
                }
                let n = n as usize;
                let mut args = std::mem::take(&mut self.spare);
                args.clear();
                args.reserve(n.min(PREALLOC_ARGS));
                self.partial = Some(Partial { remaining: n, args, bulk_len: None, pos: next });
            }
            let p = self.partial.as_mut().expect("partial request");
            while p.remaining > 0 {
                let len = match p.bulk_len {
                    Some(len) => len,
                    None => {
                        let Some((line, next)) = find_line(buf, p.pos, "too big bulk count string")? else {
                            return Ok(None);
                        };
                        if buf[p.pos] != b'$' {
                            return Err(err(format!("expected '$', got '{}'", buf[p.pos] as char)));
                        }
                        let len = match parse_int(&buf[p.pos + 1..line]) {
                            Some(l) if l >= 0 && l <= limits.max_bulk => l,
                            _ => return Err(err("invalid bulk length")),
                        };
                        if len > UNAUTH_BULK && limits.auth_required {
                            return Err(err("unauthenticated bulk length"));
                        }
                        let len = len as usize;
                        p.pos = next;
                        if len >= BIG_ARG {
                            // One allocation for the whole argument instead of doubling.
                            buf.reserve((p.pos + len + 2).saturating_sub(buf.len()));
                        }
                        p.bulk_len = Some(len);
                        len
                    }
                };
                let Some(end) = p.pos.checked_add(len).and_then(|e| e.checked_add(2)) else {
                    return Err(err("invalid bulk length"));
                };
                if buf.len() < end {
                    return Ok(None);
                }
                // Like Redis, the two bytes after the data are skipped, not checked.
                p.args.push((p.pos, p.pos + len));
                p.pos = end;
                p.bulk_len = None;
                p.remaining -= 1;
            }
            let p = self.partial.take().expect("partial request");
            let whole = buf.split_to(p.pos).freeze();
            let out = p.args.iter().map(|&(a, b)| whole.slice(a..b)).collect();
            if p.args.capacity() <= PREALLOC_ARGS {
                self.spare = p.args;
            }
            return Ok(Some(out));
        }
    }
}

fn err(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

/// Finds the `\r\n`-terminated header line starting at `from`: returns the offset of its
/// `\r` and of the byte after its `\n`.
fn find_line(buf: &[u8], from: usize, too_big: &str) -> Result<Option<(usize, usize)>, ProtocolError> {
    let rest = &buf[from..];
    match memchr(b'\r', rest) {
        None => {
            if rest.len() > INLINE_MAX {
                return Err(err(too_big));
            }
            Ok(None)
        }
        Some(i) => {
            if i > INLINE_MAX {
                return Err(err(too_big));
            }
            if rest.len() < i + 2 {
                return Ok(None);
            }
            Ok(Some((from + i, from + i + 2)))
        }
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Parses a signed decimal integer the way Redis's `string2ll` does (no spaces, no `+`, no
/// leading zeros).
pub fn parse_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = (c - b'0') as i64;
        v = if neg { v.checked_mul(10)?.checked_sub(d)? } else { v.checked_mul(10)?.checked_add(d)? };
    }
    Some(v)
}

/// Parses one inline request (a line of space-separated words, with Redis's quoting rules).
/// `Ok(Some(vec![]))` for a blank line.
fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX {
            return Err(err("too big inline request"));
        }
        return Ok(None);
    };
    if nl > INLINE_MAX {
        return Err(err("too big inline request"));
    }
    let line = buf.split_to(nl + 1);
    let mut line = &line[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    match split_args(line) {
        Some(args) => Ok(Some(args.into_iter().map(Bytes::from).collect())),
        None => Err(err("unbalanced quotes in request")),
    }
}

/// Splits a line into arguments like Redis's `sdssplitargs`: words separated by whitespace
/// (C's `isspace`, so also `\v` and `\f`); `"…"` with `\n \r \t \b \a \\ \" \xHH` escapes;
/// `'…'` with only `\'`. A closing quote must be followed by whitespace or the end. `None` on
/// unbalanced quotes.
///
/// `sdssplitargs` works on a C string, so a NUL byte ends the line: what follows it is
/// ignored, and a quote still open there is unbalanced. (Before this was followed, a NUL
/// outside quotes ended the word without being consumed, and the loop produced empty
/// arguments without end: one inline request could exhaust the server's memory.)
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Some(out);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= line.len() {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 3 < line.len() && line[i + 1] == b'x' && is_hex(line[i + 2]) && is_hex(line[i + 3])
                {
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < line.len() && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if i >= line.len() {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < line.len() && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < line.len() && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if i >= line.len() {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

/// C's `isspace` in the "C" locale: space, `\t`, `\n`, `\v`, `\f`, `\r`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: Limits = Limits { max_bulk: 512 << 20, auth_required: false };

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(args) = p.parse(&mut buf, OPEN)? {
            out.push(args.iter().map(|a| a.to_vec()).collect());
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_pipelines() {
        let cmds = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(cmds, vec![vec![b"GET".to_vec(), b"k".to_vec()], vec![b"PING".to_vec()]]);
    }

    #[test]
    fn byte_at_a_time_gives_the_same_commands() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nPING\r\n*0\r\n\r\n*1\r\n$0\r\n\r\n";
        let mut p = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            while let Some(args) = p.parse(&mut buf, OPEN).unwrap() {
                out.push(args.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
            }
        }
        assert_eq!(out, parse_all(input).unwrap());
        assert_eq!(out.len(), 3);
        assert_eq!(out[2], vec![Vec::<u8>::new()]);
    }

    #[test]
    fn inline_commands_with_quotes() {
        let cmds = parse_all(b"set k \"a b\\x41\\n\"\r\nget 'it\\'s'\n\r\n").unwrap();
        assert_eq!(cmds[0], vec![b"set".to_vec(), b"k".to_vec(), b"a bA\n".to_vec()]);
        assert_eq!(cmds[1], vec![b"get".to_vec(), b"it's".to_vec()]);
        assert_eq!(cmds.len(), 2);
        assert_eq!(parse_all(b"get \"abc\r\n").unwrap_err().0, "unbalanced quotes in request");
        assert_eq!(parse_all(b"get \"abc\"x\r\n").unwrap_err().0, "unbalanced quotes in request");
    }

    /// A NUL byte ends an inline line as it ends `sdssplitargs`'s C string (it used to make
    /// the splitter produce empty arguments forever); `\v` and `\f` separate words as
    /// C's `isspace` does.
    #[test]
    fn inline_nul_ends_the_line_and_c_whitespace_separates() {
        assert_eq!(
            parse_all(b"SET a\0b c\r\nPING\r\n").unwrap(),
            vec![vec![b"SET".to_vec(), b"a".to_vec()], vec![b"PING".to_vec()]]
        );
        assert_eq!(parse_all(b"\0GET a\r\n").unwrap(), Vec::<Vec<Vec<u8>>>::new());
        assert_eq!(parse_all(b"GET \"a\0\"\r\n").unwrap_err().0, "unbalanced quotes in request");
        assert_eq!(
            split_args(b"a\x0bb\x0c \"c\"\x0b'd'").unwrap(),
            vec![b"a\x0bb\x0c".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
    }

    #[test]
    fn errors_use_redis_wording() {
        assert_eq!(parse_all(b"*x\r\n").unwrap_err().0, "invalid multibulk length");
        assert_eq!(parse_all(b"*3000000000\r\n").unwrap_err().0, "invalid multibulk length");
        assert_eq!(parse_all(b"*1\r\n+3\r\n").unwrap_err().0, "expected '$', got '+'");
        assert_eq!(parse_all(b"*1\r\n$-1\r\n").unwrap_err().0, "invalid bulk length");
        assert_eq!(parse_all(b"*1\r\n$99999999999999999999999\r\n").unwrap_err().0, "invalid bulk length");
        let mut p = RequestParser::new();
        let tight = Limits { max_bulk: 10, auth_required: false };
        assert_eq!(p.parse(&mut BytesMut::from(&b"*1\r\n$11\r\n"[..]), tight).unwrap_err().0, "invalid bulk length");
        let unauth = Limits { max_bulk: 1 << 20, auth_required: true };
        let mut p = RequestParser::new();
        assert_eq!(
            p.parse(&mut BytesMut::from(&b"*11\r\n"[..]), unauth).unwrap_err().0,
            "unauthenticated multibulk length"
        );
        let mut p = RequestParser::new();
        let e = p.parse(&mut BytesMut::from(&b"*1\r\n$16385\r\n"[..]), unauth).unwrap_err();
        assert_eq!(e.0, "unauthenticated bulk length");
    }

    #[test]
    fn oversized_lines_are_rejected_without_a_newline() {
        let big = vec![b'a'; INLINE_MAX + 1];
        assert_eq!(parse_all(&big).unwrap_err().0, "too big inline request");
        let mut mb = b"*".to_vec();
        mb.extend(std::iter::repeat_n(b'1', INLINE_MAX + 1));
        assert_eq!(parse_all(&mb).unwrap_err().0, "too big mbulk count string");
    }

    #[test]
    fn huge_announced_count_does_not_preallocate() {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(&b"*2147483647\r\n$1\r\na\r\n"[..]);
        assert!(p.parse(&mut buf, OPEN).unwrap().is_none());
        assert!(p.in_progress());
        assert!(p.partial.as_ref().unwrap().args.capacity() <= PREALLOC_ARGS);
    }

    #[test]
    fn int_parsing_matches_string2ll() {
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"-12"), Some(-12));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b""[..], b"-", b"01", b"+1", b" 1", b"1 ", b"9223372036854775808", b"-0"] {
            assert_eq!(parse_int(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
