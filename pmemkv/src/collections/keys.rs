//! Key and metadata encoding of the collection layer.
//!
//! This module owns the three key spaces the collection layer uses in the ordered store:
//!
//! * `M ++ user_key` — the **metadata record** of every user key. Its value starts with a
//!   [`KeyType`] byte. A string keeps its bytes right after that byte (so `GET` is one
//!   zero-copy lookup); a collection keeps its *version*, element count and type-specific
//!   fields ([`CollMeta`]). Whole-key expiry is the store-level expiry of this record.
//! * `E ++ u32-BE(len(user_key)) ++ user_key ++ u64-BE(version) ++ subkey` — one **element**
//!   of a collection: a hash field (value = u64-BE insertion number ++ the field's value; see
//!   [`CollMeta::tail`]), a set member, a list index (u64-BE, biased by [`LIST_BIAS`] so that
//!   pushes on the left stay above zero), a sorted-set member (value = its score) or a stream
//!   id (`ms` u64-BE ++ `seq` u64-BE).
//! * `Z ++ u32-BE(len(user_key)) ++ user_key ++ u64-BE(version) ++ sortable-f64(score) ++
//!   member` — the **score index** of a sorted set (empty value), ordered by score, then
//!   member.
//! * `G ++ u32-BE(len(user_key)) ++ user_key ++ u64-BE(version) ++ tag ++ …` — the
//!   **consumer-group state** of a stream, kept apart from its entries (so entry ranges never
//!   see it). The tag byte after the version selects the record:
//!   * `g ++ group` — a group (no length prefix, so groups list in name order, as in Redis) ([`GroupMeta`]: last-delivered id, entries-read, PEL size,
//!     consumer count);
//!   * `c ++ u32-BE(len(group)) ++ group ++ consumer` — a consumer ([`ConsumerMeta`]:
//!     seen-time, its PEL size);
//!   * `p ++ u32-BE(len(group)) ++ group ++ id` — a pending entry of the group's PEL
//!     ([`Nack`]: delivery time, delivery count, owning consumer), ordered by id;
//!   * `q ++ u32-BE(len(group)) ++ group ++ u32-BE(len(consumer)) ++ consumer ++ id` — the
//!     per-consumer PEL index (empty value), ordered by id, for a consumer's own pending
//!     entries without walking the group's.
//!
//!   An ack, a claim or a delivery touches O(1) of these keys per entry; PEL ranges are
//!   ordered scans. Group keys carry the stream's version like elements do, so deleting or
//!   overwriting the stream orphans them too (the orphan purge walks `E`, `G` and `Z`).
//!
//! The length prefix keeps the elements of different user keys apart (no key is a prefix of
//! another's element space). The version makes deleting or overwriting a collection O(1):
//! only the metadata record changes, and elements of an older version are *orphans* that no
//! read can reach; [`crate::collections::Collections::purge_orphans`] deletes them later.

use crate::collections::stream::StreamId;
use crate::error::{Error, Result};

/// First byte of metadata keys.
pub const META_SPACE: u8 = b'M';
/// First byte of element keys.
pub const ELEM_SPACE: u8 = b'E';
/// First byte of sorted-set score-index keys.
pub const ZINDEX_SPACE: u8 = b'Z';
/// First byte of stream consumer-group keys.
pub const GROUP_SPACE: u8 = b'G';

/// Tag of a consumer-group record (after the `G` prefix and version).
pub const TAG_GROUP: u8 = b'g';
/// Tag of a consumer record.
pub const TAG_CONSUMER: u8 = b'c';
/// Tag of a group PEL entry.
pub const TAG_PEL: u8 = b'p';
/// Tag of a per-consumer PEL index entry.
pub const TAG_CONSUMER_PEL: u8 = b'q';

/// Index of the first element of a new list. List positions are `u64`, so starting in the
/// middle leaves 2^63 positions for pushes on either side.
pub const LIST_BIAS: u64 = 1 << 63;

