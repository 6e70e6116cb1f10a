//! The silences shared by every replica with `shard_clusters`, pure: one record per
//! silence in the state topic (key `silence/<id>`, the silence as JSON; a tombstone ends
//! it), applied in offset order. A replica applies its own writes at once (so it reads
//! them back) and again when its reader reaches them: a record at or below the offset
//! already applied for that id changes nothing, so neither order nor repetition matters.

use crate::notify::silence::Silence;
use std::collections::BTreeMap;

/// The key prefix of silence records in the state topic.
pub const PREFIX: &str = "silence/";

/// The record key of silence `id`.
pub fn key(id: &str) -> String {
    format!("{PREFIX}{id}")
}

/// What one record did to the set.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Not a silence record (a book): nothing to do.
    Other,
    /// A silence added (or written again).
    Added,
    /// A tombstone: the silence ended.
    Removed,
    /// Older than what was applied for that id already.
    Stale,
    /// A silence record that does not read as one; ignored (and logged by the caller).
    Invalid(String),
}

#[derive(Debug, Clone)]
struct Entry {
    /// Offset of the record applied last.
    offset: i64,
    /// None after a tombstone: kept until the reader is past it, so the older record of
    /// a silence expired by this replica cannot bring it back.
    silence: Option<Silence>,
}

/// Every silence record applied so far, by id.
#[derive(Debug, Clone, Default)]
pub struct SilenceSet {
    entries: BTreeMap<String, Entry>,
}

impl SilenceSet {
    /// Applies the record at `offset` with `key` and `payload` (None: a tombstone).
    pub fn apply(&mut self, key: &[u8], payload: Option<&[u8]>, offset: i64) -> Applied {
        let Some(id) = key
            .strip_prefix(PREFIX.as_bytes())
            .and_then(|id| std::str::from_utf8(id).ok())
        else {
            return Applied::Other;
        };
        if self.entries.get(id).is_some_and(|e| e.offset >= offset) {
            return Applied::Stale;
        }
        let silence = match payload {
            None => None,
            Some(bytes) => match serde_json::from_slice::<Silence>(bytes) {
                Ok(s) if s.id == id => Some(s),
                Ok(s) => return Applied::Invalid(format!("key `{id}` holds silence `{}`", s.id)),
                Err(e) => return Applied::Invalid(e.to_string()),
            },
        };
        let applied = match silence {
            Some(_) => Applied::Added,
            None => Applied::Removed,
        };
        self.entries
            .insert(id.to_owned(), Entry { offset, silence });
        applied
    }

