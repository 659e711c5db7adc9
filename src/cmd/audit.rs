//! `sextant audit verify`: the audit log's hash chain.

use crate::*;

pub(crate) fn audit_verify(s: &Settings, file: Option<PathBuf>, json: bool) -> Result<i32> {
    let path = file.unwrap_or_else(|| s.audit_file());
    let v = sextant_audit::verify(&path)
        .with_context(|| format!("reading the audit log {}", path.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        match &v.broken {
            None => println!(
                "{}: {} records, chain intact; head {}",
                path.display(),
                v.records,
                v.head.as_deref().unwrap_or("(empty)")
            ),
            Some(b) => println!(
                "{}: BROKEN at record {} (line {}): {}",
                path.display(),
                b.seq.map_or("?".to_string(), |q| q.to_string()),
                b.line,
                b.reason
            ),
        }
    }
    Ok(if v.broken.is_some() { 1 } else { 0 })
}
