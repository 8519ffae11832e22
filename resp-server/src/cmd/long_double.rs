//! `INCRBYFLOAT` and `HINCRBYFLOAT` arithmetic exactly as Redis does it on x86-64: in the C
//! `long double` (the x87 80-bit format: a 64-bit significand, exponents down to subnormals at
//! 2^-16445 and up to 2^16384), parsed as `strtold` does (correctly rounded, ties to even) and
//! printed as `ld2string(…, LD_STR_HUMAN)` does: `"%.17Lf"` (17 digits after the point, not
//! significant digits), then trailing zeros and a trailing point removed, `-0` printed as `0`.
//! So `0.1` plus `0.2` is `0.3` (an `f64` sum prints `0.30000000000000004`) and `1.1` plus
//! `1e3` is `1001.09999999999999998`, as in Redis.
//!
//! Values are exact: a significand and a binary exponent, with big-integer arithmetic for
//! parsing, adding and printing (an input is at most 5 KiB of text, Redis's
//! `MAX_LONG_DOUBLE_CHARS`, so the numbers stay small).

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, Zero};

/// The exponent of the least significant bit of the smallest subnormal (2^-16445).
const MIN_LSB_EXP: i64 = -16445;
/// The largest exponent of a 64-bit significand's lsb: the largest finite value is
/// (2^64 - 1) × 2^16320.
const MAX_LSB_EXP: i64 = 16320;
/// Longest text Redis parses as a long double (`MAX_LONG_DOUBLE_CHARS`), exclusive.
const MAX_TEXT: usize = 5 * 1024;
/// Decimal exponents beyond which a value certainly overflows or underflows the format (with
/// margin: the largest value is about 1.19e4932, the smallest subnormal about 3.6e-4951).
const MAX_DEC_EXP: i64 = 4940;
const MIN_DEC_EXP: i64 = -4970;

/// A finite `long double`: `(-1)^neg × mant × 2^exp`, `mant < 2^64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongDouble {
    neg: bool,
    mant: u64,
    exp: i64,
}

/// Why a computation has no finite result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFinite {
    /// The text is not a float `strtold` accepts in full (or it overflows or underflows to
    /// zero, which Redis's `string2ld` also rejects).
    Invalid,
    /// The text is an infinity (`inf`), or a result overflowed.
    Infinite,
}

impl LongDouble {
    /// Zero.
    pub fn zero() -> LongDouble {
        LongDouble { neg: false, mant: 0, exp: 0 }
    }

