//! Redis glob patterns (`KEYS`, `SCAN MATCH`, `CONFIG GET`, `PSUBSCRIBE`), matched exactly as
//! Redis's `stringmatchlen` does: `*`, `?`, `[abc]`, `[^a-z]` (ranges may be reversed),
//! `\x` escapes, an unterminated `[` matching the rest of its class. Long runs of `*` do not
//! backtrack exponentially: once the rest of a pattern failed after a `*` from every
//! position, earlier stars stop trying longer matches (Redis's `skipLongerMatches`).

/// True if `string` matches glob `pattern` (`nocase`: ASCII case-insensitive).
///
/// Exactly Redis's function, including that `*` does not match an empty string; callers
/// that list keys treat a lone `*` as "everything" first, as Redis's do ([`matches_all`]).
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    matches(pattern, string, nocase, &mut skip_longer)
}

fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

fn lower(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

fn matches(pat: &[u8], s: &[u8], nocase: bool, skip_longer: &mut bool) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    while p < pat.len() && i < s.len() {
        match pat[p] {
            b'*' => {
                while p + 1 < pat.len() && pat[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pat.len() {
                    return true;
                }
                while i < s.len() {
                    if matches(&pat[p + 1..], &s[i..], nocase, skip_longer) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    i += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => i += 1,
            b'[' => {
                p += 1;
                let not = at(pat, p) == b'^';
                if not {
                    p += 1;
                }
                let c = s[i];
                let mut matched = false;
                loop {
                    if at(pat, p) == b'\\' && pat.len() - p >= 2 {
                        p += 1;
                        if pat[p] == c {
                            matched = true;
                        }
                    } else if p < pat.len() && pat[p] == b']' {
                        break;
                    } else if p >= pat.len() {
                        // Unterminated class: step back so the common advance below ends it.
                        p -= 1;
                        break;
                    } else if pat.len() - p >= 3 && pat[p + 1] == b'-' {
                        let (mut lo, mut hi) = (pat[p], pat[p + 2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        let (lo, hi, cc) = (lower(lo, nocase), lower(hi, nocase), lower(c, nocase));
                        p += 2;
                        if cc >= lo && cc <= hi {
                            matched = true;
                        }
                    } else if lower(pat[p], nocase) == lower(c, nocase) {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                i += 1;
            }
            b => {
                let mut b = b;
                if b == b'\\' && pat.len() - p >= 2 {
                    p += 1;
                    b = pat[p];
                }
                if lower(b, nocase) != lower(s[i], nocase) {
                    return false;
                }
                i += 1;
            }
        }
        p += 1;
        if i == s.len() {
            while p < pat.len() && pat[p] == b'*' {
                p += 1;
            }
            break;
        }
    }
    p >= pat.len() && i == s.len()
}

/// True if `pattern` is a lone `*`, which `KEYS` and `SCAN` take to mean every key
/// (including the empty one) without matching.
pub fn matches_all(pattern: &[u8]) -> bool {
    pattern == b"*"
}

/// The literal prefix of a pattern: every key it can match starts with these bytes (lets
/// `KEYS`/`SCAN` seek instead of walking the whole keyspace).
pub fn literal_prefix(pattern: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'*' | b'?' | b'[' => break,
            b'\\' if i + 1 < pattern.len() => {
                out.push(pattern[i + 1]);
                i += 2;
            }
            b'\\' => break,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn redis_glob_cases() {
        // As in Redis, a lone `*` does not match the empty string here; KEYS and SCAN
        // short-cut a lone `*` to "everything" before matching.
        assert!(!m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("a[\\]]b", "a]b"));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("user:*:name", "user:42:nam"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(!m("?", ""));
        // Unterminated class.
        assert!(m("a[b", "ab"));
        assert!(glob_match(b"HELLO", b"hello", true));
        assert!(glob_match(b"H[A-Z]LLO", b"hello", true));
    }

    #[test]
    fn pathological_patterns_finish() {
        let s = "a".repeat(60);
        let p = format!("{}b", "a*".repeat(30));
        assert!(!m(&p, &s));
    }

    #[test]
    fn literal_prefixes() {
        assert_eq!(literal_prefix(b"user:*"), b"user:");
        assert_eq!(literal_prefix(b"a\\*b?"), b"a*b");
        assert_eq!(literal_prefix(b"*"), b"");
        assert_eq!(literal_prefix(b"abc"), b"abc");
    }
}
