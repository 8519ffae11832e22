//! Random members of a set or sorted set without loading it (`SPOP`, `SRANDMEMBER`,
//! `ZRANDMEMBER`). (Hashes use their own sampler, `collections::sample`, written separately
//! for `HRANDFIELD`; the two could be unified.)
//!
//! The store keeps no counts per key range, so a uniform pick (rank `r` of `n`) is not
//! possible in less than O(n). Instead a sampler walks down the *byte trie* of the
//! members with ordered seeks: at a node (a byte prefix `p`, taken as the longest common
//! prefix of the first and last member below it, so shared prefixes such as `user:` cost
//! nothing) it picks uniformly among "stop here" (if `p` itself is a member) and the distinct
//! next bytes present below `p`, then descends, until a node holds at most [`SMALL`]
//! members, which are read in one short walk and drawn from uniformly. Each level costs a
//! few O(log n) seeks; the distinct next bytes of a node are enumerated with one seek each
//! (cached for the command), up to [`MAX_LISTED`] of them.
//!
//! **Bias.** The pick is uniform among the branches of each trie node, not among members:
//! a member's probability is the product of `1 / (branches)` along its path (times
//! `1 / members` of its final small node). Members of
//! evenly spread keys — fixed-width ids, hashes, UUIDs, random tokens — come out close to
//! uniform; in lopsided sets, members in small subtrees are favoured (in `{"a", "b1", …,
//! "b99"}`, `a` is drawn half of the time: a thousand members sharing a prefix get one
//! branch's share against a single member beside them), and a member that is a prefix of
//! others (`1` with `10`…`19`) counts as one more branch of its node. Callers only draw this
//! way when they need few members of a big collection (see [`DRAW_COST`]); larger picks
//! walk the whole collection and are exactly uniform. When a node has more than
//! [`MAX_LISTED`] distinct next bytes (dense binary data), the next byte is drawn uniformly
//! from the span between the lowest and highest present and rounded up to the next present
//! one, so a byte following a gap in the byte values is likelier, by the width of the gap.
//! Every member can be drawn.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;

use crate::collections::Reader;
use crate::error::Result;
use crate::iter::{prefix_successor, Direction, KeyRange};

/// Most distinct next bytes of a node enumerated one seek each.
pub const MAX_LISTED: usize = 64;
/// A node with at most this many members is read whole and drawn from uniformly.
pub const SMALL: usize = 16;
/// Trie nodes cached per sampler before the cache is dropped.
const MAX_CACHED: usize = 16384;
/// A draw costs about as much as this many steps of an ordered walk: to pick more than
/// `size / DRAW_COST` members, callers walk the whole collection once instead (exactly
/// uniform, memory O(picked): reservoir sampling, or sorted random positions for draws with
/// repetition).
pub const DRAW_COST: u64 = 512;
/// Most draws with repetition one call makes (`SRANDMEMBER key -count`): the reply must fit
/// in memory. Redis streams any count; a larger one is refused here.
pub const MAX_REPEATED_DRAWS: u64 = 1 << 24;

/// Checks a number of draws with repetition against [`MAX_REPEATED_DRAWS`].
pub(crate) fn check_draws(n: u64) -> Result<()> {
    if n > MAX_REPEATED_DRAWS {
        return Err(crate::error::Error::InvalidArgument("value is out of range".into()));
    }
    Ok(())
}

/// `k` items chosen uniformly without replacement from `items`, in one pass (reservoir
/// sampling; memory O(k)).
pub(crate) fn reservoir<T>(items: impl Iterator<Item = Result<T>>, k: usize, rng: &mut Rng) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(k.min(1 << 16));
    let mut seen = 0u64;
    for x in items {
        let x = x?;
        seen += 1;
        if out.len() < k {
            out.push(x);
        } else {
            let j = rng.below(seen);
            if j < k as u64 {
                out[j as usize] = x;
            }
        }
    }
    Ok(out)
}

/// `n` independent uniform draws (with replacement, in random order) from the `size` items
/// of `items`, in one pass: random positions are sorted and filled as the walk passes them
/// (memory O(n)). Fewer come back if `items` holds fewer than `size`.
pub(crate) fn with_replacement<T: Clone>(
    items: impl Iterator<Item = Result<T>>,
    size: u64,
    n: usize,
    rng: &mut Rng,
) -> Result<Vec<T>> {
    if size == 0 {
        return Ok(Vec::new());
    }
    let mut wanted: Vec<(u64, usize)> = (0..n).map(|slot| (rng.below(size), slot)).collect();
    wanted.sort_unstable();
    let mut slots: Vec<Option<T>> = vec![None; n];
    let mut next = 0;
    for (pos, x) in items.enumerate() {
        if next == wanted.len() {
            break;
        }
        let x = x?;
        while next < wanted.len() && wanted[next].0 == pos as u64 {
            slots[wanted[next].1] = Some(x.clone());
            next += 1;
        }
    }
    Ok(slots.into_iter().flatten().collect())
}

