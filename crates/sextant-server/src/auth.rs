//! Who is asking: bearer tokens and client certificates become a [`Session`] (name, what they
//! may see, what they may do) before any handler runs; per-user rate limits; and the audit
//! records the server writes.
//!
//! Every route but `/healthz` and `/openapi.json` needs a caller: without valid credentials the
//! answer is 401, always with the same body. Authentication successes are audited once per
//! user and client address per [`AUTH_AUDIT_WINDOW`] (every request is audited anyway under its
//! own action, with the user). Failures are coalesced per client address: the first of each
//! [`AUTH_FAILURE_WINDOW`] is audited with the count of those it stands for, and an address past
//! [`AUTH_FAILURES_PER_WINDOW`] is answered 429 before any credential is tried.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use sextant_app::Session;
use sextant_audit::{AuditLog, Event, Outcome};
use sextant_auth::Users;

use crate::error::{ApiError, ErrorCode};
use crate::tls::ClientCert;
use crate::AppState;

/// How the server decides who is calling.
pub enum AuthMode {
    /// Bearer tokens (and client certificates, with mutual TLS) from the users file.
    Users(Arc<Users>),
    /// No authentication: every caller is the unrestricted local administrator. Only with
    /// `sextant serve --insecure-dev`, which says so loudly.
    InsecureDev,
}

/// Authentication successes are logged once per user and client address per this window.
pub const AUTH_AUDIT_WINDOW: Duration = Duration::from_secs(600);
/// Failed authentications are coalesced per client address over this window: the first is
/// audited at once, the rest are counted into the next record from that address.
pub const AUTH_FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Failed authentications one client address may make per [`AUTH_FAILURE_WINDOW`]; past it,
/// every request from that address is answered 429 until the window ends (no credential is
/// even tried, so guessing tokens is bounded).
pub const AUTH_FAILURES_PER_WINDOW: u32 = 30;
/// Entries the per-user and per-address memories keep at most; past it they are cleared
/// (which only means more audit records, never fewer checks).
const MEMO_CAP: usize = 10_000;

/// Failed authentications from one address in the current window.
struct Failures {
    since: Instant,
    count: u32,
    /// Failures of earlier windows not yet reported in an audit record.
    unreported: u64,
}

/// Per-user rate limits (`governor`'s keyed GCRA), the last audited authentication per (user,
/// client address), and failed authentications per client address.
#[derive(Default)]
pub struct Limiter {
    /// None: unlimited.
    buckets: Option<governor::DefaultKeyedRateLimiter<String>>,
    seen: Mutex<HashMap<(String, String), Instant>>,
    failures: Mutex<HashMap<String, Failures>>,
}

/// The address part of a client (`ip:port` -> `ip`): one person's new connections do not
/// count as new clients.
fn address_of(client: &str) -> &str {
    match client.parse::<SocketAddr>() {
        Ok(_) => client
            .rsplit_once(':')
            .map(|(ip, _)| ip.trim_start_matches('[').trim_end_matches(']'))
            .unwrap_or(client),
        Err(_) => client,
    }
}

/// What to do with a failed authentication.
enum FailureVerdict {
    /// Audit it; the number says how many earlier failures from the address were coalesced.
    Audit(u64),
    /// Counted, not audited on its own; answer 401.
    Coalesced,
    /// The address is over its failure budget: answer 429.
    Limited,
}

impl Limiter {
    /// `per_minute` requests a minute per user, in bursts of up to a minute's worth (0: no
    /// limit).
    pub fn new(per_minute: u32) -> Limiter {
        Limiter {
            buckets: std::num::NonZeroU32::new(per_minute)
                .map(|n| governor::RateLimiter::keyed(governor::Quota::per_minute(n))),
            ..Default::default()
        }
    }

