//! Reply encoding: writes RESP2 or RESP3 replies straight into a connection's output buffer.
//!
//! Commands never build reply trees; they call these methods in order, so a pipelined batch
//! of replies is one buffer and one `write`. The same call produces the right bytes for the
//! client's protocol: a RESP3 map, set, double, boolean, null or push is written as its
//! RESP2 equivalent (flat array, array, bulk string, integer, `$-1`/`*-1`, array) for a
//! RESP2 client, exactly as Redis downgrades them.

use bytes::{BufMut, Bytes, BytesMut};
use pmemkv::{ReadValue, ValueRef};

/// Values at least this long are sent from the store's mapping (a `writev` piece) instead
/// of being copied into the output buffer (Redis's reply chunk size).
pub const MIN_SENT_IN_PLACE: usize = 16 * 1024;

/// The protocol version a client speaks (`HELLO 2|3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2 (the default for a new connection).
    #[default]
    Resp2,
    /// RESP3.
    Resp3,
}

impl Protocol {
    /// The version number (2 or 3).
    pub fn number(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// An output buffer with the client's protocol.
#[derive(Debug, Default)]
pub struct Reply {
    /// The encoded bytes not yet written to the socket, but for the long values in `spans`.
    pub buf: BytesMut,
    /// The protocol replies are encoded in.
    pub proto: Protocol,
    /// Long values sent straight from the store's mapping: each goes out after the first
    /// `.0` bytes of `buf` (and before the rest).
    spans: Vec<(usize, ValueRef)>,
    /// Total bytes of `spans`.
    span_bytes: usize,
}

/// A position in a [`Reply`] to roll back to ([`Reply::truncate`]).
#[derive(Debug, Clone, Copy)]
pub struct ReplyMark {
    buf: usize,
    spans: usize,
}

impl Reply {
    /// An empty buffer for `proto`.
    pub fn new(proto: Protocol) -> Reply {
        Reply::with_capacity(proto, 16 * 1024)
    }

    /// An empty buffer for `proto` with room for `cap` bytes.
    pub fn with_capacity(proto: Protocol, cap: usize) -> Reply {
        Reply { buf: BytesMut::with_capacity(cap), proto, spans: Vec::new(), span_bytes: 0 }
    }

    /// The current end, to roll back to with [`Reply::truncate`].
    pub fn mark(&self) -> ReplyMark {
        ReplyMark { buf: self.buf.len(), spans: self.spans.len() }
    }

    /// Drops everything added after `mark`.
    pub fn truncate(&mut self, mark: ReplyMark) {
        self.buf.truncate(mark.buf);
        for (_, v) in self.spans.drain(mark.spans..) {
            self.span_bytes -= v.len();
        }
    }

    /// Drops everything buffered.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
        self.span_bytes = 0;
    }

    /// The buffered bytes in order, as the pieces to write (`buf` split around the values
    /// sent in place); empty pieces are left out.
    pub fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        let mut at = 0;
        let mut out = Vec::with_capacity(self.spans.len() * 2 + 1);
        for (pos, v) in &self.spans {
            out.push(&self.buf[at..*pos]);
            out.push(&v[..]);
            at = *pos;
        }
        out.push(&self.buf[at..]);
        out.into_iter().filter(|p| !p.is_empty())
    }

    /// True if some values are held in place rather than copied into `buf`.
    pub fn has_spans(&self) -> bool {
        !self.spans.is_empty()
    }

    /// Takes everything buffered as one contiguous `Bytes` (copying any values held in
    /// place), leaving the reply empty.
    pub fn take_bytes(&mut self) -> Bytes {
        if self.spans.is_empty() {
            return self.buf.split().freeze();
        }
        let mut all = BytesMut::with_capacity(self.len());
        for p in self.pieces() {
            all.put_slice(p);
        }
        self.clear();
        all.freeze()
    }

    /// True for a RESP3 client.
    pub fn resp3(&self) -> bool {
        self.proto == Protocol::Resp3
    }

    /// Number of bytes buffered (values held in place included).
    pub fn len(&self) -> usize {
        self.buf.len() + self.span_bytes
    }