/// Finds the first store key of a range in a direction (a seek).
pub(crate) type Seek<'a> = dyn Fn(KeyRange, Direction) -> Result<Option<Vec<u8>>> + 'a;

/// Reads the store keys of a range in order if there are at most `n` (else `None`).
pub(crate) type Walk<'a> = dyn Fn(KeyRange, usize) -> Result<Option<Vec<Vec<u8>>>> + 'a;

/// A [`Walk`] through `r`.
pub(crate) fn walk_with<R: Reader + ?Sized>(r: &R, range: KeyRange, n: usize) -> Result<Option<Vec<Vec<u8>>>> {
    let mut out = Vec::new();
    for x in r.range(range, Direction::Forward).keys() {
        if out.len() == n {
            return Ok(None);
        }
        out.push(x?.0);
    }
    Ok(Some(out))
}

/// A small PRNG (xorshift64*), seeded from the process's hasher keys and the clock.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A freshly seeded generator.
    pub(crate) fn new() -> Rng {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        h.write_u128(nanos);
        Rng(h.finish() | 1)
    }

    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

/// The next bytes below a trie node.
#[derive(Debug, Clone)]
enum Children {
    /// Every distinct next byte, ascending.
    Listed(Vec<u8>),
    /// Too many to list: the lowest and highest.
    Span(u8, u8),
}

/// A trie node: the members starting with a queried prefix.
#[derive(Debug, Clone)]
enum Node {
    /// No member (only when members vanished under a stale cache).
    Empty,
    /// Exactly one member.
    Leaf(Vec<u8>),
    /// At most [`SMALL`] members, all listed (not cached: one short walk reads them).
    Small(Vec<Vec<u8>>),
    /// Several members sharing the prefix `p`.
    Branch {
        /// Their longest common prefix.
        p: Vec<u8>,
        /// `p` itself is a member.
        stop: bool,
        /// The bytes after `p`.
        children: Children,
    },
}

/// Draws random members of the collection whose members are the store keys under `prefix`
/// (see the module documentation for the distribution).
pub(crate) struct Sampler<'a> {
    prefix: Vec<u8>,
    seek: &'a Seek<'a>,
    walk: &'a Walk<'a>,
    rng: Rng,
    nodes: HashMap<Vec<u8>, Node>,
}

