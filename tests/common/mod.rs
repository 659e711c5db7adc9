//! Helpers shared by the end-to-end tests: where the real models and data are, and how to run
//! the real `sextant` binary against a temporary data directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The installed models (`scripts/test.sh` runs `sextant models fetch` first).
pub fn models_dir() -> PathBuf {
    std::env::var_os("SEXTANT_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("models"))
}

pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SEXTANT_CACHE") {
        return d.into();
    }
    PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/sextant")
}

/// The Factbook rendered as one Markdown file per country (`scripts/fetch-data.sh`).
pub fn factbook_dir() -> PathBuf {
    let d = cache_dir().join("data/demo/factbook");
    assert!(
        d.is_dir(),
        "{} is missing: run scripts/fetch-data.sh first",
        d.display()
    );
    d
}

/// The State of the Union addresses, one text file per address (`scripts/fetch-data.sh sotu`).
pub fn sotu_dir() -> PathBuf {
    let d = cache_dir().join("data/demo/sotu");
    assert!(
        d.is_dir(),
        "{} is missing: run scripts/fetch-data.sh sotu first",
        d.display()
    );
    d
}

/// The gazetteer's files: GeoNames lists and Natural Earth polygons (`scripts/fetch-data.sh geo`).
pub fn geo_dir() -> PathBuf {
    cache_dir().join("data/geo")
}

pub fn sextant() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sextant"));
    c.env("SEXTANT_MODELS", models_dir())
        .env_remove("SEXTANT_DATA")
        .env_remove("SEXTANT_CONFIG")
        .current_dir(repo());
    c
}

/// Runs `sextant --data-dir DATA ARGS...` and returns its output.
pub fn run(data: &Path, args: &[&str]) -> Output {
    let out = sextant()
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("sextant runs");
    out
}