    /// Parses `text` like Redis's `string2ld` over `strtold`: decimal or exponent notation,
    /// `inf`, and hexadecimal floats (`0x1.8p3`); no spaces, no NaN.
    pub fn parse(text: &[u8]) -> Result<LongDouble, NotFinite> {
        if text.len() >= MAX_TEXT {
            return Err(NotFinite::Invalid);
        }
        if let Some(hex) = parse_hex(text) {
            return hex;
        }
        let f = super::parse_float(text).ok_or(NotFinite::Invalid)?;
        if f.is_infinite() {
            // `1e400` is infinite as an f64 but finite as a long double: only the words are.
            if text.iter().any(|c| c.is_ascii_alphabetic() && !matches!(c, b'e' | b'E')) {
                return Err(NotFinite::Infinite);
            }
        }
        let (neg, s) = split_sign(text);
        let s = std::str::from_utf8(s).map_err(|_| NotFinite::Invalid)?;
        let (num, exp_part) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let (int_part, frac_part) = match num.find('.') {
            Some(i) => (&num[..i], &num[i + 1..]),
            None => (num, ""),
        };
        let digits: String = int_part.chars().chain(frac_part.chars()).collect();
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(NotFinite::Invalid);
        }
        let mut dec_exp: i64 = -(frac_part.len() as i64);
        if let Some(e) = exp_part {
            dec_exp = dec_exp.saturating_add(exponent(e.as_bytes()).ok_or(NotFinite::Invalid)?);
        }
        let trimmed = digits.trim_start_matches('0');
        if trimmed.is_empty() {
            return Ok(LongDouble { neg, mant: 0, exp: 0 });
        }
        let magnitude = trimmed.len() as i64 + dec_exp;
        if !(MIN_DEC_EXP..=MAX_DEC_EXP).contains(&magnitude) {
            // strtold reports ERANGE (HUGE_VAL or zero): string2ld rejects the text.
            return Err(NotFinite::Invalid);
        }
        let n: BigUint = trimmed.parse().map_err(|_| NotFinite::Invalid)?;
        let r = if dec_exp >= 0 {
            round(n * pow10(dec_exp as u64), BigUint::one(), 0)
        } else {
            round(n, pow10(dec_exp.unsigned_abs()), 0)
        };
        match r {
            Some((mant, exp)) if mant != 0 => Ok(LongDouble { neg, mant, exp }),
            // Underflow to zero: ERANGE with a zero result, which string2ld rejects.
            Some(_) => Err(NotFinite::Invalid),
            None => Err(NotFinite::Invalid),
        }
    }

    /// `self + other`, rounded to the format (ties to even); `Infinite` on overflow.
    pub fn add(&self, other: &LongDouble) -> Result<LongDouble, NotFinite> {
        if self.mant == 0 {
            return Ok(if other.mant == 0 { LongDouble::zero() } else { other.clone() });
        }
        if other.mant == 0 {
            return Ok(self.clone());
        }
        let base = self.exp.min(other.exp);
        let a = BigUint::from(self.mant) << (self.exp - base) as u64;
        let b = BigUint::from(other.mant) << (other.exp - base) as u64;
        let (neg, sum) = if self.neg == other.neg {
            (self.neg, a + b)
        } else if a >= b {
            (self.neg, a - b)
        } else {
            (other.neg, b - a)
        };
        if sum.is_zero() {
            // x + (-x) is +0 when rounding to nearest.
            return Ok(LongDouble::zero());
        }
        match round(sum, BigUint::one(), base) {
            Some((mant, exp)) => Ok(LongDouble { neg: if mant == 0 { false } else { neg }, mant, exp }),
            None => Err(NotFinite::Infinite),
        }
    }

    /// The text Redis stores and replies: `"%.17Lf"` without trailing zeros (or point).
    pub fn to_human(&self) -> String {
        if self.mant == 0 {
            return "0".into();
        }
        let ten17 = pow10(17);
        let m = BigUint::from(self.mant);
        let scaled = if self.exp >= 0 {
            (m << self.exp as u64) * ten17
        } else {
            let den = BigUint::one() << self.exp.unsigned_abs();
            let (q, r) = (m * ten17).div_rem(&den);
            let twice: BigUint = r << 1u32;
            if twice > den || (twice == den && q.is_odd()) {
                q + 1u32
            } else {
                q
            }
        };
        let digits = scaled.to_string();
        let digits = format!("{digits:0>18}");
        let (int, frac) = digits.split_at(digits.len() - 17);
        let frac = frac.trim_end_matches('0');
        let body = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
        if body == "0" || !self.neg {
            body
        } else {
            format!("-{body}")
        }
    }
}

/// The error of a float increment whose result is not finite (Redis's wording).
pub fn nan_or_infinity() -> pmemkv::Error {
    pmemkv::Error::InvalidArgument("increment would produce NaN or Infinity".into())
}

/// A hexadecimal float as `strtold` reads one: `[sign] 0x hexdigits [. hexdigits] [p [sign]
/// decimal-exponent]`, the value `hexdigits × 2^exponent` rounded like any other (ties to
/// even). `None` if `text` is not hexadecimal (no `0x` after the sign).
fn parse_hex(text: &[u8]) -> Option<Result<LongDouble, NotFinite>> {
    let (neg, s) = split_sign(text);
    let s = s.strip_prefix(b"0x").or_else(|| s.strip_prefix(b"0X"))?;
    Some(parse_hex_body(neg, s).ok_or(NotFinite::Invalid).and_then(|r| r))
}

