//! End-to-end checks of the audit log on real files: concurrent appenders (threads, handles and
//! processes), tamper detection byte by byte, deletion and reordering, torn tails and injection.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use sextant_audit::{tail, verify, AuditError, AuditLog, Event, Outcome};
use sha2::{Digest, Sha256};

fn log_in(dir: &tempfile::TempDir) -> PathBuf {
    sextant_audit::default_path(dir.path())
}

/// A log of `n` varied records; returns its path and its lines (each with its newline).
fn build(dir: &tempfile::TempDir, n: usize) -> (PathBuf, Vec<Vec<u8>>) {
    let path = log_in(dir);
    let log = AuditLog::open(&path).unwrap();
    for i in 0..n {
        let ev = Event::new(format!("user{i}"), "search")
            .client("127.0.0.1:5050")
            .outcome(if i % 3 == 2 {
                Outcome::Denied
            } else {
                Outcome::Success
            })
            .docs([format!("{i:016x}")])
            .chunks([i as u64, 100 + i as u64])
            .cited([i as u64])
            .query(format!("what is item {i}?"))
            .detail("ok");
        assert_eq!(log.record(&ev).unwrap(), i as u64 + 1);
    }
    (path.clone(), lines_of(&fs::read(&path).unwrap()))
}

fn lines_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    fs::write(path, lines.concat()).unwrap();
}

fn seqs(path: &Path) -> Vec<u64> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// Offset inside `line` of the first byte of the value of `key`.
fn value_at(line: &[u8], key: &str) -> usize {
    let pat = format!("\"{key}\":");
    let text = std::str::from_utf8(line).unwrap();
    let at = text.find(&pat).unwrap() + pat.len();
    if line[at] == b'"' {
        at + 1
    } else {
        at
    }
}

const CHILD_LOG: &str = "SEXTANT_AUDIT_CHILD_LOG";
const CHILD_N: &str = "SEXTANT_AUDIT_CHILD_N";

/// Not a test on its own: `appenders_in_threads_handles_and_processes_share_one_chain` runs this
/// test binary again with only this test selected, as a second and third process.
#[test]
#[ignore = "helper run as a child process by the multi-process test"]
fn child_writer() {
    let Ok(path) = std::env::var(CHILD_LOG) else {
        return;
    };
    let n: usize = std::env::var(CHILD_N).unwrap().parse().unwrap();
    let log = AuditLog::open(Path::new(&path)).unwrap();
    for i in 0..n {
        let ev = Event::new("child", "ingest")
            .client("cli")
            .detail(format!("{i}"));
        log.record(&ev).unwrap();
    }
}

#[test]
fn appenders_in_threads_handles_and_processes_share_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_in(&dir);
    const PER: usize = 40;
    let a = Arc::new(AuditLog::open(&path).unwrap());
    let b = Arc::new(AuditLog::open(&path).unwrap());

    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["child_writer", "--exact", "--ignored", "--quiet"])
                .env(CHILD_LOG, &path)
                .env(CHILD_N, PER.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let log = Arc::clone(if t % 2 == 0 { &a } else { &b });
            std::thread::spawn(move || {
                (0..PER)
                    .map(|i| {
                        let ev = Event::new(format!("t{t}"), "search").query(format!("q{i}"));
                        log.record(&ev).unwrap()
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut got: Vec<u64> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }

    let total = PER * 8;
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), PER * 6, "each in-process append got its own seq");
    let v = verify(&path).unwrap();
    assert!(v.broken.is_none(), "{:?}", v.broken);
    assert_eq!(v.records, total);
    assert_eq!(seqs(&path), (1..=total as u64).collect::<Vec<_>>());
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches("\"user\":\"child\"").count(), PER * 2);
    let last = text.lines().last().unwrap();
    assert!(last.ends_with(&format!("\"hash\":\"{}\"}}", v.head.unwrap())));
}

#[test]
fn a_fresh_log_verifies_and_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = build(&dir, 3);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let v = verify(&path).unwrap();
    assert_eq!(v.records, 3);
    assert!(v.broken.is_none());
    let first: serde_json::Value = serde_json::from_slice(&lines[0]).unwrap();
    assert_eq!(first["prev"], "0".repeat(64));
    assert_eq!(first["outcome"], "success");
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // serde_json's map is sorted, so check the on-disk order from the raw text instead.
    assert_eq!(keys.len(), 13);
    let raw = std::str::from_utf8(&lines[0]).unwrap();
    let order = [
        "seq", "time", "user", "client", "action", "outcome", "docs", "chunks", "cited", "query",
        "detail", "prev", "hash",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|k| raw.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{raw}");
    let time = first["time"].as_str().unwrap();
    assert_eq!(time.len(), 24);
    assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
    // Each prev is the hash before it.
    let recs: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    for w in recs.windows(2) {
        assert_eq!(w[1]["prev"], w[0]["hash"]);
    }
    assert_eq!(v.head.as_deref(), recs[2]["hash"].as_str());
}

