//! Incident state and undelivered messages on disk, so a restart neither re-sends open
//! incidents as new nor loses a pending message. Written atomically: tmp file, fsync, rename.

use super::alert::Batch;
use super::incident::Incidents;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};

/// File name under `state_dir`.
pub const FILE_NAME: &str = "notifications.json";
/// Format version; a file with another version is set aside, not misread.
pub const VERSION: u32 = 1;

/// Everything the notifier keeps, per notifier name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Book {
    /// Format version.
    pub version: u32,
    /// Next message id.
    pub next_id: u64,
    /// Per notifier name.
    pub notifiers: BTreeMap<String, NotifierBook>,
    /// Silences, expired ones included until the next poll prunes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub silences: Vec<super::silence::Silence>,
    /// Per action name: its incidents and the transitions it started.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub actions: BTreeMap<String, super::actions::ActionBook>,
}

/// One notifier's open incidents and undelivered messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NotifierBook {
    /// Open incidents.
    pub incidents: Incidents,
    /// Messages not yet delivered, oldest first (the one being sent stays here until done).
    pub pending: VecDeque<Pending>,
}

/// One undelivered message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// Unique within the book, so a finished delivery removes exactly its message.
    pub id: u64,
    /// The message.
    pub batch: Batch,
}

/// A state file problem, with the path.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    /// Reading, writing or renaming failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a state file this version understands.
    #[error("{path} is not a valid state file: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The state file path under `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Reads the book; a missing file is an empty book.
pub fn load(path: &Path) -> Result<Book, StateFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Book {
                version: VERSION,
                ..Book::default()
            })
        }
        Err(source) => {
            return Err(StateFileError::Io {
                action: "cannot read",
                path: path.to_owned(),
                source,
            })
        }
    };
    let book: Book = serde_json::from_str(&text).map_err(|e| StateFileError::Invalid {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    if book.version != VERSION {
        return Err(StateFileError::Invalid {
            path: path.to_owned(),
            reason: format!("version {} (expected {VERSION})", book.version),
        });
    }
    Ok(book)
}

/// Writes the book atomically: readers see the old file or the new one, never half of one.
pub fn save(path: &Path, book: &Book) -> Result<(), StateFileError> {
    let io = |action, source| StateFileError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create the directory of", e))?;
    }
    let json = serde_json::to_vec_pretty(book).map_err(|e| StateFileError::Invalid {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io("cannot create", e))?;
    f.write_all(&json)
        .and_then(|()| f.sync_all())
        .map_err(|e| io("cannot write", e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io("cannot replace", e))?;
    Ok(())
}

/// Moves an unreadable file aside (kept for inspection) so the next save does not lose it.
pub fn set_aside(path: &Path) -> Option<PathBuf> {
    let to = path.with_extension("json.invalid");
    std::fs::rename(path, &to).ok().map(|()| to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_an_empty_book_and_save_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(&dir.path().join("nested"));
        let empty = load(&p).unwrap();
        assert_eq!(empty.version, VERSION);
        assert!(empty.notifiers.is_empty());
        let mut book = empty.clone();
        book.next_id = 7;
        book.notifiers.insert(
            "ops".into(),
            NotifierBook {
                incidents: Incidents::default(),
                pending: VecDeque::from([Pending {
                    id: 6,
                    batch: crate::notify::alert::sample("prod", 100.0),
                }]),
            },
        );
        save(&p, &book).unwrap();
        assert_eq!(load(&p).unwrap(), book);
        assert!(
            !p.with_extension("json.tmp").exists(),
            "no tmp file left behind"
        );
    }

    #[test]
    fn garbage_and_other_versions_are_errors_not_empty_books() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path());
        std::fs::write(&p, "{not json").unwrap();
        assert!(matches!(load(&p), Err(StateFileError::Invalid { .. })));
        std::fs::write(&p, r#"{"version":99,"next_id":0,"notifiers":{}}"#).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("version 99"), "{e}");
        assert_eq!(set_aside(&p), Some(p.with_extension("json.invalid")));
        assert!(!p.exists());
    }
}