/// [`parse_hex`] after the `0x`: `None` if the syntax is wrong.
fn parse_hex_body(neg: bool, s: &[u8]) -> Option<Result<LongDouble, NotFinite>> {
    let (num, exp_part) = match s.iter().position(|&c| c == b'p' || c == b'P') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int_part, frac_part) = match num.iter().position(|&c| c == b'.') {
        Some(i) => (&num[..i], &num[i + 1..]),
        None => (num, &num[num.len()..]),
    };
    if int_part.len() + frac_part.len() == 0 || !int_part.iter().chain(frac_part).all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut bin_exp: i64 = -4 * frac_part.len() as i64;
    if let Some(e) = exp_part {
        bin_exp = bin_exp.saturating_add(exponent(e)?);
    }
    let hex: Vec<u8> = int_part.iter().chain(frac_part).copied().collect();
    let n = BigUint::parse_bytes(&hex, 16)?;
    if n.is_zero() {
        return Some(Ok(LongDouble { neg, mant: 0, exp: 0 }));
    }
    // Out of the format's range whatever the rounding: strtold's ERANGE, rejected.
    let top = n.bits() as i64 + bin_exp;
    if !(MIN_LSB_EXP - 2..=MAX_LSB_EXP + 66).contains(&top) {
        return Some(Err(NotFinite::Invalid));
    }
    Some(match round(n, BigUint::one(), bin_exp) {
        Some((mant, exp)) if mant != 0 => Ok(LongDouble { neg, mant, exp }),
        _ => Err(NotFinite::Invalid),
    })
}