    /// True if nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.spans.is_empty()
    }

    fn header(&mut self, tag: u8, n: i64) {
        let mut b = itoa::Buffer::new();
        let s = b.format(n);
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(tag);
        self.buf.put_slice(s.as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// A simple string (`+…`); must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(b'+');
        self.buf.put_slice(s.as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// An error (`-…`). `msg` starts with its code (`ERR`, `WRONGTYPE`, …); CR and LF are
    /// replaced by spaces, as Redis does, so the reply stays one line.
    pub fn error(&mut self, msg: &str) {
        // Redis's `addReplyErrorFormat`: CR and LF at the end are trimmed, inside they
        // become spaces (an error is one line).
        let msg = msg.trim_end_matches(['\r', '\n']);
        self.buf.reserve(msg.len() + 3);
        self.buf.put_u8(b'-');
        for &b in msg.as_bytes() {
            self.buf.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.put_slice(b"\r\n");
    }

    /// An integer (`:…`).
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    /// A bulk string (`$…`).
    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.reserve(data.len() + 2);
        self.buf.put_slice(data);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string of a value read from the store: a long one is held in place (sent from
    /// the mapping, see [`MIN_SENT_IN_PLACE`]) rather than copied.
    pub fn bulk_value(&mut self, v: ReadValue<'_>) {
        match v {
            ReadValue::Ref(r) if r.len() >= MIN_SENT_IN_PLACE => {
                self.header(b'$', r.len() as i64);
                self.span_bytes += r.len();
                self.spans.push((self.buf.len(), r));
                self.buf.put_slice(b"\r\n");
            }
            v => self.bulk(&v),
        }
    }

    /// A bulk string of an integer's decimal form.
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// A bulk string, or null for `None`.
    pub fn opt_bulk(&mut self, data: Option<&[u8]>) {
        match data {
            Some(d) => self.bulk(d),
            None => self.null(),
        }
    }

    /// A verbatim string (RESP3 `=`, with a three-letter format such as `txt`); a bulk string
    /// in RESP2.
    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        if self.resp3() {
            self.header(b'=', (text.len() + 4) as i64);
            self.buf.put_slice(format.as_bytes());
            self.buf.put_u8(b':');
            self.buf.put_slice(text);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// The null value: RESP3 `_`, RESP2 null bulk string `$-1`.
    pub fn null(&mut self) {
        if self.resp3() {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"$-1\r\n");
        }
    }

    /// The null array: RESP3 `_`, RESP2 `*-1` (a timed-out blocking pop, an aborted EXEC).
    pub fn null_array(&mut self) {
        if self.resp3() {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"*-1\r\n");
        }
    }

    /// The header of an array of `n` elements.
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// The header of a map of `n` pairs (RESP2: a flat array of `2n` elements).
    pub fn map(&mut self, n: usize) {
        if self.resp3() {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// The header of a set of `n` elements (RESP2: an array).
    pub fn set(&mut self, n: usize) {
        if self.resp3() {
            self.header(b'~', n as i64);
        } else {
            self.header(b'*', n as i64);
        }
    }

    /// The header of a push message of `n` elements (RESP2: an array, as pub/sub messages
    /// always were).
    pub fn push(&mut self, n: usize) {
        if self.resp3() {
            self.header(b'>', n as i64);
        } else {
            self.header(b'*', n as i64);
        }
    }

    /// A double: RESP3 `,`; RESP2 a bulk string in the same text form.
    pub fn double(&mut self, d: f64) {
        let s = format_double(d);
        if self.resp3() {
            self.buf.reserve(s.len() + 3);
            self.buf.put_u8(b',');
            self.buf.put_slice(s.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean: RESP3 `#t`/`#f`; RESP2 `:1`/`:0`.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3() {
            self.buf.put_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// An array of bulk strings.
    pub fn bulks<T: AsRef<[u8]>>(&mut self, items: &[T]) {
        self.array(items.len());
        for i in items {
            self.bulk(i.as_ref());
        }
    }

    /// Bytes already encoded (for a reply built in another buffer, e.g. an `EXEC` result).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.put_slice(bytes);
    }
}

/// Formats a double the way Redis 7.2+ replies with one: the shortest text that reads back
/// as the same value, `inf`/`-inf` for infinities, no trailing `.0` on integral values
/// (`3`, `1.5`, `1e+300`).
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    if d == d.trunc() && d.abs() < 1e17 {
        // Integral and exactly representable as an i64: no fraction, no exponent.
        return format!("{}", d as i64);
    }
    let mut b = ryu::Buffer::new();
    let s = b.format_finite(d);
    // ryu writes `1e300`/`1.5e-7`; Redis (like printf's %g) writes `1e+300`/`1.5e-07`.
    match s.find('e') {
        Some(i) => {
            let (mant, exp) = s.split_at(i);
            let exp = &exp[1..];
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            let mant = mant.strip_suffix(".0").unwrap_or(mant);
            format!("{mant}e{sign}{digits:0>2}")
        }
        None => s.strip_suffix(".0").unwrap_or(s).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(proto: Protocol, f: impl FnOnce(&mut Reply)) -> String {
        let mut r = Reply::new(proto);
        f(&mut r);
        String::from_utf8(r.buf.to_vec()).unwrap()
    }

    #[test]
    fn resp2_downgrades_resp3_types() {
        assert_eq!(enc(Protocol::Resp2, |r| r.null()), "$-1\r\n");
        assert_eq!(enc(Protocol::Resp2, |r| r.null_array()), "*-1\r\n");
        assert_eq!(enc(Protocol::Resp2, |r| r.map(2)), "*4\r\n");
        assert_eq!(enc(Protocol::Resp2, |r| r.double(1.5)), "$3\r\n1.5\r\n");
        assert_eq!(enc(Protocol::Resp2, |r| r.boolean(true)), ":1\r\n");
        assert_eq!(enc(Protocol::Resp3, |r| r.null()), "_\r\n");
        assert_eq!(enc(Protocol::Resp3, |r| r.map(2)), "%2\r\n");
        assert_eq!(enc(Protocol::Resp3, |r| r.set(1)), "~1\r\n");
        assert_eq!(enc(Protocol::Resp3, |r| r.push(3)), ">3\r\n");
        assert_eq!(enc(Protocol::Resp3, |r| r.double(-2.0)), ",-2\r\n");
        assert_eq!(enc(Protocol::Resp3, |r| r.verbatim("txt", b"hi")), "=6\r\ntxt:hi\r\n");
    }

    #[test]
    fn long_values_are_held_in_place_and_roll_back_with_the_reply() {
        let long = vec![b'x'; MIN_SENT_IN_PLACE];
        let mut r = Reply::new(Protocol::Resp2);
        r.ok();
        let mark = r.mark();
        r.bulk_value(ReadValue::Ref(ValueRef::owned(&long)));
        r.bulk_value(ReadValue::Ref(ValueRef::owned(b"short")));
        r.bulk_value(ReadValue::Slice(&long));
        assert!(r.has_spans());
        let expected = |n: usize| {
            let mut e = b"+OK\r\n".to_vec();
            for v in [&long[..], b"short", &long[..]].iter().take(n) {
                e.extend_from_slice(format!("${}\r\n", v.len()).as_bytes());
                e.extend_from_slice(v);
                e.extend_from_slice(b"\r\n");
            }
            e
        };
        assert_eq!(r.pieces().collect::<Vec<_>>().concat(), expected(3));
        assert_eq!(r.len(), expected(3).len());
        // Only the first long value is held in place: 3 pieces (before, it, after).
        assert_eq!(r.pieces().count(), 3);
        r.truncate(mark);
        assert!(!r.has_spans());
        assert_eq!(r.len(), 5);
        r.bulk_value(ReadValue::Ref(ValueRef::owned(&long)));
        assert_eq!(r.take_bytes(), expected(1));
        assert!(r.is_empty());
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn errors_stay_on_one_line() {
        assert_eq!(enc(Protocol::Resp2, |r| r.error("ERR a\r\nb")), "-ERR a  b\r\n");
    }

    #[test]
    fn doubles_format_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(-0.5), "-0.5");
        assert_eq!(format_double(1.1), "1.1");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(1e300), "1e+300");
        assert_eq!(format_double(1.5e-7), "1.5e-07");
        assert_eq!(format_double(0.1 + 0.2), "0.30000000000000004");
    }
}