/// Like [`run`], asserting success; returns stdout.
pub fn ok(data: &Path, args: &[&str]) -> String {
    let out = run(data, args);
    assert!(
        out.status.success(),
        "sextant {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

pub fn json(data: &Path, args: &[&str]) -> serde_json::Value {
    let s = ok(data, args);
    serde_json::from_str(&s)
        .unwrap_or_else(|e| panic!("sextant {args:?} printed invalid JSON ({e}): {s}"))
}

/// Copies a deterministic sample of `n` Factbook countries into `dir`.
pub fn factbook_sample(dir: &Path, n: usize) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(factbook_dir())
        .expect("factbook dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    std::fs::create_dir_all(dir).unwrap();
    let step = (files.len() / n).max(1);
    files
        .into_iter()
        .step_by(step)
        .take(n)
        .map(|src| {
            let dst = dir.join(src.file_name().unwrap());
            std::fs::copy(&src, &dst).unwrap();
            dst
        })
        .collect()
}

/// The country name of a Factbook Markdown file: its `# ` title line.
pub fn title_of(md: &Path) -> String {
    let text = std::fs::read_to_string(md).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("# "))
        .expect("title line")
        .trim()
        .to_string()
}

/// A `sextant serve` process on a free loopback port, killed on drop.
pub struct Server {
    child: std::process::Child,
    pub addr: String,
    /// The Cursor-on-Target listener's address, when started with `--cot-listen`.
    pub cot_addr: Option<String>,
    /// API token of the user the requests go as (TOP SECRET, every role).
    pub token: String,
}

impl Server {
    /// Adds a user (TOP SECRET, every role) to `data`'s users file, starts the server on
    /// `data` and waits until it listens (chat models load first).
    pub fn start(data: &Path) -> Server {
        Self::start_with(data, &[])
    }

    /// [`Server::start`] with extra `serve` arguments.
    pub fn start_with(data: &Path, extra: &[&str]) -> Server {
        use std::io::BufRead;
        let added = ok(
            data,
            &[
                "users",
                "add",
                "tester",
                "--clearance",
                "TOP SECRET",
                "--roles",
                "reader,ingester,admin",
            ],
        );
        let token = added
            .lines()
            .last()
            .expect("a token line")
            .trim()
            .to_string();
        let mut child = sextant()
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("sextant serve starts");
        let stderr = child.stderr.take().unwrap();
        let mut lines = std::io::BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        let mut cot_addr = None;
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(a) = line.split("listening on http://").nth(1) {
                        break a.trim().to_string();
                    }
                    if let Some(a) = line.split("Cursor-on-Target on tcp://").nth(1) {
                        cot_addr = a.split_whitespace().next().map(str::to_string);
                    }
                    seen.push(line);
                }
                _ => {
                    let _ = child.kill();
                    panic!("server exited before listening:\n{}", seen.join("\n"));
                }
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            addr,
            cot_addr,
            token,
        }
    }

    /// One HTTP/1.1 request; returns (status, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, String) {
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        self.request_as(&self.token, method, path, "application/json", &payload)
    }

    /// One HTTP/1.1 request with `token`, a content type and a raw body; returns (status, body).
    pub fn request_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        content_type: &str,
        payload: &str,
    ) -> (u16, String) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            self.addr,
            payload.len()
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8_lossy(&raw).to_string();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        (status, body)
    }

    pub fn json(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let (status, text) = self.request(method, path, body);
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: invalid JSON ({e}): {text}"));
        (status, v)
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real OGC API – Features server (pygeoapi, started by `scripts/pygeoapi/start.sh`),
/// stopped when dropped.
pub struct Pygeoapi {
    pub dir: tempfile::TempDir,
    pub url: String,
}

impl Pygeoapi {
    pub fn start() -> Pygeoapi {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = std::process::Command::new("bash")
            .arg(repo().join("scripts/pygeoapi/start.sh"))
            .arg(port.to_string())
            .arg(dir.path())
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "pygeoapi did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap()
            .trim()
            .to_string();
        Pygeoapi { dir, url }
    }

    /// Writes `root/sextant.toml` (data in `root/data`) and `root/connectors/geo.toml`, a
    /// connector on this server (aircraft, cities, and the editable reports collection whose
    /// bodies follow scripts/pygeoapi/report.schema.json); returns the settings file.
    pub fn write_config(&self, root: &Path) -> PathBuf {
        std::fs::create_dir_all(root.join("connectors")).unwrap();
        let cfg = root.join("sextant.toml");
        let data = root.join("data").display().to_string();
        std::fs::write(&cfg, format!("data_dir = {data:?}\n")).unwrap();
        std::fs::write(
            root.join("connectors/geo.toml"),
            format!(
                "spec = {:?}\nbase_url = {:?}\nmarking = \"UNCLASSIFIED\"\n\
                 allow = [\"getAircraftFeatures\", \"getCitiesFeatures\", \"getReportsFeatures\", \"addReportsFeatures\", \"deleteReportsFeatures\"]\n\
                 hide = [\"f\", \"lang\", \"crs\", \"bbox-crs\", \"vendorSpecificParameters\", \"skipGeometry\", \"offset\", \"properties\"]\n\
                 [bodies]\n\"addReportsFeatures\" = {:?}\n",
                self.dir.path().join("openapi.json").display().to_string(),
                self.url,
                repo()
                    .join("scripts/pygeoapi/report.schema.json")
                    .display()
                    .to_string()
            ),
        )
        .unwrap();
        cfg
    }

    /// `GET url` with curl, as JSON.
    pub fn get(&self, path: &str) -> serde_json::Value {
        let out = std::process::Command::new("curl")
            .args(["-sf", &format!("{}{path}", self.url)])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Pygeoapi {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(repo().join("scripts/pygeoapi/stop.sh"))
            .arg(self.dir.path())
            .output();
    }
}

/// Adds a user with `sextant users add` and returns their token.
pub fn add_user(data: &std::path::Path, name: &str, clearance: &str, roles: &str) -> String {
    let out = ok(
        data,
        &[
            "users",
            "add",
            name,
            "--clearance",
            clearance,
            "--roles",
            roles,
        ],
    );
    out.lines().last().expect("a token line").trim().to_string()
}