    /// Takes one request from `user`'s allowance; `Err(wait)` when it is spent.
    fn take(&self, user: &str) -> Result<(), Duration> {
        use governor::clock::Clock;
        let Some(limiter) = &self.buckets else {
            return Ok(());
        };
        // Users whose allowance is full again are forgotten, so the map stays bounded.
        if limiter.len() > MEMO_CAP {
            limiter.retain_recent();
        }
        limiter.check_key(&user.to_string()).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::DefaultClock::default().now())
        })
    }

    fn first_in_window(&self, user: &str, client: &str) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock();
        if seen.len() > MEMO_CAP {
            seen.retain(|_, t| now.duration_since(*t) < AUTH_AUDIT_WINDOW);
            if seen.len() > MEMO_CAP {
                seen.clear();
            }
        }
        let key = (user.to_string(), address_of(client).to_string());
        match seen.get(&key) {
            Some(t) if now.duration_since(*t) < AUTH_AUDIT_WINDOW => false,
            _ => {
                seen.insert(key, now);
                true
            }
        }
    }

    /// Whether `client`'s address is over its failure budget (checked before any credential).
    fn over_failure_budget(&self, client: &str) -> bool {
        let now = Instant::now();
        self.failures
            .lock()
            .get(address_of(client))
            .is_some_and(|f| {
                now.duration_since(f.since) < AUTH_FAILURE_WINDOW
                    && f.count >= AUTH_FAILURES_PER_WINDOW
            })
    }

    /// Counts one failed authentication from `client`.
    fn failure(&self, client: &str) -> FailureVerdict {
        let now = Instant::now();
        let mut failures = self.failures.lock();
        if failures.len() > MEMO_CAP {
            failures.retain(|_, f| now.duration_since(f.since) < AUTH_FAILURE_WINDOW);
            if failures.len() > MEMO_CAP {
                failures.clear();
            }
        }
        let f = failures
            .entry(address_of(client).to_string())
            .or_insert(Failures {
                since: now,
                count: 0,
                unreported: 0,
            });
        if now.duration_since(f.since) >= AUTH_FAILURE_WINDOW {
            f.unreported += u64::from(f.count.saturating_sub(1));
            f.since = now;
            f.count = 0;
        }
        f.count += 1;
        if f.count == 1 {
            FailureVerdict::Audit(std::mem::take(&mut f.unreported))
        } else if f.count > AUTH_FAILURES_PER_WINDOW {
            FailureVerdict::Limited
        } else {
            FailureVerdict::Coalesced
        }
    }
}

/// The token of an `Authorization` header: the scheme is case-insensitive (RFC 7235).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Writes an audit record off the async runtime. A record that cannot be written fails the
/// request (nothing is served unaudited).
pub async fn audit(log: &Arc<AuditLog>, ev: Event) -> Result<(), ApiError> {
    let log = log.clone();
    tokio::task::spawn_blocking(move || log.record(&ev).map(|_| ()))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

fn client_of(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_else(|| "in-process".into())
}

fn unauthorized() -> Response {
    let mut resp = ApiError::new(
        ErrorCode::Unauthorized,
        "missing or invalid credentials: send Authorization: Bearer <token>",
    )
    .into_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

fn too_many(wait: Duration) -> Response {
    let mut resp = ApiError::new(
        ErrorCode::TooManyRequests,
        "rate limit exceeded; retry later",
    )
    .into_response();
    let secs = wait.as_secs().max(1).to_string();
    if let Ok(v) = HeaderValue::from_str(&secs) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Routes served without credentials: liveness, the API description, and the web app's static
/// files (public code and Natural Earth polygons; every API call the app makes carries the
/// user's credentials).
fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/openapi.json") || crate::web::is_public(path)
}

/// Resolves the caller, applies the rate limit, and hands the request on with a [`Session`]
/// extension.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let client = client_of(&req);
    if state.auth.limiter.over_failure_budget(&client) {
        return too_many(AUTH_FAILURE_WINDOW);
    }
    let principal = match &state.auth.mode {
        AuthMode::InsecureDev => {
            let caller = Session::administrator("insecure-dev", client);
            req.extensions_mut().insert(caller);
            return next.run(req).await;
        }
        AuthMode::Users(users) => {
            let bearer = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(bearer_token);
            match bearer {
                Some(token) => users.authenticate(token).ok_or("invalid bearer token"),
                None => match req.extensions().get::<ClientCert>() {
                    Some(cert) => users
                        .by_certificate(&cert.fingerprint)
                        .ok_or("client certificate not mapped to a user"),
                    None => Err("no credentials"),
                },
            }
        }
    };
    let caller = match principal {
        Ok(p) => Session::user(p, client),
        Err(why) => {
            let earlier = match state.auth.limiter.failure(&client) {
                FailureVerdict::Audit(earlier) => earlier,
                FailureVerdict::Coalesced => return unauthorized(),
                FailureVerdict::Limited => return too_many(AUTH_FAILURE_WINDOW),
            };
            let mut detail = format!("{why} ({} {})", req.method(), req.uri().path());
            if earlier > 0 {
                detail.push_str(&format!(
                    "; {earlier} earlier failures from this address coalesced"
                ));
            }
            // Names nothing but what the unauthenticated caller sent.
            let ev = Event::new("-", "auth")
                .marking("UNCLASSIFIED")
                .client(client)
                .outcome(Outcome::Failure)
                .detail(detail);
            if let Err(e) = audit(&state.audit, ev).await {
                return e.into_response();
            }
            return unauthorized();
        }
    };
    if state
        .auth
        .limiter
        .first_in_window(&caller.name, &caller.client)
    {
        if let Err(e) = audit(&state.audit, caller.event("auth").marking("UNCLASSIFIED")).await {
            return e.into_response();
        }
    }
    if let Err(wait) = state.auth.limiter.take(&caller.name) {
        return too_many(wait);
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// Authentication state shared by every request.
pub struct Auth {
    pub mode: AuthMode,
    pub limiter: Limiter,
}