/// The type of the value held by a user key (what Redis `TYPE` reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// A byte string.
    String,
    /// A map of fields to values.
    Hash,
    /// A sequence of values addressed by index.
    List,
    /// A set of members.
    Set,
    /// A set of members ordered by score.
    ZSet,
    /// An append-only log of entries with increasing ids.
    Stream,
}

impl KeyType {
    /// The name Redis `TYPE` returns for this type.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Hash => "hash",
            KeyType::List => "list",
            KeyType::Set => "set",
            KeyType::ZSet => "zset",
            KeyType::Stream => "stream",
        }
    }

    /// The type byte that starts the metadata record.
    pub fn to_byte(self) -> u8 {
        match self {
            KeyType::String => 1,
            KeyType::Hash => 2,
            KeyType::List => 3,
            KeyType::Set => 4,
            KeyType::ZSet => 5,
            KeyType::Stream => 6,
        }
    }

    /// The type of a metadata type byte.
    pub fn from_byte(b: u8) -> Option<KeyType> {
        Some(match b {
            1 => KeyType::String,
            2 => KeyType::Hash,
            3 => KeyType::List,
            4 => KeyType::Set,
            5 => KeyType::ZSet,
            6 => KeyType::Stream,
            RAW_STRING_TYPE | FLOAT_STRING_TYPE => KeyType::String,
            _ => return None,
        })
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The metadata key of `user_key`: `M ++ user_key`.
pub fn meta_key(user_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + user_key.len());
    k.push(META_SPACE);
    k.extend_from_slice(user_key);
    k
}

/// The prefix shared by all keys of one collection version in `space` (`E` or `Z`):
/// `space ++ u32-BE(len) ++ user_key ++ u64-BE(version)`.
pub fn space_prefix(space: u8, user_key: &[u8], version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(13 + user_key.len());
    k.push(space);
    k.extend_from_slice(&(user_key.len() as u32).to_be_bytes());
    k.extend_from_slice(user_key);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// The element key of `sub` (field, member, index or id) in version `version` of `user_key`.
pub fn elem_key(user_key: &[u8], version: u64, sub: &[u8]) -> Vec<u8> {
    let mut k = space_prefix(ELEM_SPACE, user_key, version);
    k.extend_from_slice(sub);
    k
}

/// The element key of list position `pos`.
pub fn list_key(user_key: &[u8], version: u64, pos: u64) -> Vec<u8> {
    elem_key(user_key, version, &pos.to_be_bytes())
}

/// The element key of stream entry `id`.
pub fn stream_key(user_key: &[u8], version: u64, id: StreamId) -> Vec<u8> {
    elem_key(user_key, version, &id.to_bytes())
}

/// The score-index key of (`score`, `member`) in version `version` of sorted set `user_key`.
/// `score` must not be NaN.
pub fn zindex_key(user_key: &[u8], version: u64, score: f64, member: &[u8]) -> Vec<u8> {
    let mut k = space_prefix(ZINDEX_SPACE, user_key, version);
    k.extend_from_slice(&score_to_sortable(score).to_be_bytes());
    k.extend_from_slice(member);
    k
}

fn group_sub(user_key: &[u8], version: u64, tag: u8, group: &[u8]) -> Vec<u8> {
    let mut k = space_prefix(GROUP_SPACE, user_key, version);
    k.push(tag);
    k.extend_from_slice(&(group.len() as u32).to_be_bytes());
    k.extend_from_slice(group);
    k
}

/// The prefix of every group record of version `version` of stream `user_key`.
pub fn groups_prefix(user_key: &[u8], version: u64) -> Vec<u8> {
    let mut k = space_prefix(GROUP_SPACE, user_key, version);
    k.push(TAG_GROUP);
    k
}

/// The key of consumer group `group`'s record.
pub fn group_key(user_key: &[u8], version: u64, group: &[u8]) -> Vec<u8> {
    let mut k = groups_prefix(user_key, version);
    k.extend_from_slice(group);
    k
}

/// The prefix of the consumer records of `group`.
pub fn consumers_prefix(user_key: &[u8], version: u64, group: &[u8]) -> Vec<u8> {
    group_sub(user_key, version, TAG_CONSUMER, group)
}

/// The key of consumer `consumer` of `group`.
pub fn consumer_key(user_key: &[u8], version: u64, group: &[u8], consumer: &[u8]) -> Vec<u8> {
    let mut k = consumers_prefix(user_key, version, group);
    k.extend_from_slice(consumer);
    k
}

/// The prefix of the PEL of `group`.
pub fn pel_prefix(user_key: &[u8], version: u64, group: &[u8]) -> Vec<u8> {
    group_sub(user_key, version, TAG_PEL, group)
}

/// The key of pending entry `id` in the PEL of `group`.
pub fn pel_key(user_key: &[u8], version: u64, group: &[u8], id: StreamId) -> Vec<u8> {
    let mut k = pel_prefix(user_key, version, group);
    k.extend_from_slice(&id.to_bytes());
    k
}

/// The prefix of the PEL index of `consumer` in `group`.
pub fn consumer_pel_prefix(user_key: &[u8], version: u64, group: &[u8], consumer: &[u8]) -> Vec<u8> {
    let mut k = group_sub(user_key, version, TAG_CONSUMER_PEL, group);
    k.extend_from_slice(&(consumer.len() as u32).to_be_bytes());
    k.extend_from_slice(consumer);
    k
}

/// The key of pending entry `id` in the PEL index of `consumer` in `group`.
pub fn consumer_pel_key(user_key: &[u8], version: u64, group: &[u8], consumer: &[u8], id: StreamId) -> Vec<u8> {
    let mut k = consumer_pel_prefix(user_key, version, group, consumer);
    k.extend_from_slice(&id.to_bytes());
    k
}

/// The value of a consumer-group record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupMeta {
    /// The last id delivered to the group's consumers.
    pub last_id: StreamId,
    /// The group's logical read counter (`None`: unknown, Redis's -1).
    pub entries_read: Option<u64>,
    /// Number of entries in the group's PEL.
    pub pending: u64,
    /// Number of consumers.
    pub consumers: u64,
}

