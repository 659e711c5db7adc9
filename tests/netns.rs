//! Air-gap proof: ingest, serve and search inside a network namespace that has nothing but
//! loopback. No interface but `lo` exists there, so any attempt at egress would fail; the test
//! passes only if Sextant needs none.

mod common;

use std::process::Command;

#[test]
fn serves_and_searches_with_only_loopback() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let fixture = common::repo().join("tests/data/fixtures/mongolia.md");
    let bin = env!("CARGO_BIN_EXE_sextant");
    let script = format!(
        r#"set -eu
ip link set lo up
# Nothing but loopback in here.
test "$(ip -o link show | grep -vc ' lo:')" = 0
test -z "$(ip route show)"
S="{bin} --data-dir {data}"
$S ingest {fixture} --json > /dev/null
token=$($S users add tester --clearance SECRET --roles reader | tail -n 1)
$S serve --addr 127.0.0.1:18181 2> {log} &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for i in $(seq 1 150); do
  if curl -sf -H "Authorization: Bearer $token" http://127.0.0.1:18181/readyz > /dev/null; then break; fi
  sleep 0.2
done
curl -sf -X POST -H "Authorization: Bearer $token" -H 'content-type: application/json' -d '{{"query":"capital of Mongolia","k":3}}' http://127.0.0.1:18181/v1/search
"#,
        data = data.display(),
        fixture = fixture.display(),
        log = tmp.path().join("serve.log").display(),
    );
    let out = Command::new("unshare")
        .args(["--net", "--", "bash", "-c", &script])
        .env("SEXTANT_MODELS", common::models_dir())
        .output()
        .expect("unshare runs (util-linux)");
    let log = std::fs::read_to_string(tmp.path().join("serve.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "in the namespace: {}\nstdout: {}\nstderr: {}\nserver log: {log}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hits = v["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 3);
    assert!(
        hits.iter()
            .any(|h| h["text"].as_str().unwrap().contains("Ulaanbaatar")),
        "{v}"
    );
}