#[test]
fn an_empty_log_verifies_with_no_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_in(&dir);
    AuditLog::open(&path).unwrap();
    let v = verify(&path).unwrap();
    assert_eq!((v.records, v.head, v.broken.is_none()), (0, None, true));
    assert!(tail(&path, 5).unwrap().is_empty());
}

#[test]
fn flipping_a_named_byte_breaks_that_record() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = build(&dir, 5);
    for k in 1..=5 {
        type Flip = fn(u8) -> u8;
        let cases: [(&str, usize, Flip); 4] = [
            ("string value", value_at(&lines[k - 1], "user") + 1, |b| {
                b ^ 0x01
            }),
            ("seq digit", value_at(&lines[k - 1], "seq"), |b| {
                if b == b'9' {
                    b'1'
                } else {
                    b + 1
                }
            }),
            ("prev", value_at(&lines[k - 1], "prev") + 10, |b| {
                if b == b'0' {
                    b'1'
                } else {
                    b'0'
                }
            }),
            ("hash", value_at(&lines[k - 1], "hash") + 10, |b| {
                if b == b'0' {
                    b'1'
                } else {
                    b'0'
                }
            }),
        ];
        for (what, at, flip) in cases {
            let mut tampered = lines.clone();
            tampered[k - 1][at] = flip(tampered[k - 1][at]);
            write_lines(&path, &tampered);
            let v = verify(&path).unwrap();
            let broken = v
                .broken
                .unwrap_or_else(|| panic!("{what} in record {k} not caught"));
            assert_eq!(broken.line, k, "{what}: {}", broken.reason);
            // These flips keep the line valid JSON, so it is the hash that catches them.
            assert!(
                broken.reason.starts_with("hash mismatch"),
                "{what}: {}",
                broken.reason
            );
            assert_eq!(v.records, k - 1);
        }
    }
}

#[test]
fn flipping_any_byte_breaks_that_record() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = build(&dir, 4);
    for k in 1..=lines.len() {
        for at in 0..lines[k - 1].len() {
            for mask in [0x01u8, 0x20, 0x80] {
                let mut tampered = lines.clone();
                tampered[k - 1][at] ^= mask;
                write_lines(&path, &tampered);
                let v = verify(&path).unwrap();
                let broken = v.broken.unwrap_or_else(|| {
                    panic!("flip {mask:#x} at byte {at} of record {k} not caught")
                });
                assert_eq!(broken.line, k, "byte {at} ^ {mask:#x}: {}", broken.reason);
            }
        }
    }
}

#[test]
fn a_deleted_record_breaks_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = build(&dir, 6);
    let original_head = verify(&path).unwrap().head;
    for k in 1..6 {
        let mut cut = lines.clone();
        cut.remove(k - 1);
        write_lines(&path, &cut);
        let broken = verify(&path).unwrap().broken.expect("deletion not caught");
        assert_eq!(broken.line, k, "{}", broken.reason);
        assert_eq!(broken.seq, Some(k as u64 + 1));
        assert!(broken.reason.contains("seq gap"), "{}", broken.reason);
    }
    // Dropping the newest record leaves a valid, shorter chain: only an anchored head shows it.
    write_lines(&path, &lines[..5]);
    let v = verify(&path).unwrap();
    assert!(v.broken.is_none());
    assert_eq!(v.records, 5);
    assert_ne!(v.head, original_head);
}

#[test]
fn swapped_records_break_at_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = build(&dir, 6);
    for k in 1..6 {
        let mut swapped = lines.clone();
        swapped.swap(k - 1, k);
        write_lines(&path, &swapped);
        let broken = verify(&path).unwrap().broken.expect("swap not caught");
        assert_eq!(broken.line, k, "{}", broken.reason);
    }
}