impl GroupMeta {
    /// Encodes the record: last id (16 bytes), entries-read (u64, `u64::MAX` = unknown),
    /// pending, consumers (40 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(40);
        v.extend_from_slice(&self.last_id.to_bytes());
        v.extend_from_slice(&self.entries_read.unwrap_or(u64::MAX).to_be_bytes());
        v.extend_from_slice(&self.pending.to_be_bytes());
        v.extend_from_slice(&self.consumers.to_be_bytes());
        v
    }

    /// Decodes [`GroupMeta::encode`].
    pub fn decode(v: &[u8]) -> Option<GroupMeta> {
        if v.len() != 40 {
            return None;
        }
        let u = |at: usize| u64::from_be_bytes(v[at..at + 8].try_into().expect("8 bytes"));
        Some(GroupMeta {
            last_id: StreamId::from_bytes(&v[..16])?,
            entries_read: Some(u(16)).filter(|&n| n != u64::MAX),
            pending: u(24),
            consumers: u(32),
        })
    }
}

/// The value of a consumer record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsumerMeta {
    /// When the consumer was last seen (ms since the Unix epoch).
    pub seen_time: u64,
    /// Number of entries in its PEL.
    pub pending: u64,
}

impl ConsumerMeta {
    /// Encodes the record: seen-time, pending (16 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(&self.seen_time.to_be_bytes());
        v.extend_from_slice(&self.pending.to_be_bytes());
        v
    }

    /// Decodes [`ConsumerMeta::encode`].
    pub fn decode(v: &[u8]) -> Option<ConsumerMeta> {
        if v.len() != 16 {
            return None;
        }
        Some(ConsumerMeta {
            seen_time: u64::from_be_bytes(v[..8].try_into().ok()?),
            pending: u64::from_be_bytes(v[8..].try_into().ok()?),
        })
    }
}

