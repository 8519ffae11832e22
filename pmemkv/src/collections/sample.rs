//! Random elements of a collection without reading it whole (`HRANDFIELD`; usable as is for
//! `SRANDMEMBER`/`SPOP`).
//!
//! The store is ordered but keeps no order statistics: there is no "k-th key of a range"
//! lookup, so a uniform pick by rank would cost O(n). Small collections, and requests whose
//! answer is a large share of the collection, are served exactly by reading every sub-key
//! (see [`random_subkeys`]). Otherwise a pick is a walk down the implicit byte trie of the
//! collection's sub-keys ([`Sampler`]):
//!
//! * A subtree (the sub-keys starting with some prefix) of at most [`SMALL_NODE`] sub-keys
//!   is read whole (one seek, a few sequential steps) and one of them is chosen uniformly.
//! * A larger subtree's first and last sub-key give its longest common prefix `P`. Its
//!   branches are `P` itself (if it is a sub-key) and the sub-keys' distinct next bytes. If
//!   those bytes span at most [`LIST_MAX`] values, the present ones are listed (one seek
//!   each, remembered for the rest of the request) and a branch is chosen uniformly. If they
//!   span more (binary sub-keys), a byte value is chosen uniformly in the span and the walk
//!   continues at the first present byte at or after it (two seeks), so a branch's chance is
//!   the width of the gap of absent values before it.
//! * The chance `p(x)` of the walk reaching sub-key `x` is the product of those shares,
//!   known exactly. The pick is accepted with probability `min(1, c / (n · p(x)))`, with
//!   `c` = [`TARGET`], and otherwise the walk is retried (at most [`MAX_TRIES`] times).
//!
//! **Bias.** A pick has probability proportional to `min(p(x), c/n)`: every sub-key that the
//! walk reaches at least `c` times as often as a fair `1/n` is exactly as likely as any other,
//! and a sub-key reached less often is under-represented by the factor `n · p(x) / c`. The
//! walk's shares ignore subtree sizes, so that happens to sub-keys in a subtree much larger
//! than its siblings (together, along the path, more than `1/c` = 8 times their fair share),
//! or behind narrow gaps in sparse spans of binary bytes. Common layouts stay within that:
//! fixed-width counters, variable-width counters (`1..N` puts at most about 10 times more
//! keys under the leading digit `1` than under the others), decimal/hex/base64 ids, random
//! binary, words under a shared prefix — their picks are uniform (see
//! `pmemkv/tests/hashes.rs`). Variable-width counters whose range ends just past a power of
//! ten by about half of it (e.g. `1..150000`) exceed it: the keys under the leading `1` come
//! up about 25% less often than the others. If every try is rejected (only for very skewed
//! layouts) the candidate with the smallest `p(x)` is returned.
//!
//! **Cost.** A walk does O(1) seeks (each O(log n)) per trie level on its path, except that
//! listing a node's branches costs one seek per branch, and reads at most [`SMALL_NODE`] + 1
//! sub-keys per node it explores; about log n / log(fan-out) levels are walked, and a pick
//! takes `1 / acceptance` (about 1/c = 8) walks on average. Explored nodes are remembered for
//! the rest of the request (up to [`MAX_CACHED`] nodes and [`MAX_CACHED_KEYS`] sub-keys), so
//! the walks of one request share their upper levels; what remains per walk is mostly one
//! read of a bottom node. For scale: on a 200k-field hash, one pick explores a few dozen
//! nodes and 100 picks about a thousand (debug build: a few ms per pick). Reads are not
//! transactional: a collection changed during a request yields picks from the old or the new
//! contents, or nothing if it became empty.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::rc::Rc;

use crate::error::Result;
use crate::iter::{Direction, KeyRange};
use crate::store::Store;

/// Most walks per pick before the best rejected candidate is returned.
pub const MAX_TRIES: usize = 128;

/// The rejection target `c`: a walk's pick is accepted with probability `c / (n · p(x))`.
pub const TARGET: f64 = 0.125;

/// Subtrees of at most this many sub-keys are read whole.
pub const SMALL_NODE: usize = 128;

/// Branch bytes spanning at most this many values are listed.
pub const LIST_MAX: u32 = 64;

/// Most trie nodes remembered during one request.
pub const MAX_CACHED: usize = 4096;

/// Most sub-keys of small nodes remembered during one request.
pub const MAX_CACHED_KEYS: usize = 1 << 16;

/// Collections up to this size are always sampled exactly, from a full read of their
/// sub-keys (cheaper than a few walks).
pub const SMALL: u64 = 1024;

