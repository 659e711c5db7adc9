//! Conversations: a person's chats, kept on the server so they follow them from browser to
//! browser. Each is one JSON file, `DATA_DIR/conversations/<owner>/<id>.json`, replaced
//! atomically on every change (write to a temporary file, fsync, rename, fsync the directory),
//! so a crash leaves the old or the new conversation, never a torn one.
//!
//! Invariants:
//! - Only the owner reads or changes a conversation; anyone else's id answers `NotFound`, like
//!   an id that does not exist.
//! - A turn (the question and the answer it got) carries the answer's marking and is shown only
//!   while the owner may see that marking: a person whose clearance is lowered no longer sees
//!   the turns above it, nor learns from the summary that they exist (counts and the roll-up
//!   cover what is shown).
//! - Every call is audited; a record that cannot be written fails the call.

use crate::{banner, check_text, AppError, Result, Session};
use serde::{Deserialize, Serialize};
use sextant_audit::{AuditLog, Outcome};
use sextant_auth::Role;
use std::path::{Path, PathBuf};

/// Longest title kept, in characters (longer ones are cut).
const MAX_TITLE_CHARS: usize = 120;
/// Turns kept per conversation; past it the oldest are dropped.
const MAX_TURNS: usize = 500;
/// Conversations one person may keep.
const MAX_CONVERSATIONS: usize = 1000;

/// One question and the answer it got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Turn {
    pub question: String,
    /// The answer's text (an abstention says so).
    pub answer: String,
    /// The answer's marking (the roll-up of what it cites).
    pub marking: String,
    /// The whole answer as the chat route returned it (citations, timings, a call's result).
    pub detail: serde_json::Value,
    /// Seconds since the Unix epoch.
    pub at: u64,
}

impl Turn {
    /// The turn a question and its answer (the JSON the chat route returns: its `answer` text
    /// and `marking`) make, now.
    pub fn new(question: String, detail: serde_json::Value) -> Turn {
        Turn {
            question,
            answer: detail["answer"].as_str().unwrap_or_default().to_string(),
            marking: detail["marking"]
                .as_str()
                .unwrap_or("UNCLASSIFIED")
                .to_string(),
            detail,
            at: now(),
        }
    }
}

/// A conversation as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    id: String,
    owner: String,
    title: String,
    created: u64,
    updated: u64,
    turns: Vec<Turn>,
}

/// What a list shows of a conversation.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: String,
    pub title: String,
    pub created: u64,
    pub updated: u64,
    /// Messages shown (two per visible turn).
    pub messages: usize,
    /// Roll-up of the visible turns (UNCLASSIFIED for none).
    pub marking: String,
}

/// One message of a conversation as shown.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// "user" or "assistant".
    pub role: &'static str,
    pub content: String,
    pub marking: String,
    /// The assistant's whole answer; `None` for the user's messages.
    pub answer: Option<serde_json::Value>,
    pub at: u64,
}

/// A conversation as its owner sees it now.
#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    #[serde(flatten)]
    pub summary: Summary,
    pub messages: Vec<Message>,
}

/// The conversations directory.
pub struct ConversationStore {
    dir: PathBuf,
    /// One change at a time: read, change, write back.
    lock: parking_lot::Mutex<()>,
}

impl ConversationStore {
    /// Opens (creating) the store at `dir`.
    pub fn open(dir: &Path) -> std::io::Result<ConversationStore> {
        std::fs::create_dir_all(dir)?;
        Ok(ConversationStore {
            dir: dir.to_path_buf(),
            lock: parking_lot::Mutex::new(()),
        })
    }

    /// The owner's directory: the name hex-encoded, so any name is one plain path component.
    fn owner_dir(&self, owner: &str) -> PathBuf {
        let hex: String = owner.bytes().map(|b| format!("{b:02x}")).collect();
        self.dir.join(hex)
    }