/// A leading `-` or `+` taken off: (negative, the rest).
fn split_sign(text: &[u8]) -> (bool, &[u8]) {
    match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// An exponent's text (optional sign, decimal digits), saturated at ±2^40: an exponent that
/// large over- or underflows the format whatever the digits are. `None` if it is not one.
fn exponent(e: &[u8]) -> Option<i64> {
    let (neg, digits) = split_sign(e);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = std::str::from_utf8(digits).ok()?.parse::<i64>().unwrap_or(1 << 40).min(1 << 40);
    Some(if neg { -v } else { v })
}

fn pow10(n: u64) -> BigUint {
    BigUint::from(10u32).pow(n as u32)
}

/// Rounds `num / den × 2^exp` (positive) to a 64-bit significand and an lsb exponent within
/// the format, ties to even (subnormals keep fewer bits). `None` if it overflows.
fn round(mut num: BigUint, mut den: BigUint, mut exp: i64) -> Option<(u64, i64)> {
    // Scale so that the quotient has 66 or 67 bits: 64 to keep, then rounding bits.
    let shift = 66 - (num.bits() as i64 - den.bits() as i64);
    if shift > 0 {
        num <<= shift as u64;
    } else {
        den <<= (-shift) as u64;
    }
    exp -= shift;
    let (q, r) = num.div_rem(&den);
    let mut drop = q.bits() as i64 - 64;
    // Below the smallest normal, the lsb cannot go under 2^-16445: drop more bits.
    if exp + drop < MIN_LSB_EXP {
        drop = MIN_LSB_EXP - exp;
    }
    let sticky = !r.is_zero();
    let (mut mant, lsb_exp) = if drop as u64 > q.bits() {
        // Everything is below half of the smallest subnormal's lsb.
        (BigUint::zero(), exp + drop)
    } else {
        let kept = &q >> drop as u64;
        let rest = &q - (&kept << drop as u64);
        let half = BigUint::one() << (drop as u64 - 1);
        let up = rest > half || (rest == half && (sticky || kept.is_odd()));
        (if up { kept + 1u32 } else { kept }, exp + drop)
    };
    let mut lsb_exp = lsb_exp;
    if mant.bits() > 64 {
        mant >>= 1u32;
        lsb_exp += 1;
    }
    if lsb_exp > MAX_LSB_EXP {
        return None;
    }
    let digits = mant.to_u64_digits();
    Some((digits.first().copied().unwrap_or(0), lsb_exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        let x = LongDouble::parse(a.as_bytes()).unwrap();
        let y = LongDouble::parse(b.as_bytes()).unwrap();
        x.add(&y).unwrap().to_human()
    }

    /// Replies of Redis 7.0.15 on x86-64, recorded from a real server.
    #[test]
    fn sums_print_as_redis_prints_them() {
        assert_eq!(incr("0", "1.1"), "1.1");
        assert_eq!(incr("1.1", "1e3"), "1001.09999999999999998");
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("10.5", "0.1"), "10.6");
        assert_eq!(incr("0", "5.0e3"), "5000");
        assert_eq!(incr("3", "-3"), "0");
        assert_eq!(incr("-0.5", "0"), "-0.5");
        assert_eq!(incr("0", "1e-20"), "0");
        assert_eq!(incr("0", "-1e-20"), "0");
        assert_eq!(incr("0", "1e20"), "100000000000000000000");
        assert_eq!(incr("0", "0.00000000000000001"), "0.00000000000000001");
    }

    #[test]
    fn big_and_tiny_values_stay_exact_and_bounded() {
        let big = LongDouble::parse(b"1e400").unwrap();
        let s = big.to_human();
        assert!(s.starts_with('1') && s.len() == 401, "{}", &s[..20]);
        assert_eq!(LongDouble::parse(b"1e5000"), Err(NotFinite::Invalid));
        assert_eq!(LongDouble::parse(b"1e-5000"), Err(NotFinite::Invalid));
        assert_eq!(LongDouble::parse(b"1e99999999999999999999"), Err(NotFinite::Invalid));
        assert_eq!(LongDouble::parse(b"0e99999999999999999999"), Ok(LongDouble::zero()));
        assert_eq!(LongDouble::parse(b"inf"), Err(NotFinite::Infinite));
        assert_eq!(LongDouble::parse(b"-Infinity"), Err(NotFinite::Infinite));
        assert_eq!(LongDouble::parse(b"nan"), Err(NotFinite::Invalid));
        assert_eq!(LongDouble::parse(b"1.2.3"), Err(NotFinite::Invalid));
        assert_eq!(LongDouble::parse(b" 1"), Err(NotFinite::Invalid));
        assert_eq!(LongDouble::parse(&[b'1'; MAX_TEXT]), Err(NotFinite::Invalid));
        let one = [&b"1."[..], &[b'0'; MAX_TEXT - 3]].concat();
        assert_eq!(LongDouble::parse(&one).unwrap().to_human(), "1");
        // The largest finite long double, then past it.
        let max = LongDouble { neg: false, mant: u64::MAX, exp: MAX_LSB_EXP };
        assert_eq!(max.add(&max), Err(NotFinite::Infinite));
        // Subnormals: the smallest one is representable; half of it rounds to even (zero).
        let tiny = LongDouble { neg: false, mant: 1, exp: MIN_LSB_EXP };
        assert_eq!(tiny.add(&LongDouble::zero()).unwrap(), tiny);
        assert_eq!(tiny.to_human(), "0");
    }

    #[test]
    fn hexadecimal_floats_parse_as_strtold_reads_them() {
        let hex = |t: &str| LongDouble::parse(t.as_bytes()).map(|v| v.to_human());
        assert_eq!(hex("0x10"), Ok("16".into()));
        assert_eq!(hex("-0X1A"), Ok("-26".into()));
        assert_eq!(hex("0x1.8p1"), Ok("3".into()));
        assert_eq!(hex("0x.8"), Ok("0.5".into()));
        assert_eq!(hex("0x1p-2"), Ok("0.25".into()));
        assert_eq!(hex("0x0p99999"), Ok("0".into()));
        // 65 significant bits: ties to even, as decimal text does.
        assert_eq!(LongDouble::parse(b"0x1.00000000000000008p0"), LongDouble::parse(b"1"));
        for bad in ["0x", "0x.", "0x1p", "0x1p+", "0xg", "0x1.2.3", "0x1p16384", "0x1p-16446", "0x-1"] {
            assert_eq!(hex(bad), Err(NotFinite::Invalid), "{bad}");
        }
    }

    #[test]
    fn parsing_rounds_to_nearest_even() {
        // 2^64 + 1 needs 65 bits: the tie rounds to the even significand 2^63 (× 2).
        let x = LongDouble::parse(b"18446744073709551617").unwrap();
        assert_eq!((x.mant, x.exp), (1 << 63, 1));
        // 2^64 + 3 rounds up.
        let x = LongDouble::parse(b"18446744073709551619").unwrap();
        assert_eq!((x.mant, x.exp), ((1 << 63) + 2, 1));
        let x = LongDouble::parse(b"0.5").unwrap();
        assert_eq!(x.to_human(), "0.5");
    }
}