/// A small, fast, seedable PRNG (SplitMix64). Not cryptographic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n` (`n > 0`), without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        // Reject the top partial copy of 0..n in the u64 range.
        let zone = u64::MAX - (u64::MAX - n + 1) % n;
        loop {
            let x = self.next_u64();
            if x <= zone {
                return x % n;
            }
        }
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Shuffles `items` uniformly (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// How a large trie node branches.
enum Branch {
    /// The present next bytes, ascending.
    Listed(Vec<u8>),
    /// The next bytes span `lo..=hi`, not all present.
    Span { lo: u8, hi: u8 },
}

/// A trie node with more than [`SMALL_NODE`] sub-keys under it.
struct Node {
    /// The longest common prefix of its sub-keys.
    prefix: Vec<u8>,
    /// True if `prefix` itself is a sub-key.
    terminal: bool,
    branch: Branch,
}

/// What a walk finds under a prefix.
enum Explored {
    /// Nothing (the collection changed).
    Empty,
    /// At most [`SMALL_NODE`] sub-keys, all of them.
    Small(Rc<Vec<Vec<u8>>>),
    /// A larger node.
    Inner(Rc<Node>),
}

impl Clone for Explored {
    fn clone(&self) -> Explored {
        match self {
            Explored::Empty => Explored::Empty,
            Explored::Small(k) => Explored::Small(k.clone()),
            Explored::Inner(n) => Explored::Inner(n.clone()),
        }
    }
}

/// Random picks among the sub-keys under one element prefix (see the module documentation).
/// Meant for one request: it remembers the upper trie nodes it explored.
pub struct Sampler<'a> {
    store: &'a Store,
    /// The element-space prefix of the collection (`space_prefix(ELEM_SPACE, key, version)`).
    prefix: Vec<u8>,
    /// The collection's size (its metadata count), the base of the rejection step.
    n: u64,
    rng: Rng,
    /// Nodes explored so far, by the prefix the walk entered them with.
    cache: HashMap<Vec<u8>, Explored>,
    /// Sub-keys held by cached small nodes.
    cached_keys: usize,
}

