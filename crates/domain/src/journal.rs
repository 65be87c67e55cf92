//! The journal: a per-commune, hash-chained record of every change.
//!
//! Each entry's hash covers its own fields and the previous entry's hash, so editing,
//! deleting, inserting or reordering entries breaks the chain. The store keeps the chain's
//! head (last sequence and hash) in a separate row updated in the same transaction, so
//! removing the newest entries is caught too. Verification here is pure: the store feeds the
//! entries in sequence order and this module says what is wrong.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Hash of the (absent) entry before the first one.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Version of the hashed encoding below; a new encoding gets a new version, never a change.
pub const HASH_FORMAT: &str = "parapheur-journal-v1";

/// An entry as recorded. `before` and `after` are JSON texts hashed exactly as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub commune_id: Uuid,
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// Who: a user id, or a system actor such as `cli`, `system`, `demo`.
    pub actor: String,
    /// What, as a stable code: `item.registered`, `item.status`, `doctype.added`…
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// The fields of an entry before it is chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJournalEntry {
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Timestamps are hashed in one fixed textual form (microseconds, `Z`).
pub fn timestamp_text(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Builds the next entry of a chain whose head is (`prev_seq`, `prev_hash`).
pub fn chain(
    commune_id: Uuid,
    prev_seq: i64,
    prev_hash: &str,
    at: DateTime<Utc>,
    new: NewJournalEntry,
) -> JournalEntry {
    let mut entry = JournalEntry {
        commune_id,
        seq: prev_seq + 1,
        // Truncate to what is hashed so the stored value hashes back identically.
        at: DateTime::parse_from_rfc3339(&timestamp_text(&at))
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(at),
        actor: new.actor,
        action: new.action,
        entity: new.entity,
        entity_id: new.entity_id,
        before: new.before,
        after: new.after,
        prev_hash: prev_hash.to_owned(),
        hash: String::new(),
    };
    entry.hash = entry_hash(&entry);
    entry
}

/// SHA-256 over a length-prefixed encoding of every field but the hash itself.
pub fn entry_hash(e: &JournalEntry) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(HASH_FORMAT.as_bytes());
    field(e.commune_id.to_string().as_bytes());
    field(e.seq.to_string().as_bytes());
    field(timestamp_text(&e.at).as_bytes());
    field(e.actor.as_bytes());
    field(e.action.as_bytes());
    field(e.entity.as_bytes());
    field(e.entity_id.as_bytes());
    for optional in [&e.before, &e.after] {
        match optional {
            None => field(b"\x00none"),
            Some(text) => field(text.as_bytes()),
        }
    }
    field(e.prev_hash.as_bytes());
    hex::encode(h.finalize())
}

/// Something wrong in a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JournalProblem {
    /// The entry's content no longer matches its hash: edited.
    Altered { seq: i64 },
    /// A sequence number is missing: deleted.
    Missing { expected_seq: i64, found_seq: i64 },
    /// The same sequence number twice, or a number out of order: inserted or reordered.
    OutOfOrder { seq: i64, after_seq: i64 },
    /// The entry does not point to its predecessor's hash: inserted, deleted or reordered.
    BrokenLink { seq: i64 },
    /// The entry belongs to another commune.
    WrongCommune { seq: i64 },
    /// The recorded head disagrees with the last entry: entries removed at the end, or added
    /// without going through the write path.
    HeadMismatch { head_seq: i64, last_seq: i64 },
}

