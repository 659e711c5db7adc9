//! `sextant users`: the users file (tokens, clearances, roles, certificates).

use crate::*;

pub(crate) fn users(s: &Settings, as_user: Option<&str>, cmd: UsersCommand) -> Result<i32> {
    let path = s.users_file();
    let log = audit_log(s)?;
    // The local administrator (or, with --as, whoever that is: only administrators may).
    let admin = session(s, as_user)?;
    match cmd {
        UsersCommand::Add {
            name,
            clearance,
            sci,
            citizenship,
            roles,
            cert,
        } => {
            let roles = roles
                .iter()
                .map(|r| r.parse::<Role>())
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let cert_sha256 = match cert {
                Some(p) => vec![cert_fingerprint(&p)?],
                None => Vec::new(),
            };
            let token = sextant_app::users::add_user(
                &log,
                &admin,
                &path,
                sextant_auth::NewUser {
                    name: name.clone(),
                    clearance,
                    sci,
                    citizenship,
                    roles,
                    cert_sha256,
                },
            )?;
            println!("added user {name} to {}", path.display());
            println!("API token (shown once; store it safely):");
            println!("{token}");
            Ok(0)
        }
        UsersCommand::List { json } => {
            admin.require(Role::Admin)?;
            let list = sextant_auth::list_users(&path)?;
            if json {
                let rows: Vec<serde_json::Value> = list
                    .iter()
                    .map(|u| {
                        serde_json::json!({"name": u.name, "clearance": u.clearance, "sci": u.sci,
                            "citizenship": u.citizenship, "roles": u.roles, "certificates": u.cert_sha256.len()})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<20} {:<13} {:<20} {:<4} roles",
                    "NAME", "CLEARANCE", "SCI", "CIT"
                );
                for u in &list {
                    println!(
                        "{:<20} {:<13} {:<20} {:<4} {}",
                        u.name,
                        u.clearance,
                        u.sci.join(","),
                        u.citizenship,
                        u.roles
                            .iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                }
            }
            Ok(0)
        }
        UsersCommand::Remove { name } => {
            if sextant_app::users::remove_user(&log, &admin, &path, &name)? {
                println!("removed user {name}");
                Ok(0)
            } else {
                eprintln!("error: no user {name:?} in {}", path.display());
                Ok(1)
            }
        }
    }
}

/// SHA-256 of a certificate file's first certificate (PEM or DER), as mutual TLS sees it.
pub(crate) fn cert_fingerprint(path: &Path) -> Result<String> {
    use rustls_pki_types::pem::PemObject;
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let der = match rustls_pki_types::CertificateDer::from_pem_slice(&raw) {
        Ok(c) => c.as_ref().to_vec(),
        Err(_) => raw,
    };
    Ok(sextant_server::tls::fingerprint(&der))
}