impl<'a> Sampler<'a> {
    /// A sampler over the members stored under `prefix`, reading with `seek` and `walk`.
    /// Its cache assumes the members do not change while it is used (a concurrent writer
    /// at worst makes a draw restart).
    pub(crate) fn new(prefix: Vec<u8>, seek: &'a Seek<'a>, walk: &'a Walk<'a>) -> Sampler<'a> {
        Sampler { prefix, seek, walk, rng: Rng::new(), nodes: HashMap::new() }
    }

    /// The random generator (for callers that also need random numbers).
    pub(crate) fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    fn full(&self, member: &[u8]) -> Vec<u8> {
        let mut k = self.prefix.clone();
        k.extend_from_slice(member);
        k
    }

    /// The first member in `range` (of store keys) in `dir`.
    fn first(&self, range: KeyRange, dir: Direction) -> Result<Option<Vec<u8>>> {
        let k = (self.seek)(range, dir)?;
        Ok(k.map(|k| k[self.prefix.len()..].to_vec()))
    }

    /// The store-key range of members starting with `p`, from `start` on.
    fn under(&self, p: &[u8], start: Bound<Vec<u8>>) -> KeyRange {
        let full = self.full(p);
        let end = prefix_successor(&full).map_or(Bound::Unbounded, Bound::Excluded);
        KeyRange { start, end }
    }

    fn compute(&self, q: &[u8]) -> Result<Node> {
        let all = self.under(q, Bound::Included(self.full(q)));
        if let Some(mut members) = (self.walk)(all.clone(), SMALL)? {
            let n = self.prefix.len();
            return Ok(match members.len() {
                0 => Node::Empty,
                1 => Node::Leaf(members.swap_remove(0)[n..].to_vec()),
                _ => Node::Small(members.into_iter().map(|k| k[n..].to_vec()).collect()),
            });
        }
        let Some(first) = self.first(all.clone(), Direction::Forward)? else { return Ok(Node::Empty) };
        let Some(last) = self.first(all, Direction::Reverse)? else { return Ok(Node::Leaf(first)) };
        if first == last {
            return Ok(Node::Leaf(first));
        }
        let d = first.iter().zip(&last).take_while(|(a, b)| a == b).count();
        let p = first[..d].to_vec();
        let stop = first.len() == d;
        // `last` is longer than `p` (it differs from `first`, which starts with `p`).
        let hi = last[d];
        let lo = if stop {
            match self.first(self.under(&p, Bound::Excluded(self.full(&p))), Direction::Forward)? {
                Some(m) => m[d],
                None => hi,
            }
        } else {
            first[d]
        };
        let children = {
            let mut listed = vec![lo];
            let mut cur = lo;
            let mut overflow = false;
            while cur < hi {
                if listed.len() >= MAX_LISTED {
                    overflow = true;
                    break;
                }
                let mut at = p.clone();
                at.push(cur + 1);
                match self.first(self.under(&p, Bound::Included(self.full(&at))), Direction::Forward)? {
                    Some(m) if m.len() > d => {
                        cur = m[d];
                        listed.push(cur);
                    }
                    _ => break,
                }
            }
            if overflow {
                Children::Span(lo, hi)
            } else {
                Children::Listed(listed)
            }
        };
        Ok(Node::Branch { p, stop, children })
    }

    fn node(&mut self, q: &[u8]) -> Result<Node> {
        if let Some(n) = self.nodes.get(q) {
            return Ok(n.clone());
        }
        let n = self.compute(q)?;
        if matches!(n, Node::Branch { .. }) {
            if self.nodes.len() >= MAX_CACHED {
                self.nodes.clear();
            }
            self.nodes.insert(q.to_vec(), n.clone());
        }
        Ok(n)
    }

    /// A random member (see the module documentation), or `None` if there is none.
    pub(crate) fn sample(&mut self) -> Result<Option<Vec<u8>>> {
        let mut q = Vec::new();
        let mut restarts = 0;
        loop {
            match self.node(&q)? {
                Node::Empty if q.is_empty() => return Ok(None),
                Node::Empty => {
                    // Members vanished under the cache (a concurrent writer): start over.
                    restarts += 1;
                    if restarts > 3 {
                        return Ok(None);
                    }
                    self.nodes.clear();
                    q.clear();
                }
                Node::Leaf(m) => return Ok(Some(m)),
                Node::Small(mut v) => {
                    let i = self.rng.below(v.len() as u64) as usize;
                    return Ok(Some(v.swap_remove(i)));
                }
                Node::Branch { p, stop, children } => {
                    let n = match &children {
                        Children::Listed(v) => v.len() as u64,
                        Children::Span(lo, hi) => (hi - lo) as u64 + 1,
                    };
                    let r = self.rng.below(n + stop as u64);
                    if stop && r == 0 {
                        return Ok(Some(p));
                    }
                    let r = r - stop as u64;
                    let byte = match &children {
                        Children::Listed(v) => v[r as usize],
                        Children::Span(lo, hi) => {
                            let mut at = p.clone();
                            at.push(lo + r as u8);
                            match self.first(self.under(&p, Bound::Included(self.full(&at))), Direction::Forward)? {
                                Some(m) if m.len() > p.len() => m[p.len()],
                                // Nothing at or after it below `p` (changed meanwhile): the last.
                                _ => *hi,
                            }
                        }
                    };
                    q = p;
                    q.push(byte);
                }
            }
        }
    }

    /// A random member not in `excluded`: a [`Sampler::sample`] draw, moved forward to the
    /// next member not excluded (wrapping around to the first one). `None` if every member is
    /// excluded. Used to draw distinct members.
    pub(crate) fn pick_excluding(&mut self, excluded: &HashSet<Vec<u8>>) -> Result<Option<Vec<u8>>> {
        let Some(at) = self.sample()? else { return Ok(None) };
        if !excluded.contains(&at) {
            return Ok(Some(at));
        }
        let space = KeyRange::prefix(&self.prefix);
        let from = KeyRange { start: Bound::Included(self.full(&at)), end: space.end.clone() };
        let before = KeyRange { start: space.start.clone(), end: Bound::Excluded(self.full(&at)) };
        for range in [from, before] {
            let mut range = range;
            while let Some(m) = self.first(range.clone(), Direction::Forward)? {
                if !excluded.contains(&m) {
                    return Ok(Some(m));
                }
                range.start = Bound::Excluded(self.full(&m));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::*;
    use crate::collections::first_key;
    use crate::{Options, Store, WriteBatch};

    fn store_with(members: &[Vec<u8>]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options { segment_size: 16 << 20, max_inline_value: 1 << 20, ..Options::default() };
        let store = Store::open(dir.path(), opts).unwrap();
        let mut b = WriteBatch::new();
        for m in members {
            let mut k = b"P".to_vec();
            k.extend_from_slice(m);
            b.put(k, Vec::new());
        }
        // Keys around the prefix that must never be drawn.
        b.put(b"O".to_vec(), Vec::new()).put(b"Q".to_vec(), Vec::new());
        store.write(&b).unwrap();
        (dir, store)
    }

    fn draws(members: &[Vec<u8>], n: usize) -> HashMap<Vec<u8>, usize> {
        let (_dir, store) = store_with(members);
        let seek = |r: KeyRange, d: Direction| first_key(&store, r, d);
        let walk = |r: KeyRange, k: usize| walk_with(&store, r, k);
        let mut s = Sampler::new(b"P".to_vec(), &seek, &walk);
        let mut counts = HashMap::new();
        for _ in 0..n {
            *counts.entry(s.sample().unwrap().expect("a member")).or_default() += 1;
        }
        counts
    }

    #[test]
    fn every_member_can_be_drawn() {
        let mut members: Vec<Vec<u8>> =
            [&b""[..], b"a", b"a\x00", b"a\x00\x00", b"ab", b"abc", b"b", b"\xff\xff", b"zzzzzzzz"]
                .iter()
                .map(|m| m.to_vec())
                .collect();
        members.extend((0..300u32).map(|i| i.to_be_bytes().to_vec()));
        let mut rng = Rng(99);
        // Dense binary members: more distinct bytes per node than are listed.
        let dense: Vec<Vec<u8>> = (0..3000).map(|_| (0..6).map(|_| rng.below(256) as u8).collect()).collect();
        for mut set in [members, dense] {
            set.sort();
            set.dedup();
            let counts = draws(&set, 100_000);
            let missing: Vec<_> = set.iter().filter(|m| !counts.contains_key(*m)).collect();
            assert!(missing.is_empty(), "never drawn: {missing:?}");
            assert!(counts.keys().all(|m| set.binary_search(m).is_ok()), "only members are drawn");
        }
    }

    #[test]
    fn evenly_spread_members_come_out_near_uniform() {
        let members: Vec<Vec<u8>> = (0..1000).map(|i| format!("user:{i:06}").into_bytes()).collect();
        let counts = draws(&members, 100_000);
        assert_eq!(counts.len(), 1000);
        for (m, n) in &counts {
            // 100 expected; a uniform draw stays well within [40, 200].
            assert!((40..=200).contains(n), "{} drawn {n} times", String::from_utf8_lossy(m));
        }
    }

    #[test]
    fn excluding_draws_each_member_once() {
        let members: Vec<Vec<u8>> = (0..500).map(|i| format!("{i}").into_bytes()).collect();
        let (_dir, store) = store_with(&members);
        let seek = |r: KeyRange, d: Direction| first_key(&store, r, d);
        let walk = |r: KeyRange, k: usize| walk_with(&store, r, k);
        let mut s = Sampler::new(b"P".to_vec(), &seek, &walk);
        let mut seen = HashSet::new();
        while let Some(m) = s.pick_excluding(&seen).unwrap() {
            assert!(seen.insert(m));
        }
        assert_eq!(seen.len(), 500);
        let empty = store_with(&[]);
        let seek = |r: KeyRange, d: Direction| first_key(&empty.1, r, d);
        let walk = |r: KeyRange, k: usize| walk_with(&empty.1, r, k);
        assert_eq!(Sampler::new(b"P".to_vec(), &seek, &walk).sample().unwrap(), None);
    }

    #[test]
    fn walks_pick_exactly() {
        let mut rng = Rng(7);
        let items = || (0..1000u32).map(Ok);
        let r = reservoir(items(), 100, &mut rng).unwrap();
        assert_eq!(r.iter().collect::<BTreeSet<_>>().len(), 100);
        assert_eq!(reservoir(items(), 5000, &mut rng).unwrap().len(), 1000);
        let w = with_replacement(items(), 1000, 5000, &mut rng).unwrap();
        assert_eq!(w.len(), 5000);
        assert!(w.iter().collect::<BTreeSet<_>>().len() > 900);
        assert!(w.windows(2).any(|p| p[0] > p[1]), "random order, not walk order");
        assert!(with_replacement(items(), 2000, 50, &mut rng).unwrap().len() <= 50);
        assert!(check_draws(MAX_REPEATED_DRAWS).is_ok() && check_draws(MAX_REPEATED_DRAWS + 1).is_err());
    }
}