/// The value of a group PEL entry (a delivered, not yet acknowledged entry).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nack {
    /// When it was last delivered (ms since the Unix epoch).
    pub delivery_time: u64,
    /// How many times it was delivered.
    pub delivery_count: u64,
    /// The consumer that owns it.
    pub consumer: Vec<u8>,
}

impl Nack {
    /// Encodes the record: delivery time, delivery count, then the consumer's name.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16 + self.consumer.len());
        v.extend_from_slice(&self.delivery_time.to_be_bytes());
        v.extend_from_slice(&self.delivery_count.to_be_bytes());
        v.extend_from_slice(&self.consumer);
        v
    }

    /// Decodes [`Nack::encode`].
    pub fn decode(v: &[u8]) -> Option<Nack> {
        Some(Nack {
            delivery_time: u64::from_be_bytes(v.get(..8)?.try_into().ok()?),
            delivery_count: u64::from_be_bytes(v.get(8..16)?.try_into().ok()?),
            consumer: v[16..].to_vec(),
        })
    }
}

/// An element or score-index key taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubKey<'a> {
    /// [`ELEM_SPACE`], [`GROUP_SPACE`] or [`ZINDEX_SPACE`].
    pub space: u8,
    /// The user key of the collection.
    pub user_key: &'a [u8],
    /// The collection version the key belongs to.
    pub version: u64,
    /// What follows the version (field, member, index, id, or score ++ member).
    pub sub: &'a [u8],
}

/// Parses an element, group or score-index key; `None` if `key` is not one.
pub fn decode_sub_key(key: &[u8]) -> Option<SubKey<'_>> {
    let (&space, rest) = key.split_first()?;
    if space != ELEM_SPACE && space != ZINDEX_SPACE && space != GROUP_SPACE {
        return None;
    }
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let rest = &rest[4..];
    let user_key = rest.get(..len)?;
    let version = u64::from_be_bytes(rest.get(len..len + 8)?.try_into().ok()?);
    Some(SubKey { space, user_key, version, sub: &rest[len + 8..] })
}

/// Maps a score to a `u64` whose unsigned order is the numeric order of scores (`-inf` lowest,
/// `+inf` highest; `-0.0` is stored as `0.0`). Flips the sign bit of positives and all bits
/// of negatives. `score` must not be NaN.
pub fn score_to_sortable(score: f64) -> u64 {
    debug_assert!(!score.is_nan());
    let score = if score == 0.0 { 0.0 } else { score };
    let bits = score.to_bits();
    if bits >> 63 == 0 {
        bits ^ (1 << 63)
    } else {
        !bits
    }
}

/// Inverse of [`score_to_sortable`].
pub fn sortable_to_score(s: u64) -> f64 {
    if s >> 63 == 1 {
        f64::from_bits(s ^ (1 << 63))
    } else {
        f64::from_bits(!s)
    }
}

/// Rejects NaN scores with Redis's wording.
pub fn check_score(score: f64) -> Result<f64> {
    if score.is_nan() {
        return Err(Error::InvalidArgument("value is not a valid float".into()));
    }
    Ok(if score == 0.0 { 0.0 } else { score })
}

/// Stream fields kept in the metadata record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamMeta {
    /// The greatest id ever added (ids of new entries must be greater).
    pub last_id: StreamId,
    /// The id of the first entry (`0-0` when the stream is empty).
    pub first_id: StreamId,
    /// Number of entries ever added.
    pub entries_added: u64,
    /// The greatest id ever deleted (`0-0` if none).
    pub max_deleted_id: StreamId,
}

