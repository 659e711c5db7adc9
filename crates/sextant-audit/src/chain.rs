//! The record format and the hash chain: encoding a record, splitting the hash off a line as it
//! lies on disk, and checking one line against the record before it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Event, Outcome};

/// `prev` of the first record: there is nothing before it to chain to.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The last member of every line. It must be last so that the hashed bytes are a plain prefix of
/// the line: verification then needs no re-serialisation, which could hide an altered byte.
const HASH_KEY: &[u8] = b",\"hash\":\"";

/// `,"hash":"` + 64 hex digits + `"}`.
const SUFFIX_LEN: usize = HASH_KEY.len() + 64 + 2;

/// A record as written, minus its hash. Field order here is the key order on disk.
#[derive(Serialize)]
struct Unhashed<'a> {
    seq: u64,
    time: &'a str,
    user: &'a str,
    client: &'a Option<String>,
    action: &'a str,
    outcome: Outcome,
    docs: &'a [String],
    chunks: &'a [u64],
    cited: &'a [u64],
    query: &'a Option<String>,
    detail: &'a Option<String>,
    /// Absent in records written before markings were recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    marking: &'a Option<String>,
    prev: &'a str,
}

/// A record as read back. Strict (every key, nothing else, no duplicates) so that a line which
/// merely parses as JSON is not mistaken for a record.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the event fields are parsed for their shape, not read
pub(crate) struct Stored {
    pub seq: u64,
    pub time: String,
    pub user: String,
    pub client: Option<String>,
    pub action: String,
    pub outcome: Outcome,
    pub docs: Vec<String>,
    pub chunks: Vec<u64>,
    pub cited: Vec<u64>,
    pub query: Option<String>,
    pub detail: Option<String>,
    #[serde(default)]
    pub marking: Option<String>,
    pub prev: String,
    pub hash: String,
}

/// Encodes one record: returns the line (with its newline) and its hash.
pub(crate) fn encode(
    seq: u64,
    time: &str,
    ev: &Event,
    prev: &str,
) -> serde_json::Result<(Vec<u8>, String)> {
    let unhashed = Unhashed {
        seq,
        time,
        user: &ev.user,
        client: &ev.client,
        action: &ev.action,
        outcome: ev.outcome,
        docs: &ev.docs,
        chunks: &ev.chunks,
        cited: &ev.cited,
        query: &ev.query,
        detail: &ev.detail,
        marking: &ev.marking,
        prev,
    };
    // serde_json escapes control characters, so the line holds no newline but its last.
    let body = serde_json::to_vec(&unhashed)?;
    let hash = hex::encode(Sha256::digest(&body));
    let mut line = Vec::with_capacity(body.len() + SUFFIX_LEN + 1);
    line.extend_from_slice(&body[..body.len() - 1]); // drop the closing brace
    line.extend_from_slice(HASH_KEY);
    line.extend_from_slice(hash.as_bytes());
    line.extend_from_slice(b"\"}\n");
    Ok((line, hash))
}

/// Splits a line (without newline) into the bytes before `,"hash":"` and the stored hash, when it
/// ends exactly in `,"hash":"<64 lowercase hex>"}`.
fn split_hash(line: &[u8]) -> Option<(&[u8], &str)> {
    let cut = line.len().checked_sub(SUFFIX_LEN)?;
    let (body, suffix) = line.split_at(cut);
    let hex = suffix.strip_prefix(HASH_KEY)?.strip_suffix(b"\"}")?;
    if !is_hash(hex) {
        return None;
    }
    std::str::from_utf8(hex).ok().map(|h| (body, h))
}

/// Whether `s` is 64 lowercase hex digits, the only spelling the log writes.
pub(crate) fn is_hash(s: &[u8]) -> bool {
    s.len() == 64 && s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// SHA-256 of `body` followed by `}`: the record as it was before its hash was appended.
fn content_hash(body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(body);
    h.update(b"}");
    hex::encode(h.finalize())
}

/// Parses a complete line (without newline) as a record.
pub(crate) fn parse(line: &[u8]) -> Result<Stored, String> {
    serde_json::from_slice(line).map_err(|e| format!("unparseable record: {e}"))
}

/// Checks one line against the chain so far. On success returns the line's hash; on failure the
/// record's seq when it could be read, and why the line is broken.
pub(crate) fn check(
    line: &[u8],
    want_seq: u64,
    want_prev: &str,
) -> Result<String, (Option<u64>, String)> {
    let rec = parse(line).map_err(|reason| (None, reason))?;
    let seq = Some(rec.seq);
    let Some((body, stored)) = split_hash(line) else {
        return Err((
            seq,
            "malformed hash: the line does not end in ,\"hash\":\"<64 lowercase hex>\"}".into(),
        ));
    };
    // The hash comes first: it covers seq and prev, so an edit to either shows up here as an
    // altered record rather than as a confusing gap.
    let computed = content_hash(body);
    if computed != stored {
        return Err((
            seq,
            format!(
                "hash mismatch: the record's content was altered (stored {stored}, computed {computed})"
            ),
        ));
    }
    if rec.seq != want_seq {
        return Err((
            seq,
            format!(
                "seq gap or out of order: expected {want_seq}, found {} (a record was deleted, \
                 reordered or inserted before this line)",
                rec.seq
            ),
        ));
    }
    if rec.prev != want_prev {
        return Err((
            seq,
            format!(
                "prev mismatch: expected {want_prev}, found {} (the record before this line was \
                 deleted, replaced or reordered)",
                rec.prev
            ),
        ));
    }
    Ok(computed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_covers_the_line_prefix_plus_brace() {
        let ev = Event::new("alice", "search").query("q");
        let (line, hash) = encode(7, "2026-01-01T00:00:00.000Z", &ev, GENESIS).unwrap();
        let text = std::str::from_utf8(&line).unwrap();
        assert!(
            text.starts_with("{\"seq\":7,\"time\":\"2026-01-01T00:00:00.000Z\",\"user\":\"alice\"")
        );
        assert!(text.ends_with(&format!(",\"hash\":\"{hash}\"}}\n")));
        let cut = text.find(",\"hash\":\"").unwrap();
        let manual = hex::encode(Sha256::digest(format!("{}}}", &text[..cut]).as_bytes()));
        assert_eq!(manual, hash);
        assert_eq!(check(&line[..line.len() - 1], 7, GENESIS), Ok(hash));
    }
}