impl JournalProblem {
    pub fn describe_fr(&self) -> String {
        match self {
            JournalProblem::Altered { seq } => {
                format!("entrée {seq} modifiée : son contenu ne correspond plus à son empreinte")
            }
            JournalProblem::Missing {
                expected_seq,
                found_seq,
            } if found_seq - 1 == *expected_seq => format!("entrée {expected_seq} supprimée"),
            JournalProblem::Missing {
                expected_seq,
                found_seq,
            } => format!("entrées {expected_seq} à {} supprimées", found_seq - 1),
            JournalProblem::OutOfOrder { seq, after_seq } => {
                format!(
                    "entrée {seq} hors d'ordre après l'entrée {after_seq} (insertion ou réordonnancement)"
                )
            }
            JournalProblem::BrokenLink { seq } => {
                format!("entrée {seq} : le chaînage avec l'entrée précédente est rompu")
            }
            JournalProblem::WrongCommune { seq } => {
                format!("entrée {seq} : appartient à une autre commune")
            }
            JournalProblem::HeadMismatch { head_seq, last_seq } => format!(
                "la tête du journal indique l'entrée {head_seq} mais la dernière entrée est {last_seq}"
            ),
        }
    }
}

/// Incremental verifier: feed entries in stored sequence order, then call [`finish`].
///
/// It holds one entry at a time, so a journal of millions of entries is checked in
/// constant memory.
///
/// [`finish`]: ChainVerifier::finish
#[derive(Debug)]
pub struct ChainVerifier {
    commune_id: Uuid,
    last_seq: i64,
    last_hash: String,
    count: u64,
    problems: Vec<JournalProblem>,
}

impl ChainVerifier {
    pub fn new(commune_id: Uuid) -> Self {
        ChainVerifier {
            commune_id,
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
            count: 0,
            problems: Vec::new(),
        }
    }

    pub fn push(&mut self, e: &JournalEntry) {
        self.count += 1;
        if e.commune_id != self.commune_id {
            self.problems
                .push(JournalProblem::WrongCommune { seq: e.seq });
        }
        if e.seq <= self.last_seq {
            self.problems.push(JournalProblem::OutOfOrder {
                seq: e.seq,
                after_seq: self.last_seq,
            });
        } else if e.seq != self.last_seq + 1 {
            self.problems.push(JournalProblem::Missing {
                expected_seq: self.last_seq + 1,
                found_seq: e.seq,
            });
        }
        if entry_hash(e) != e.hash {
            self.problems.push(JournalProblem::Altered { seq: e.seq });
        }
        if e.prev_hash != self.last_hash {
            self.problems
                .push(JournalProblem::BrokenLink { seq: e.seq });
        }
        self.last_seq = e.seq;
        self.last_hash = e.hash.clone();
    }

    /// Compares the end of the chain with the recorded head (`None`: no head recorded).
    pub fn finish(mut self, head: Option<(i64, &str)>) -> ChainReport {
        let (head_seq, head_hash) = head.unwrap_or((0, GENESIS_HASH));
        if head_seq != self.last_seq || head_hash != self.last_hash {
            self.problems.push(JournalProblem::HeadMismatch {
                head_seq,
                last_seq: self.last_seq,
            });
        }
        ChainReport {
            entries: self.count,
            last_seq: self.last_seq,
            problems: self.problems,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub entries: u64,
    pub last_seq: i64,
    pub problems: Vec<JournalProblem>,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample_chain(n: usize) -> (Uuid, Vec<JournalEntry>) {
        let commune = Uuid::from_u128(7);
        let mut entries: Vec<JournalEntry> = Vec::new();
        for i in 0..n {
            let (seq, hash) = entries
                .last()
                .map(|e| (e.seq, e.hash.clone()))
                .unwrap_or((0, GENESIS_HASH.to_owned()));
            let at = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, i as u32).unwrap();
            entries.push(chain(
                commune,
                seq,
                &hash,
                at,
                NewJournalEntry {
                    actor: "agent".into(),
                    action: "item.registered".into(),
                    entity: "item".into(),
                    entity_id: format!("item-{i}"),
                    before: None,
                    after: Some(format!("{{\"subject\":\"courrier {i}\"}}")),
                },
            ));
        }
        (commune, entries)
    }

    fn verify(commune: Uuid, entries: &[JournalEntry], head: Option<(i64, &str)>) -> ChainReport {
        let mut v = ChainVerifier::new(commune);
        for e in entries {
            v.push(e);
        }
        v.finish(head)
    }

    fn head_of(entries: &[JournalEntry]) -> (i64, String) {
        let last = entries.last().unwrap();
        (last.seq, last.hash.clone())
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let (c, entries) = sample_chain(5);
        let (seq, hash) = head_of(&entries);
        let report = verify(c, &entries, Some((seq, &hash)));
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.entries, 5);
        assert!(verify(c, &[], None).is_intact());
    }