/// The metadata of a collection (any type but string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollMeta {
    /// The collection's type (never [`KeyType::String`]).
    pub kind: KeyType,
    /// The version its elements are keyed under (the store version of the write that created
    /// the collection).
    pub version: u64,
    /// Number of elements.
    pub count: u64,
    /// Lists: position of the first element.
    pub head: u64,
    /// Lists: position after the last element (`tail - head == count`). Hashes: the
    /// insertion number the next new field gets (fields keep theirs when updated), so that a
    /// small hash can list its fields in insertion order, as Redis's compact encoding does.
    pub tail: u64,
    /// Streams: ids and counters.
    pub stream: StreamMeta,
}

impl CollMeta {
    /// Metadata of a new, empty collection.
    pub fn new(kind: KeyType, version: u64) -> CollMeta {
        CollMeta { kind, version, count: 0, head: LIST_BIAS, tail: LIST_BIAS, stream: StreamMeta::default() }
    }

    /// Encodes the metadata record value.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(17 + 56);
        v.push(self.kind.to_byte());
        v.extend_from_slice(&self.version.to_be_bytes());
        v.extend_from_slice(&self.count.to_be_bytes());
        match self.kind {
            KeyType::List => {
                v.extend_from_slice(&self.head.to_be_bytes());
                v.extend_from_slice(&self.tail.to_be_bytes());
            }
            KeyType::Hash => v.extend_from_slice(&self.tail.to_be_bytes()),
            KeyType::Stream => {
                let s = &self.stream;
                v.extend_from_slice(&s.last_id.to_bytes());
                v.extend_from_slice(&s.first_id.to_bytes());
                v.extend_from_slice(&s.entries_added.to_be_bytes());
                v.extend_from_slice(&s.max_deleted_id.to_bytes());
            }
            _ => {}
        }
        v
    }

    fn decode(kind: KeyType, v: &[u8]) -> Option<CollMeta> {
        let u = |at: usize| v.get(at..at + 8).map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")));
        let id = |at: usize| Some(StreamId { ms: u(at)?, seq: u(at + 8)? });
        let mut m = CollMeta::new(kind, u(1)?);
        m.count = u(9)?;
        let expected_len = match kind {
            KeyType::List => {
                m.head = u(17)?;
                m.tail = u(25)?;
                33
            }
            KeyType::Hash => {
                m.tail = u(17)?;
                25
            }
            KeyType::Stream => {
                m.stream =
                    StreamMeta { last_id: id(17)?, first_id: id(33)?, entries_added: u(49)?, max_deleted_id: id(57)? };
                73
            }
            _ => 17,
        };
        (v.len() == expected_len).then_some(m)
    }
}

/// A decoded metadata record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    /// A string; its bytes follow the type byte.
    String,
    /// A collection.
    Coll(CollMeta),
}

impl Meta {
    /// The key's type.
    pub fn kind(&self) -> KeyType {
        match self {
            Meta::String => KeyType::String,
            Meta::Coll(c) => c.kind,
        }
    }
}

/// Decodes a metadata record value; `None` if it is malformed.
pub fn decode_meta(v: &[u8]) -> Option<Meta> {
    match KeyType::from_byte(*v.first()?)? {
        KeyType::String => Some(Meta::String),
        kind => CollMeta::decode(kind, v).map(Meta::Coll),
    }
}

/// Type byte of a string last changed in place (`APPEND` to an existing string, `SETRANGE`):
/// a string like type 1, marked so that `OBJECT ENCODING` reports `raw` as Redis does for
/// such strings whatever their length or content.
pub const RAW_STRING_TYPE: u8 = 7;

/// Type byte of a string written as the text of a number that is never integer-encoded
/// (`INCRBYFLOAT`'s result): `OBJECT ENCODING` reports `embstr` or `raw` by its length,
/// never `int`, as Redis does.
pub const FLOAT_STRING_TYPE: u8 = 8;