impl<'a> Sampler<'a> {
    /// A sampler over the sub-keys under `prefix` of a collection of `n` elements.
    pub fn new(store: &'a Store, prefix: Vec<u8>, n: u64, seed: u64) -> Sampler<'a> {
        Sampler { store, prefix, n: n.max(1), rng: Rng::new(seed), cache: HashMap::new(), cached_keys: 0 }
    }

    fn full(&self, sub: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + sub.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(sub);
        k
    }

    /// The range of the sub-keys starting with `within`.
    fn range(&self, within: &[u8]) -> KeyRange {
        KeyRange::prefix(&self.full(within))
    }

    fn one(&self, range: KeyRange, dir: Direction) -> Result<Option<Vec<u8>>> {
        let mut it = self.store.iter_range(range, dir);
        Ok(it.next_key()?.map(|(k, _)| k[self.prefix.len()..].to_vec()))
    }

    /// The first sub-key at or after `from` among those starting with `within`.
    fn first_from(&self, from: &[u8], within: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut r = self.range(within);
        r.start = Bound::Included(self.full(from));
        self.one(r, Direction::Forward)
    }

    /// The last sub-key before `before` among those starting with `within`.
    fn last_before(&self, before: &[u8], within: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut r = self.range(within);
        r.end = Bound::Excluded(self.full(before));
        self.one(r, Direction::Reverse)
    }

    /// The first sub-key after `after`, wrapping around to the first one.
    pub fn next_wrapping(&self, after: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut r = self.range(&[]);
        r.start = Bound::Excluded(self.full(after));
        match self.one(r, Direction::Forward)? {
            Some(k) => Ok(Some(k)),
            None => self.first_from(&[], &[]),
        }
    }

    /// The first present next byte (at depth `d`, under `prefix`) at or after `b`.
    fn child_at_or_after(&self, prefix: &[u8], b: u8) -> Result<Option<u8>> {
        let mut from = prefix.to_vec();
        from.push(b);
        Ok(self.first_from(&from, prefix)?.and_then(|k| k.get(prefix.len()).copied()))
    }

    /// The subtree under `entry`, remembered for the rest of the request while the cache has
    /// room.
    fn explore(&mut self, entry: &[u8]) -> Result<Explored> {
        if let Some(e) = self.cache.get(entry) {
            return Ok(e.clone());
        }
        let e = self.explore_uncached(entry)?;
        let keys = match &e {
            Explored::Small(k) => k.len(),
            _ => 0,
        };
        if self.cache.len() < MAX_CACHED && self.cached_keys + keys <= MAX_CACHED_KEYS {
            self.cached_keys += keys;
            self.cache.insert(entry.to_vec(), e.clone());
        }
        Ok(e)
    }

    fn explore_uncached(&mut self, entry: &[u8]) -> Result<Explored> {
        let plen = self.prefix.len();
        let mut keys = Vec::new();
        for r in self.store.iter_range(self.range(entry), Direction::Forward).keys() {
            keys.push(r?.0[plen..].to_vec());
            if keys.len() > SMALL_NODE {
                break;
            }
        }
        if keys.len() <= SMALL_NODE {
            return Ok(if keys.is_empty() { Explored::Empty } else { Explored::Small(Rc::new(keys)) });
        }
        let Some(last) = self.one(self.range(entry), Direction::Reverse)? else {
            return Ok(Explored::Small(Rc::new(keys)));
        };
        let first = &keys[0];
        let d = first.iter().zip(&last).take_while(|(a, b)| a == b).count();
        // Sorted sub-keys all share the prefix of the first and the last; `keys[1]` is longer
        // than `d` when the first is the prefix itself. A concurrent change could break that.
        let terminal = first.len() == d;
        if d < entry.len() || last.len() <= d || keys[1].len() <= d {
            return Ok(Explored::Small(Rc::new(keys)));
        }
        let prefix = first[..d].to_vec();
        let lo = if terminal { keys[1][d] } else { first[d] };
        let hi = last[d];
        if hi < lo {
            return Ok(Explored::Small(Rc::new(keys)));
        }
        let branch = if ((hi - lo) as u32) < LIST_MAX {
            // The keys already read give the first branches; seek for the rest.
            let mut bytes: Vec<u8> = Vec::new();
            for k in &keys {
                if let Some(&c) = k.get(d) {
                    if bytes.last() != Some(&c) {
                        bytes.push(c);
                    }
                }
            }
            let mut c = *bytes.last().expect("keys longer than d");
            while c < hi {
                match self.child_at_or_after(&prefix, c + 1)? {
                    Some(next) if next > c => {
                        bytes.push(next);
                        c = next;
                    }
                    _ => break,
                }
            }
            Branch::Listed(bytes)
        } else {
            Branch::Span { lo, hi }
        };
        Ok(Explored::Inner(Rc::new(Node { prefix, terminal, branch })))
    }

    /// One walk down the trie: a sub-key and the probability the walk had of reaching it.
    /// `None` if the walk found nothing (an empty or concurrently changed collection).
    fn walk(&mut self) -> Result<Option<(Vec<u8>, f64)>> {
        let mut entry: Vec<u8> = Vec::new();
        let mut prob = 1.0f64;
        loop {
            let node = match self.explore(&entry)? {
                Explored::Empty => return Ok(None),
                Explored::Small(keys) => {
                    let i = self.rng.below(keys.len() as u64) as usize;
                    return Ok(Some((keys[i].clone(), prob / keys.len() as f64)));
                }
                Explored::Inner(node) => node,
            };
            let t = node.terminal as u64;
            let c = match &node.branch {
                Branch::Listed(bytes) => {
                    let k = t + bytes.len() as u64;
                    let r = self.rng.below(k);
                    prob /= k as f64;
                    if r < t {
                        return Ok(Some((node.prefix.clone(), prob)));
                    }
                    bytes[(r - t) as usize]
                }
                &Branch::Span { lo, hi } => {
                    let slots = t + (hi - lo) as u64 + 1;
                    let r = self.rng.below(slots);
                    if r < t {
                        return Ok(Some((node.prefix.clone(), prob / slots as f64)));
                    }
                    let b = lo + (r - t) as u8;
                    let Some(c) = self.child_at_or_after(&node.prefix, b)? else { return Ok(None) };
                    // The slots from just after the previous present byte up to `c` lead here.
                    let prev = if c == lo {
                        lo as i64 - 1
                    } else {
                        let mut before = node.prefix.clone();
                        before.push(c);
                        match self.last_before(&before, &node.prefix)? {
                            Some(k) if k.len() > node.prefix.len() => (k[node.prefix.len()] as i64).max(lo as i64 - 1),
                            _ => lo as i64 - 1,
                        }
                    };
                    prob *= (c as i64 - prev) as f64 / slots as f64;
                    c
                }
            };
            entry.clear();
            entry.extend_from_slice(&node.prefix);
            entry.push(c);
        }
    }

    /// One random sub-key (see the module documentation for its distribution); `None` if
    /// the collection is empty.
    pub fn pick(&mut self) -> Result<Option<Vec<u8>>> {
        let target = TARGET / self.n as f64;
        let mut best: Option<(Vec<u8>, f64)> = None;
        for _ in 0..MAX_TRIES {
            let Some((k, prob)) = self.walk()? else { continue };
            let accept = target / prob;
            if accept >= 1.0 || self.rng.unit() < accept {
                return Ok(Some(k));
            }
            if best.as_ref().is_none_or(|(_, bp)| prob < *bp) {
                best = Some((k, prob));
            }
        }
        Ok(best.map(|(k, _)| k))
    }
}

/// All sub-keys under `prefix`, in order.
fn all_subkeys(store: &Store, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
    store
        .iter_range(KeyRange::prefix(prefix), Direction::Forward)
        .keys()
        .map(|r| r.map(|(k, _)| k[prefix.len()..].to_vec()))
        .collect()
}

/// `count` random sub-keys of the collection of `n` elements under element prefix `prefix`.
///
/// With `distinct`, `min(count, n)` different sub-keys: all of them in order if `count >= n`;
/// an exact uniform sample in random order (one streaming pass, Knuth's selection sampling)
/// if the collection is small or `3·count > n`; otherwise [`Sampler`] picks with duplicates
/// re-drawn (after `3·count + 32` duplicates, a duplicate is replaced by the next unpicked
/// sub-key after it). Without `distinct`, `count` independent picks: exact (from one read of
/// all sub-keys) if the collection is small or `n <= 4·count`, else [`Sampler`] picks.
/// Returns fewer only if the collection shrinks meanwhile.
pub fn random_subkeys(
    store: &Store,
    prefix: &[u8],
    n: u64,
    count: u64,
    distinct: bool,
    seed: u64,
) -> Result<Vec<Vec<u8>>> {
    if n == 0 || count == 0 {
        return Ok(Vec::new());
    }
    let mut rng = Rng::new(seed);
    let cap = count.min(n).min(1 << 16) as usize;
    if distinct {
        if count >= n {
            return all_subkeys(store, prefix);
        }
        if n <= SMALL || count.saturating_mul(3) > n {
            let mut out = Vec::with_capacity(cap);
            for (seen, r) in store.iter_range(KeyRange::prefix(prefix), Direction::Forward).keys().enumerate() {
                let (k, _) = r?;
                let need = count - out.len() as u64;
                if need == 0 {
                    break;
                }
                let left = n.saturating_sub(seen as u64);
                if left == 0 || rng.below(left) < need {
                    out.push(k[prefix.len()..].to_vec());
                }
            }
            rng.shuffle(&mut out);
            return Ok(out);
        }
        let mut sampler = Sampler::new(store, prefix.to_vec(), n, rng.next_u64());
        let mut chosen: HashSet<Vec<u8>> = HashSet::with_capacity(cap);
        let mut out = Vec::with_capacity(cap);
        let mut redraws = count.saturating_mul(3).saturating_add(32);
        while (out.len() as u64) < count {
            let Some(mut k) = sampler.pick()? else { break };
            if chosen.contains(&k) {
                if redraws > 0 {
                    redraws -= 1;
                    continue;
                }
                // Out of re-draws: step to the next sub-key nobody picked yet.
                let start = k.clone();
                loop {
                    match sampler.next_wrapping(&k)? {
                        Some(nk) if nk == start => return Ok(out),
                        Some(nk) if chosen.contains(&nk) => k = nk,
                        Some(nk) => {
                            k = nk;
                            break;
                        }
                        None => return Ok(out),
                    }
                }
            }
            chosen.insert(k.clone());
            out.push(k);
        }
        return Ok(out);
    }
    if n <= SMALL || n <= count.saturating_mul(4) {
        let all = all_subkeys(store, prefix)?;
        if all.is_empty() {
            return Ok(Vec::new());
        }
        return Ok((0..count).map(|_| all[rng.below(all.len() as u64) as usize].clone()).collect());
    }
    let mut sampler = Sampler::new(store, prefix.to_vec(), n, rng.next_u64());
    let mut out = Vec::with_capacity(cap);
    for _ in 0..count {
        match sampler.pick()? {
            Some(k) => out.push(k),
            None => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_uniform_enough() {
        let mut r = Rng::new(1);
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[r.below(10) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        let u = r.unit();
        assert!((0.0..1.0).contains(&u));
        let mut v: Vec<u32> = (0..100).collect();
        r.shuffle(&mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
    }
}