    #[test]
    fn an_edited_entry_is_found() {
        let (c, mut entries) = sample_chain(5);
        let (seq, hash) = head_of(&entries);
        entries[2].after = Some("{\"subject\":\"autre chose\"}".into());
        let report = verify(c, &entries, Some((seq, &hash)));
        assert_eq!(report.problems, vec![JournalProblem::Altered { seq: 3 }]);
    }

    #[test]
    fn a_deleted_entry_is_found() {
        let (c, mut entries) = sample_chain(5);
        let (seq, hash) = head_of(&entries);
        entries.remove(1);
        let report = verify(c, &entries, Some((seq, &hash)));
        assert!(report.problems.contains(&JournalProblem::Missing {
            expected_seq: 2,
            found_seq: 3
        }));
        assert!(
            report
                .problems
                .contains(&JournalProblem::BrokenLink { seq: 3 })
        );
    }

    #[test]
    fn a_deleted_last_entry_is_found_through_the_head() {
        let (c, mut entries) = sample_chain(5);
        let (seq, hash) = head_of(&entries);
        entries.pop();
        let report = verify(c, &entries, Some((seq, &hash)));
        assert_eq!(
            report.problems,
            vec![JournalProblem::HeadMismatch {
                head_seq: 5,
                last_seq: 4
            }]
        );
    }

    #[test]
    fn an_inserted_entry_is_found_even_with_a_valid_hash() {
        let (c, mut entries) = sample_chain(5);
        let (seq, hash) = head_of(&entries);
        // A forger recomputes a perfect hash for an entry slipped in after seq 2.
        let mut forged = chain(
            c,
            2,
            &entries[1].hash,
            entries[1].at,
            NewJournalEntry {
                actor: "intrus".into(),
                action: "item.registered".into(),
                entity: "item".into(),
                entity_id: "faux".into(),
                before: None,
                after: None,
            },
        );
        forged.seq = 3;
        entries.insert(2, forged);
        let report = verify(c, &entries, Some((seq, &hash)));
        assert!(!report.is_intact());
        assert!(report.problems.contains(&JournalProblem::OutOfOrder {
            seq: 3,
            after_seq: 3
        }));
        assert!(
            report
                .problems
                .contains(&JournalProblem::BrokenLink { seq: 3 })
        );
    }

    #[test]
    fn reordered_entries_are_found() {
        let (c, mut entries) = sample_chain(5);
        let (seq, hash) = head_of(&entries);
        // Swap the sequence numbers of entries 2 and 3, as an UPDATE in the database would.
        entries[1].seq = 3;
        entries[2].seq = 2;
        entries.swap(1, 2);
        let report = verify(c, &entries, Some((seq, &hash)));
        assert!(
            report
                .problems
                .contains(&JournalProblem::Altered { seq: 2 })
        );
        assert!(
            report
                .problems
                .contains(&JournalProblem::Altered { seq: 3 })
        );
        assert!(
            report
                .problems
                .contains(&JournalProblem::BrokenLink { seq: 2 })
        );
    }

    #[test]
    fn hash_is_stable_across_versions() {
        // Pinned: if this changes, old journals no longer verify. Add a v2 instead.
        let (_, entries) = sample_chain(1);
        assert_eq!(entries[0].prev_hash, GENESIS_HASH);
        assert_eq!(entries[0].hash, entry_hash(&entries[0]));
        assert_eq!(
            entries[0].hash,
            "7b60434391c5d6fd720e8d774e31788ef3558af0dbc684f57ed7ed36d049cfca"
        );
    }
}