#[test]
fn a_replaced_record_with_a_recomputed_hash_breaks_the_next_prev() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = build(&dir, 5);
    // A forger who rewrites record 3 and fixes its own hash still breaks record 4's prev.
    let text = String::from_utf8(lines[2].clone()).unwrap();
    let body = text.replace("\"user\":\"user2\"", "\"user\":\"bob\"");
    let cut = body.find(",\"hash\":\"").unwrap();
    let hash = hex::encode(Sha256::digest(format!("{}}}", &body[..cut]).as_bytes()));
    let forged = format!("{},\"hash\":\"{hash}\"}}\n", &body[..cut]);
    let mut tampered = lines.clone();
    tampered[2] = forged.into_bytes();
    write_lines(&path, &tampered);
    let v = verify(&path).unwrap();
    let broken = v.broken.unwrap();
    assert_eq!(broken.line, 4, "{}", broken.reason);
    assert!(
        broken.reason.starts_with("prev mismatch"),
        "{}",
        broken.reason
    );
    assert_eq!(v.records, 3);
}

#[test]
fn a_torn_tail_is_reported_then_repaired_by_open() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = build(&dir, 3);
    let good_head = verify(&path).unwrap().head;
    let half = &lines[1][..lines[1].len() / 2];
    let mut bytes = lines.concat();
    bytes.extend_from_slice(half);
    fs::write(&path, &bytes).unwrap();

    let v = verify(&path).unwrap();
    let broken = v.broken.unwrap();
    assert_eq!(broken.line, 4);
    assert!(
        broken.reason.starts_with("torn final line"),
        "{}",
        broken.reason
    );
    assert_eq!((v.records, v.head.clone()), (3, good_head));
    // The torn line is not offered as a record.
    assert_eq!(tail(&path, 10).unwrap().len(), 3);

    let log = AuditLog::open(&path).unwrap();
    let torn = fs::read(format!("{}.torn", path.display())).unwrap();
    assert_eq!(torn, [half, b"\n"].concat());
    let v = verify(&path).unwrap();
    assert!(v.broken.is_none(), "{:?}", v.broken);
    assert_eq!(v.records, 4);
    let repair = tail(&path, 1).unwrap().remove(0);
    assert_eq!(repair["action"], "audit.repair");
    assert_eq!(repair["seq"], 4);
    let detail = repair["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("({} bytes", half.len())),
        "{detail}"
    );
    assert!(
        detail.contains(&hex::encode(Sha256::digest(half))),
        "{detail}"
    );
    assert_eq!(log.record(&Event::new("alice", "search")).unwrap(), 5);
    assert!(verify(&path).unwrap().broken.is_none());
}

#[test]
fn a_tear_left_by_another_process_is_repaired_by_the_next_record() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = build(&dir, 2);
    let log = AuditLog::open(&path).unwrap();
    // Another writer crashes mid-append while this handle is open.
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut f, b"{\"seq\":3,\"time\":\"20").unwrap();
    assert_eq!(log.record(&Event::new("alice", "ask")).unwrap(), 4);
    let v = verify(&path).unwrap();
    assert!(v.broken.is_none(), "{:?}", v.broken);
    let last_two = tail(&path, 2).unwrap();
    assert_eq!(last_two[0]["action"], "audit.repair");
    assert_eq!(last_two[1]["action"], "ask");
}

#[test]
fn a_log_that_is_only_a_torn_line_restarts_at_seq_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_in(&dir);
    fs::write(&path, b"{\"seq\":1,\"ti").unwrap();
    let v = verify(&path).unwrap();
    assert_eq!((v.records, v.broken.unwrap().line), (0, 1));
    AuditLog::open(&path).unwrap();
    assert_eq!(seqs(&path), vec![1]);
    assert!(verify(&path).unwrap().broken.is_none());
}

#[test]
fn injected_newlines_and_quotes_stay_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_in(&dir);
    let log = AuditLog::open(&path).unwrap();
    let forged = format!(
        "x\"}}\n{{\"seq\":2,\"time\":\"t\",\"prev\":\"{}\",\"hash\":\"{}\"}}\r\n\\\"\u{2028}\u{0}",
        "0".repeat(64),
        "f".repeat(64)
    );
    let ev = Event::new("mallory\n{\"seq\":9}", "search")
        .query(forged.clone())
        .detail("a,\"hash\":\"".to_string() + &"0".repeat(64) + "\"}");
    log.record(&ev).unwrap();
    log.record(&Event::new("alice", "search")).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches('\n').count(), 2);
    assert_eq!(seqs(&path), vec![1, 2]);
    let v = verify(&path).unwrap();
    assert!(v.broken.is_none(), "{:?}", v.broken);
    let back = tail(&path, 2).unwrap();
    assert_eq!(back[0]["query"], forged.as_str());
    assert_eq!(back[0]["user"], "mallory\n{\"seq\":9}");
}

