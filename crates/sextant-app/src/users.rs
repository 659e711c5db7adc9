//! User administration: the users file (tokens, clearances, roles), by administrators only.
//! It touches no store, so it needs only the audit log (a users file may come before any data).

use crate::{AppError, Result, Session};
use sextant_audit::AuditLog;
use sextant_auth::{AuthError, NewUser, Role};
use std::path::Path;

/// Adds a user to `users_file` and returns their API token (shown once); audited as `user.add`
/// before it returns. A running server picks the change up on its next request.
pub fn add_user(audit: &AuditLog, s: &Session, users_file: &Path, user: NewUser) -> Result<String> {
    s.require(Role::Admin)?;
    let detail = format!(
        "{}: clearance {}, sci [{}], citizenship {}, roles [{}]",
        user.name,
        user.clearance,
        user.sci.join(","),
        user.citizenship,
        user.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let token = sextant_auth::add_user(users_file, user).map_err(refused)?;
    // Names, clearances and roles are unclassified administrative data.
    record(audit, s, "user.add", detail)?;
    Ok(token)
}

/// Removes a user (their token stops working on the server's next request); false when there
/// is no such user. Audited as `user.remove`.
pub fn remove_user(audit: &AuditLog, s: &Session, users_file: &Path, name: &str) -> Result<bool> {
    s.require(Role::Admin)?;
    let removed = sextant_auth::remove_user(users_file, name).map_err(refused)?;
    if removed {
        record(audit, s, "user.remove", name.to_string())?;
    }
    Ok(removed)
}

/// The users (name, clearance, roles; never a token), audited as `user.list`.
pub fn list_users(
    audit: &AuditLog,
    s: &Session,
    users_file: &Path,
) -> Result<Vec<sextant_auth::UserRecord>> {
    s.require(Role::Admin)?;
    let users = sextant_auth::list_users(users_file).map_err(refused)?;
    record(audit, s, "user.list", format!("{}", users.len()))?;
    Ok(users)
}

fn record(audit: &AuditLog, s: &Session, action: &str, detail: String) -> Result<()> {
    audit
        .record(&s.event(action).marking("UNCLASSIFIED").detail(detail))
        .map(|_| ())
        .map_err(AppError::internal)
}

/// A users file that cannot be read or written is the server's problem; anything else (a name
/// taken, an unknown clearance, a file that does not parse) is the administrator's.
fn refused(e: AuthError) -> AppError {
    match e {
        AuthError::Io(e) => AppError::internal(e),
        e => AppError::BadRequest(e.to_string()),
    }
}