    /// The silences in force at `now`, oldest first.
    pub fn active(&self, now: f64) -> Vec<Silence> {
        let mut out: Vec<Silence> = self
            .entries
            .values()
            .filter_map(|e| e.silence.as_ref())
            .filter(|s| s.active(now))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.starts_at.total_cmp(&b.starts_at));
        out
    }

    /// Whether silence `id` is in force at `now`.
    pub fn is_active(&self, id: &str, now: f64) -> bool {
        self.entries
            .get(id)
            .and_then(|e| e.silence.as_ref())
            .is_some_and(|s| s.active(now))
    }

    /// The ids of silences that ended by themselves before `now` (their records are
    /// tombstoned lazily, so the topic does not keep them forever).
    pub fn ended(&self, now: f64) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(_, e)| e.silence.as_ref().is_some_and(|s| s.ends_at <= now))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Forgets the tombstones below `read`, the reader's position: every older record of
    /// those ids has been read already.
    pub fn forget_tombstones(&mut self, read: i64) {
        self.entries
            .retain(|_, e| e.silence.is_some() || e.offset >= read);
    }

    /// Entries held, tombstones included (what memory grows with).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::silence::Matchers;

    fn silence(id: &str, ends_at: f64) -> Vec<u8> {
        serde_json::to_vec(&Silence {
            id: id.to_owned(),
            matchers: Matchers {
                group: Some("g".into()),
                ..Matchers::default()
            },
            starts_at: 0.0,
            ends_at,
            comment: String::new(),
            created_by: String::new(),
        })
        .unwrap()
    }

    #[test]
    fn records_apply_in_offset_order_whatever_order_they_arrive_in() {
        let a = silence("a", 100.0);
        let a_longer = silence("a", 200.0);
        let b = silence("b", 100.0);
        // (records applied before, the record: key, payload, offset; what it did,
        //  active ids at 50 afterwards, why)
        type Rec<'a> = (&'a str, Option<&'a [u8]>, i64);
        type Case<'a> = (Vec<Rec<'a>>, Rec<'a>, Applied, Vec<&'a str>, &'a str);
        let cases: [Case; 9] = [
            (
                vec![],
                ("silence/a", Some(&a), 1),
                Applied::Added,
                vec!["a"],
                "a new silence",
            ),
            (
                vec![("silence/a", Some(&a), 1)],
                ("silence/a", None, 2),
                Applied::Removed,
                vec![],
                "a tombstone ends it",
            ),
            (
                vec![("silence/a", Some(&a), 1), ("silence/a", None, 2)],
                ("silence/a", Some(&a), 1),
                Applied::Stale,
                vec![],
                "the reader reaches the add after this replica applied its own expiry",
            ),
            (
                vec![("silence/a", Some(&a), 3)],
                ("silence/a", Some(&a), 3),
                Applied::Stale,
                vec!["a"],
                "the reader reaches a write this replica applied already",
            ),
            (
                vec![("silence/a", Some(&a), 1)],
                ("silence/a", Some(&a_longer), 4),
                Applied::Added,
                vec!["a"],
                "written again: the newer record wins",
            ),
            (
                vec![],
                ("silence/zz", None, 1),
                Applied::Removed,
                vec![],
                "a tombstone of an unknown id (its add was compacted away)",
            ),
            (
                vec![("silence/a", Some(&a), 1)],
                ("book", Some(b"{}"), 2),
                Applied::Other,
                vec!["a"],
                "a book record is not a silence",
            ),
            (
                vec![],
                ("silence/a", Some(b"not json"), 1),
                Applied::Invalid("expected ident at line 1 column 2".into()),
                vec![],
                "garbage is ignored",
            ),
            (
                vec![],
                ("silence/a", Some(&b), 1),
                Applied::Invalid("key `a` holds silence `b`".into()),
                vec![],
                "a record under another silence's key is ignored",
            ),
        ];
        for (before, (k, p, o), want, active, why) in cases {
            let mut set = SilenceSet::default();
            for (k, p, o) in before {
                set.apply(k.as_bytes(), p, o);
            }
            assert_eq!(set.apply(k.as_bytes(), p, o), want, "{why}");
            let ids: Vec<String> = set.active(50.0).into_iter().map(|s| s.id).collect();
            assert_eq!(ids, active, "{why}");
        }
    }

    #[test]
    fn ended_silences_and_passed_tombstones() {
        let mut set = SilenceSet::default();
        set.apply(b"silence/short", Some(&silence("short", 10.0)), 1);
        set.apply(b"silence/long", Some(&silence("long", 100.0)), 2);
        set.apply(b"silence/gone", None, 5);
        // (now, ended ids, why)
        for (now, want, why) in [
            (5.0, vec![], "nothing ended yet"),
            (10.0, vec!["short"], "ended at its end"),
            (
                200.0,
                vec!["long", "short"],
                "both ended; a tombstone is no silence",
            ),
        ] {
            assert_eq!(set.ended(now), want, "{why}");
        }
        assert!(set.is_active("long", 50.0) && !set.is_active("short", 50.0));
        set.forget_tombstones(5);
        assert_eq!(set.len(), 3, "the reader has not read the tombstone yet");
        set.forget_tombstones(6);
        assert_eq!(set.len(), 2, "read past it: no older record of it can come");
    }
}
