//! The offline install bundle, end to end: `sextant bundle` packs the binary, the web app, the
//! models and the settings; the archive is unpacked into an empty directory and, inside a network
//! namespace that has nothing but loopback, `install.sh` verifies and installs it into a fresh
//! prefix, and the installed copy serves the web app and answers a question with citations,
//! started from a directory outside the source tree so it can only use what was installed.
//! Also: the SBOM names the Rust crates and the web app's npm packages, and `install.sh`
//! refuses a bundle with an altered or an extra file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The embedding model and the default chat model: what the shipped settings need to answer
/// (the 135M model often abstains honestly, so it could not show an answer with citations).
const MODELS: &str = "all-minilm-l6-v2,qwen2.5-coder-0.5b-instruct";

/// The built web app when there is one (CI builds it with scripts/setup-browser.sh), else a
/// stand-in `index.html`, with the real package-lock.json beside it when the source tree has
/// it, so the SBOM's npm part is still checked. Returns the dist directory.
fn web_dist(tmp: &Path) -> PathBuf {
    let real = common::repo().join("deploy/web/dist");
    if real.join("index.html").is_file() {
        return real;
    }
    eprintln!("deploy/web/dist is not built: bundling a stand-in index.html");
    let dist = tmp.join("web/dist");
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>Sextant</title><script type=module src=/assets/app.js></script>\n",
    )
    .unwrap();
    std::fs::write(dist.join("assets/app.js"), "console.log('stand-in');\n").unwrap();
    let lock = common::repo().join("deploy/web/package-lock.json");
    if lock.is_file() {
        std::fs::copy(&lock, tmp.join("web/package-lock.json")).unwrap();
    }
    dist
}

/// Unpacks with the same crates that packed it: a Debian host may lack the zstd command.
fn unpack(archive: &Path, into: &Path) {
    let f = std::fs::File::open(archive).unwrap();
    let mut a = tar::Archive::new(zstd::Decoder::new(f).unwrap());
    a.set_preserve_permissions(true);
    a.unpack(into).unwrap();
}

fn sh(script: &str) -> std::process::Output {
    Command::new("sh").args(["-c", script]).output().unwrap()
}