#[test]
fn tail_returns_the_newest_records_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = build(&dir, 7);
    let got = tail(&path, 3).unwrap();
    let s: Vec<u64> = got.iter().map(|v| v["seq"].as_u64().unwrap()).collect();
    assert_eq!(s, vec![5, 6, 7]);
    assert_eq!(tail(&path, 100).unwrap().len(), 7);
    assert!(tail(&path, 0).unwrap().is_empty());
    assert_eq!(got[0]["query"], "what is item 4?");
    assert_eq!(got[0]["chunks"], serde_json::json!([4, 104]));
    assert_eq!(got[1]["outcome"], "denied");
}

#[test]
fn a_garbled_last_line_stops_appends_and_tail_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut lines) = build(&dir, 3);
    let log = AuditLog::open(&path).unwrap();
    lines[2] = b"not a record\n".to_vec();
    write_lines(&path, &lines);
    assert!(matches!(
        log.record(&Event::new("alice", "search")),
        Err(AuditError::Corrupt { .. })
    ));
    assert!(matches!(
        AuditLog::open(&path),
        Err(AuditError::Corrupt { .. })
    ));
    let got = tail(&path, 2).unwrap();
    assert_eq!(got[0]["seq"], 2);
    assert!(got[1]["unparseable"].is_string());
    assert_eq!(verify(&path).unwrap().broken.unwrap().line, 3);
}

#[test]
fn a_log_moved_aside_is_followed_to_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = build(&dir, 2);
    let log = AuditLog::open(&path).unwrap();
    let aside = dir.path().join("audit.jsonl.evidence");
    fs::rename(&path, &aside).unwrap();
    assert_eq!(log.record(&Event::new("alice", "search")).unwrap(), 1);
    assert_eq!(seqs(&path), vec![1]);
    assert_eq!(seqs(&aside), vec![1, 2]);
    assert!(verify(&path).unwrap().broken.is_none());
    assert!(verify(&aside).unwrap().broken.is_none());
}

#[test]
fn open_needs_the_parent_directory_and_disabled_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/audit.jsonl");
    assert!(matches!(AuditLog::open(&missing), Err(AuditError::Io(_))));
    assert!(matches!(verify(&missing), Err(AuditError::Io(_))));

    let off = AuditLog::disabled();
    assert_eq!(off.record(&Event::new("alice", "search")).unwrap(), 0);
    assert!(off.path().is_none());
    let on = AuditLog::open(&log_in(&dir)).unwrap();
    assert_eq!(on.path(), Some(log_in(&dir).as_path()));
}

#[test]
fn events_round_trip_through_serde() {
    let ev = Event::new("alice", "ask")
        .client("10.0.0.1:4000")
        .outcome(Outcome::Failure)
        .docs(["a", "b"])
        .chunks([1, 2])
        .cited([2])
        .query("q")
        .detail("timeout");
    let json = serde_json::to_string(&ev).unwrap();
    assert!(json.contains("\"outcome\":\"failure\""));
    assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), ev);
    assert_eq!(Event::default().outcome, Outcome::Success);
}

#[test]
fn records_longer_than_a_read_block_chain_and_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_in(&dir);
    let log = AuditLog::open(&path).unwrap();
    // Longer than the backward scan's block, so finding the last record takes several reads.
    for i in 0..4u8 {
        let q = char::from(b'a' + i)
            .to_string()
            .repeat(20_000 + usize::from(i) * 7_000);
        log.record(&Event::new("alice", "ask").query(q)).unwrap();
    }
    let v = verify(&path).unwrap();
    assert!(v.broken.is_none(), "{:?}", v.broken);
    let got = tail(&path, 2).unwrap();
    assert_eq!(got[0]["query"].as_str().unwrap().len(), 34_000);
    assert_eq!(got[1]["seq"], 4);
}

#[test]
fn an_oversized_event_is_refused_and_leaves_the_log_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = build(&dir, 2);
    let log = AuditLog::open(&path).unwrap();
    let huge = Event::new("alice", "ask").query("x".repeat(sextant_audit::MAX_LINE_BYTES));
    assert!(matches!(log.record(&huge), Err(AuditError::TooLarge(_))));
    assert_eq!(fs::read(&path).unwrap(), lines.concat());
    assert_eq!(log.record(&Event::new("alice", "ask")).unwrap(), 3);
}