    fn path(&self, owner: &str, id: &str) -> Option<PathBuf> {
        // Ids are ours (16 hex digits); anything else names no file.
        let plain = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
        plain.then(|| self.owner_dir(owner).join(format!("{id}.json")))
    }

    fn read(&self, owner: &str, id: &str) -> Result<Option<Stored>> {
        let Some(path) = self.path(owner, id) else {
            return Ok(None);
        };
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| AppError::internal(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AppError::internal(e)),
        }
    }

    fn write(&self, c: &Stored) -> Result<()> {
        let dir = self.owner_dir(&c.owner);
        std::fs::create_dir_all(&dir).map_err(AppError::internal)?;
        let bytes = serde_json::to_vec(c).map_err(AppError::internal)?;
        sextant_store::write_atomic(&dir.join(format!("{}.json", c.id)), &bytes)
            .map_err(AppError::internal)
    }

    fn all(&self, owner: &str) -> Result<Vec<Stored>> {
        let dir = self.owner_dir(owner);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(AppError::internal(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let name = entry.map_err(AppError::internal)?.file_name();
            let name = name.to_string_lossy();
            // Temporary files of an interrupted write are not conversations.
            if let Some(id) = name.strip_suffix(".json") {
                if let Some(c) = self.read(owner, id)? {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

fn clean_title(title: &str) -> Result<String> {
    let t: String = title
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TITLE_CHARS)
        .collect();
    let t = t.trim().to_string();
    if t.is_empty() {
        return Err(AppError::BadRequest("the title is empty".into()));
    }
    Ok(t)
}

impl Stored {
    fn visible<'a>(&'a self, s: &'a Session) -> impl Iterator<Item = &'a Turn> + 'a {
        self.turns.iter().filter(|t| s.viewer.may_see(&t.marking))
    }

    fn summary(&self, s: &Session) -> Result<Summary> {
        let turns: Vec<&Turn> = self.visible(s).collect();
        Ok(Summary {
            id: self.id.clone(),
            title: self.title.clone(),
            created: self.created,
            updated: turns
                .last()
                .map_or(self.created, |t| t.at.max(self.created)),
            messages: turns.len() * 2,
            marking: banner(turns.iter().map(|t| t.marking.as_str()))?,
        })
    }

    fn view(&self, s: &Session) -> Result<Conversation> {
        let messages = self
            .visible(s)
            .flat_map(|t| {
                [
                    Message {
                        role: "user",
                        content: t.question.clone(),
                        marking: t.marking.clone(),
                        answer: None,
                        at: t.at,
                    },
                    Message {
                        role: "assistant",
                        content: t.answer.clone(),
                        marking: t.marking.clone(),
                        answer: Some(t.detail.clone()),
                        at: t.at,
                    },
                ]
            })
            .collect();
        Ok(Conversation {
            summary: self.summary(s)?,
            messages,
        })
    }
}

/// The conversation use cases. Conversations are a reader's tool: every call needs the reader
/// role.
impl ConversationStore {
    /// The session's conversations, most recently active first.
    pub fn list(&self, audit: &AuditLog, s: &Session) -> Result<Vec<Summary>> {
        s.require(Role::Reader)?;
        let mut out = self
            .all(&s.name)?
            .iter()
            .map(|c| c.summary(s))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| b.updated.cmp(&a.updated).then(b.created.cmp(&a.created)));
        let marking = banner(out.iter().map(|c| c.marking.as_str()))?;
        record(
            audit,
            s,
            "conversation.list",
            &marking,
            format!("{}", out.len()),
        )?;
        Ok(out)
    }

    /// Starts a conversation.
    pub fn create(&self, audit: &AuditLog, s: &Session, title: Option<&str>) -> Result<Summary> {
        s.require(Role::Reader)?;
        let title = clean_title(title.unwrap_or("New conversation"))?;
        let _guard = self.lock.lock();
        if self.all(&s.name)?.len() >= MAX_CONVERSATIONS {
            return Err(AppError::BadRequest(format!(
                "you keep {MAX_CONVERSATIONS} conversations already: delete some first"
            )));
        }
        let t = now();
        let c = Stored {
            id: new_id(),
            owner: s.name.clone(),
            title,
            created: t,
            updated: t,
            turns: Vec::new(),
        };
        self.write(&c)?;
        record(
            audit,
            s,
            "conversation.create",
            "UNCLASSIFIED",
            c.id.clone(),
        )?;
        c.summary(s)
    }

    /// One conversation as the owner may see it now.
    pub fn get(&self, audit: &AuditLog, s: &Session, id: &str) -> Result<Conversation> {
        s.require(Role::Reader)?;
        let c = self.owned(audit, s, "conversation.read", id)?;
        let view = c.view(s)?;
        record(
            audit,
            s,
            "conversation.read",
            &view.summary.marking,
            id.to_string(),
        )?;
        Ok(view)
    }

    /// Renames a conversation.
    pub fn rename(&self, audit: &AuditLog, s: &Session, id: &str, title: &str) -> Result<Summary> {
        s.require(Role::Reader)?;
        let title = clean_title(title)?;
        let _guard = self.lock.lock();
        let mut c = self.owned(audit, s, "conversation.rename", id)?;
        c.title = title;
        self.write(&c)?;
        let summary = c.summary(s)?;
        record(
            audit,
            s,
            "conversation.rename",
            &summary.marking,
            id.to_string(),
        )?;
        Ok(summary)
    }

    /// Deletes a conversation, with every turn in it (those hidden from the owner now too: it
    /// is theirs).
    pub fn delete(&self, audit: &AuditLog, s: &Session, id: &str) -> Result<()> {
        s.require(Role::Reader)?;
        let _guard = self.lock.lock();
        self.owned(audit, s, "conversation.delete", id)?;
        let path = self.path(&s.name, id).ok_or(AppError::NotFound)?;
        std::fs::remove_file(&path).map_err(AppError::internal)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(AppError::internal)?;
        }
        record(
            audit,
            s,
            "conversation.delete",
            "UNCLASSIFIED",
            id.to_string(),
        )
    }

    /// `NotFound` unless the conversation exists and is the session's (checked before an
    /// answer is computed for it).
    pub fn check(&self, audit: &AuditLog, s: &Session, id: &str) -> Result<()> {
        self.owned(audit, s, "conversation.append", id).map(|_| ())
    }

    /// Appends a turn. A new conversation still named "New conversation" takes its first
    /// question as its title.
    pub fn append(&self, audit: &AuditLog, s: &Session, id: &str, turn: Turn) -> Result<()> {
        s.require(Role::Reader)?;
        check_text("question", &turn.question)?;
        let _guard = self.lock.lock();
        let mut c = self.owned(audit, s, "conversation.append", id)?;
        if c.turns.is_empty() && c.title == "New conversation" {
            if let Ok(t) = clean_title(&turn.question) {
                c.title = t;
            }
        }
        let marking = turn.marking.clone();
        c.updated = turn.at;
        c.turns.push(turn);
        if c.turns.len() > MAX_TURNS {
            let extra = c.turns.len() - MAX_TURNS;
            c.turns.drain(..extra);
        }
        self.write(&c)?;
        record(audit, s, "conversation.append", &marking, id.to_string())
    }

    /// The session's conversation `id`; `NotFound` (audited as a failure) when it is absent or
    /// someone else's.
    fn owned(&self, audit: &AuditLog, s: &Session, action: &str, id: &str) -> Result<Stored> {
        match self.read(&s.name, id)? {
            Some(c) if c.owner == s.name => Ok(c),
            _ => {
                audit
                    .record(
                        &s.event(action)
                            .marking("UNCLASSIFIED")
                            .outcome(Outcome::Failure)
                            .detail(id.chars().take(64).collect::<String>()),
                    )
                    .map_err(AppError::internal)?;
                Err(AppError::NotFound)
            }
        }
    }
}

fn record(
    audit: &AuditLog,
    s: &Session,
    action: &str,
    marking: &str,
    detail: String,
) -> Result<()> {
    audit
        .record(&s.event(action).marking(marking).detail(detail))
        .map(|_| ())
        .map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_access::{Access, Level};
    use sextant_auth::Principal;

    fn session(name: &str, level: Level) -> Session {
        Session::user(
            Principal {
                name: name.into(),
                access: Access::new(level, Vec::<String>::new(), "USA").unwrap(),
                roles: [Role::Reader].into(),
            },
            "test",
        )
    }

    fn turn(q: &str, marking: &str) -> Turn {
        Turn {
            question: q.into(),
            answer: format!("answer to {q}"),
            marking: marking.into(),
            detail: serde_json::json!({ "answer": format!("answer to {q}"), "marking": marking }),
            at: now(),
        }
    }

    #[test]
    fn owner_only_turns_above_access_hidden_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let audit = AuditLog::disabled();
        let store = ConversationStore::open(dir.path()).unwrap();
        let alice = session("alice", Level::Secret);
        let c = store.create(&audit, &alice, None).unwrap();
        assert_eq!(c.title, "New conversation");
        store
            .append(
                &audit,
                &alice,
                &c.id,
                turn("Capital of Mongolia?", "UNCLASSIFIED"),
            )
            .unwrap();
        store
            .append(
                &audit,
                &alice,
                &c.id,
                turn("Where is the convoy?", "SECRET"),
            )
            .unwrap();
        let seen = store.get(&audit, &alice, &c.id).unwrap();
        assert_eq!(seen.messages.len(), 4);
        assert_eq!(seen.summary.marking, "SECRET");
        assert_eq!(seen.summary.title, "Capital of Mongolia?");
        // Someone else: the id answers like a missing one, on every call.
        let bob = session("bob", Level::TopSecret);
        assert!(matches!(
            store.get(&audit, &bob, &c.id),
            Err(AppError::NotFound)
        ));
        assert!(matches!(
            store.rename(&audit, &bob, &c.id, "x"),
            Err(AppError::NotFound)
        ));
        assert!(matches!(
            store.delete(&audit, &bob, &c.id),
            Err(AppError::NotFound)
        ));
        assert!(store.list(&audit, &bob).unwrap().is_empty());
        // Alice's clearance lowered: the SECRET turn is gone from what she sees, counts too.
        let lowered = session("alice", Level::Unclassified);
        let store = ConversationStore::open(dir.path()).unwrap();
        let seen = store.get(&audit, &lowered, &c.id).unwrap();
        assert_eq!(seen.messages.len(), 2);
        assert_eq!(seen.summary.marking, "UNCLASSIFIED");
        assert!(!serde_json::to_string(&seen).unwrap().contains("convoy"));
        let list = store.list(&audit, &lowered).unwrap();
        assert_eq!((list.len(), list[0].messages), (1, 2));
        // Rename, bad ids, delete.
        let renamed = store.rename(&audit, &alice, &c.id, "  Mongolia\n").unwrap();
        assert_eq!(renamed.title, "Mongolia");
        assert!(matches!(
            store.rename(&audit, &alice, &c.id, " \t"),
            Err(AppError::BadRequest(_))
        ));
        for bad in [
            "../../etc/passwd",
            "",
            "0123456789abcdeg",
            "0123456789abcdef0",
        ] {
            assert!(matches!(
                store.get(&audit, &alice, bad),
                Err(AppError::NotFound)
            ));
        }
        // A leftover temporary file from an interrupted write is not a conversation.
        let owner_dir = store.owner_dir("alice");
        std::fs::write(owner_dir.join("0000000000000000.tmp"), b"{").unwrap();
        assert_eq!(store.list(&audit, &alice).unwrap().len(), 1);
        store.delete(&audit, &alice, &c.id).unwrap();
        assert!(store.list(&audit, &alice).unwrap().is_empty());
        assert!(matches!(
            store.get(&audit, &alice, &c.id),
            Err(AppError::NotFound)
        ));
    }
}