#[test]
fn bundle_installs_offline_and_answers_with_citations() {
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let web = web_dist(tmp);
    let has_npm_lock = web.parent().unwrap().join("package-lock.json").is_file();
    let archive = tmp.join("sextant.tar.zst");

    let out = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["bundle", "-o"])
        .arg(&archive)
        .args(["--models", MODELS])
        .env("SEXTANT_MODELS", common::models_dir())
        .env("SEXTANT_WEB_DIR", &web)
        .env_remove("SEXTANT_CONFIG")
        .current_dir(common::repo())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "sextant bundle failed:\nstdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    if cfg!(debug_assertions) {
        assert!(
            stderr.contains("not a release build"),
            "a debug binary is packed with a warning: {stderr}"
        );
    }
    assert!(!tmp.join("sextant.tar.zst.tmp").exists());
    let size = std::fs::metadata(&archive).unwrap().len();
    eprintln!(
        "bundle: {:.0} MiB in {:.1} s",
        size as f64 / 1048576.0,
        t0.elapsed().as_secs_f64()
    );

    // One top directory, the documented layout.
    let unpacked = tmp.join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    unpack(&archive, &unpacked);
    let tops: Vec<_> = std::fs::read_dir(&unpacked)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let top_name = format!("sextant-{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(tops, [top_name.as_str()]);
    let top = unpacked.join(&top_name);
    for f in [
        "bin/sextant",
        "web/index.html",
        "models/all-minilm-l6-v2/model.safetensors",
        "models/qwen2.5-coder-0.5b-instruct/model.gguf",
        "config/sextant.toml",
        "config/templates/sitrep.toml",
        "deploy/sextant.service",
        "install.sh",
        "README.txt",
        "SHA256SUMS",
        "sbom.cdx.json",
    ] {
        assert!(top.join(f).is_file(), "{f} is in the bundle");
    }
    assert!(
        !top.join("models/smollm2-135m-instruct").exists(),
        "only the models asked for"
    );

    // SHA256SUMS covers every other file.
    let sums = std::fs::read_to_string(top.join("SHA256SUMS")).unwrap();
    let listed: std::collections::BTreeSet<&str> = sums.lines().map(|l| &l[66..]).collect();
    let mut present = std::collections::BTreeSet::new();
    for e in walk(&top) {
        let rel = e.strip_prefix(&top).unwrap().to_str().unwrap().to_string();
        if rel != "SHA256SUMS" {
            present.insert(rel);
        }
    }
    assert_eq!(
        listed,
        present.iter().map(String::as_str).collect(),
        "SHA256SUMS lists exactly the bundle's files"
    );

    // The SBOM: CycloneDX 1.5, crates from Cargo.lock with their checksums, npm packages.
    let sbom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(top.join("sbom.cdx.json")).unwrap()).unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(sbom["specVersion"], "1.5");
    let components = sbom["components"].as_array().unwrap();
    let find = |prefix: &str| {
        components
            .iter()
            .find(|c| c["purl"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in the SBOM"))
    };
    let tantivy = find("pkg:cargo/tantivy@");
    assert_eq!(tantivy["hashes"][0]["alg"], "SHA-256");
    assert_eq!(tantivy["hashes"][0]["content"].as_str().unwrap().len(), 64);
    if has_npm_lock {
        let preact = find("pkg:npm/preact@");
        assert_eq!(preact["hashes"][0]["alg"], "SHA-512");
        assert_eq!(preact["hashes"][0]["content"].as_str().unwrap().len(), 128);
    }

    // install.sh refuses an altered file, and a file SHA256SUMS does not list; it installs
    // nothing then.
    let readme = top.join("README.txt");
    let original = std::fs::read(&readme).unwrap();
    std::fs::write(&readme, b"altered\n").unwrap();
    let refused = sh(&format!(
        "{}/install.sh {}/p1",
        top.display(),
        tmp.display()
    ));
    assert!(!refused.status.success(), "an altered bundle installs");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("refusing to install"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    std::fs::write(&readme, &original).unwrap();
    std::fs::write(top.join("web/extra.js"), b"alert(1)\n").unwrap();
    let refused = sh(&format!(
        "{}/install.sh {}/p2",
        top.display(),
        tmp.display()
    ));
    assert!(
        !refused.status.success(),
        "a bundle with an unlisted file installs"
    );
    std::fs::remove_file(top.join("web/extra.js")).unwrap();
    assert!(!tmp.join("p1/bin").exists() && !tmp.join("p2/bin").exists());

    // Install and run inside a namespace with nothing but loopback, from outside the source tree.
    let prefix = tmp.join("opt/sextant");
    let data = tmp.join("data");
    let log = tmp.join("serve.log");
    let fixture = common::repo().join("tests/data/fixtures/mongolia.md");
    let script = format!(
        r#"set -eu
ip link set lo up
test "$(ip -o link show | grep -vc ' lo:')" = 0
cd {top}
sha256sum -c --quiet SHA256SUMS
# As root here: install as an unprivileged user into a prefix it owns, as an operator without
# root would.
as_user=
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
  chmod 755 {tmp}
  mkdir -p {tmp}/opt
  chown 65534:65534 {tmp}/opt
  as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
$as_user ./install.sh {prefix} > {tmp}/install.out
test -z "$as_user" || test "$(stat -c %u {prefix}/bin/sextant)" = 65534
cd {tmp}
R={prefix}/bin/sextant-run
$R --data-dir {data} ingest {fixture} --json > /dev/null
token=$($R --data-dir {data} users add tester --clearance SECRET --roles reader | tail -n 1)
$R --data-dir {data} serve --addr 127.0.0.1:18282 2> {log} &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for i in $(seq 1 300); do
  if curl -sf -H "Authorization: Bearer $token" http://127.0.0.1:18282/readyz > /dev/null; then break; fi
  sleep 0.2
done
curl -sf http://127.0.0.1:18282/ > {tmp}/index.got
cmp {tmp}/index.got {prefix}/web/index.html
curl -sf -X POST -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{{"question":"What is the capital of Mongolia?"}}' http://127.0.0.1:18282/v1/ask
"#,
        top = top.display(),
        prefix = prefix.display(),
        tmp = tmp.display(),
        data = data.display(),
        fixture = fixture.display(),
        log = log.display(),
    );
    let out = Command::new("unshare")
        .args(["--net", "--", "bash", "-c", &script])
        .env_remove("SEXTANT_MODELS")
        .env_remove("SEXTANT_WEB_DIR")
        .env_remove("SEXTANT_CONFIG")
        .env_remove("SEXTANT_DATA")
        .output()
        .expect("unshare runs (util-linux)");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        out.status.success(),
        "in the namespace: {}\nstdout: {}\nstderr: {}\nserver log: {log}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(prefix.join("bin/sextant-run").is_file());
    assert!(prefix.join("deploy/sextant.service").is_file());
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["abstained"], false, "{a}");
    assert!(
        a["answer"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("ulaanbaatar"),
        "{a}"
    );
    let cites = a["citations"].as_array().unwrap();
    assert!(!cites.is_empty(), "{a}");
    assert!(
        cites.iter().any(|c| c["quote"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("ulaanbaatar")),
        "{a}"
    );
    eprintln!(
        "bundle, install and answer: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}

/// Every regular file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