/// How a string was made, as far as Redis's `OBJECT ENCODING` tells them apart; kept in the
/// string record's type byte (1, [`RAW_STRING_TYPE`] or [`FLOAT_STRING_TYPE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StringForm {
    /// Set whole (`SET` and the like): `int`, `embstr` or `raw` by content and length.
    #[default]
    Plain,
    /// Changed in place (`APPEND` to an existing string, `SETRANGE`): always `raw`.
    ChangedInPlace,
    /// The text of a float (`INCRBYFLOAT`): `embstr` or `raw` by length, never `int`.
    FromFloat,
}

impl StringForm {
    /// The type byte of a string record of this form.
    pub fn type_byte(self) -> u8 {
        match self {
            StringForm::Plain => KeyType::String.to_byte(),
            StringForm::ChangedInPlace => RAW_STRING_TYPE,
            StringForm::FromFloat => FLOAT_STRING_TYPE,
        }
    }

    /// The form of a string record (`Plain` for anything that is not a marked string).
    pub fn of(record: &[u8]) -> StringForm {
        match record.first() {
            Some(&RAW_STRING_TYPE) => StringForm::ChangedInPlace,
            Some(&FLOAT_STRING_TYPE) => StringForm::FromFloat,
            _ => StringForm::Plain,
        }
    }
}

/// True if `b` is the type byte of a string record of any form.
pub fn is_string_type(b: u8) -> bool {
    KeyType::from_byte(b) == Some(KeyType::String)
}

/// Encodes the metadata record value of a string.
pub fn encode_string(value: &[u8]) -> Vec<u8> {
    encode_string_as(value, StringForm::Plain)
}

/// Encodes the metadata record value of a string of the given form.
pub fn encode_string_as(value: &[u8], form: StringForm) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + value.len());
    v.push(form.type_byte());
    v.extend_from_slice(value);
    v
}

/// Length of the header before a string's bytes in its metadata record.
pub const STRING_HEADER_LEN: usize = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_scores_order() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1.0,
            -f64::MIN_POSITIVE,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            3e10,
            f64::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(score_to_sortable(w[0]) < score_to_sortable(w[1]), "{} < {}", w[0], w[1]);
        }
        for x in xs {
            assert_eq!(sortable_to_score(score_to_sortable(x)), x);
        }
        assert_eq!(score_to_sortable(-0.0), score_to_sortable(0.0));
    }

    #[test]
    fn sub_keys_round_trip() {
        let k = elem_key(b"user", 42, b"field");
        let d = decode_sub_key(&k).unwrap();
        assert_eq!((d.space, d.user_key, d.version, d.sub), (ELEM_SPACE, &b"user"[..], 42, &b"field"[..]));
        assert!(decode_sub_key(b"E\0\0\0\x09ab").is_none());
        assert!(decode_sub_key(&meta_key(b"x")).is_none());
    }

    #[test]
    fn meta_round_trip() {
        for kind in [KeyType::Hash, KeyType::List, KeyType::Set, KeyType::ZSet, KeyType::Stream] {
            let mut m = CollMeta::new(kind, 7);
            m.count = 3;
            if kind == KeyType::List {
                m.head -= 2;
                m.tail += 1;
            }
            if kind == KeyType::Hash {
                m.tail = 12345; // the insertion counter (no head)
            }
            if kind == KeyType::Stream {
                m.stream.last_id = StreamId { ms: 5, seq: 6 };
                m.stream.entries_added = 9;
            }
            assert_eq!(decode_meta(&m.encode()), Some(Meta::Coll(m)));
        }
        assert_eq!(decode_meta(&encode_string(b"abc")), Some(Meta::String));
        for form in [StringForm::Plain, StringForm::ChangedInPlace, StringForm::FromFloat] {
            let v = encode_string_as(b"abc", form);
            assert_eq!(decode_meta(&v), Some(Meta::String));
            assert_eq!(StringForm::of(&v), form);
            assert!(is_string_type(v[0]));
        }
        assert_eq!(decode_meta(&[9]), None);
        assert_eq!(decode_meta(&[2, 0]), None);
    }
}
