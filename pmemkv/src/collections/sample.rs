//! Random members of a set or sorted set without loading it (`SPOP`, `SRANDMEMBER`,
//! `ZRANDMEMBER`).
//!
//! The store keeps no counts per key range, so a uniform pick (rank `r` of `n`) is not
//! possible in less than O(n). Instead a [`Sampler`] walks down the *byte trie* of the
//! members with ordered seeks: at a node (a byte prefix `p`, taken as the longest common
//! prefix of the first and last member below it, so shared prefixes such as `user:` cost
//! nothing) it picks uniformly among "stop here" (if `p` itself is a member) and the distinct
//! next bytes present below `p`, then descends. Each level costs a few O(log n) seeks; the
//! distinct next bytes of a node are enumerated with one seek each (cached for the command),
//! up to [`MAX_LISTED`] of them.
//!
//! **Bias.** The pick is uniform among the branches of each trie node, not among members:
//! a member's probability is the product of `1 / (branches)` along its path. Members of
//! evenly spread keys — fixed-width ids, hashes, UUIDs, random tokens — come out close to
//! uniform; in lopsided sets, members in small subtrees are favoured (in `{"a", "b1", …,
//! "b9"}`, `a` is drawn half of the time), and a member that is a prefix of others (`1`
//! with `10`…`19`) counts as one more branch of its node. When a node has more than
//! [`MAX_LISTED`] distinct next bytes (dense binary data), the next byte is drawn uniformly
//! from the span between the lowest and highest present and rounded up to the next present
//! one, so a byte following a gap in the byte values is likelier, by the width of the gap.
//! Every member can be drawn.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;

use crate::error::Result;
use crate::iter::{prefix_successor, Direction, KeyRange};

/// Most distinct next bytes of a node enumerated one seek each.
pub(crate) const MAX_LISTED: usize = 64;
/// Trie nodes cached per sampler before the cache is dropped.
const MAX_CACHED: usize = 4096;

/// Finds the first store key of a range in a direction (a seek).
pub(crate) type Seek<'a> = dyn Fn(KeyRange, Direction) -> Result<Option<Vec<u8>>> + 'a;

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
    rng: Rng,
    nodes: HashMap<Vec<u8>, Node>,
}

impl<'a> Sampler<'a> {
    /// A sampler over the members stored under `prefix`, reading with `seek`.
    pub(crate) fn new(prefix: Vec<u8>, seek: &'a Seek<'a>) -> Sampler<'a> {
        Sampler { prefix, seek, rng: Rng::new(), nodes: HashMap::new() }
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
        if self.nodes.len() >= MAX_CACHED {
            self.nodes.clear();
        }
        self.nodes.insert(q.to_vec(), n.clone());
        Ok(n)
    }

    /// A random member (see the module documentation), or `None` if there is none. With a
    /// stale view (members removed since the walk cached them) the result may be a position
    /// rather than a member: [`Sampler::pick_excluding`] resolves it.
    pub(crate) fn sample(&mut self) -> Result<Option<Vec<u8>>> {
        let mut q = Vec::new();
        loop {
            match self.node(&q)? {
                Node::Empty => return Ok(if q.is_empty() { None } else { Some(q) }),
                Node::Leaf(m) => return Ok(Some(m)),
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
                        Children::Span(lo, _) => {
                            let mut at = p.clone();
                            at.push(lo + r as u8);
                            match self.first(self.under(&p, Bound::Included(self.full(&at))), Direction::Forward)? {
                                Some(m) if m.len() > p.len() => m[p.len()],
                                _ => return Ok(Some(at)),
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
    /// excluded. Used to draw distinct members, and with members popped in this transaction.
    pub(crate) fn pick_excluding(&mut self, excluded: &HashSet<Vec<u8>>) -> Result<Option<Vec<u8>>> {
        let Some(at) = self.sample()? else { return Ok(None) };
        if !excluded.contains(&at) && self.is_member(&at)? {
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

    fn is_member(&self, m: &[u8]) -> Result<bool> {
        let k = self.full(m);
        let r = KeyRange { start: Bound::Included(k.clone()), end: Bound::Included(k) };
        Ok(self.first(r, Direction::Forward)?.is_some())
    }
}
