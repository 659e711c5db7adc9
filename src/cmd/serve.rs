//! `sextant serve`: the HTTP API (and the CoT listener), with TLS when configured.

use crate::*;

pub(crate) fn serve(
    s: &Settings,
    addr: Option<String>,
    insecure_dev: bool,
    cot: Option<(String, String)>,
) -> Result<i32> {
    let addr = addr.unwrap_or_else(|| s.server.addr.clone());
    let default_marking = marking_policy(s, None)?.default;
    let auth = if insecure_dev {
        eprintln!("WARNING: --insecure-dev: serving WITHOUT authentication; every caller sees every document. Never use this on a network with real data.");
        sextant_server::auth::AuthMode::InsecureDev
    } else {
        let users = sextant_auth::Users::open(&s.users_file())
            .with_context(|| format!("reading users file {}", s.users_file().display()))?;
        if users.is_empty() {
            eprintln!(
                "note: no users in {}; add one with `sextant users add NAME --clearance LEVEL` (every data route answers 401 until then)",
                s.users_file().display()
            );
        }
        sextant_server::auth::AuthMode::Users(Arc::new(users))
    };
    let tls = tls_config(s)?;
    let (store, embedder) = open_for_writing(s)?;
    let log = Arc::new(audit_log(s)?);
    let config_digest = match &cli_config_path(s) {
        Some(p) => {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap_or_default()))
        }
        None => "built-in defaults".into(),
    };
    // The process's start, with the settings in force: not a use case, so written here.
    log.record(
        &session(s, None)?
            .event("config")
            .marking("UNCLASSIFIED")
            .detail(format!(
                "serve on {addr}; auth {}; tls {}; config {config_digest}",
                if insecure_dev {
                    "DISABLED (--insecure-dev)"
                } else {
                    "tokens"
                },
                if tls.is_some() { "on" } else { "off" }
            )),
    )
    .context("writing the audit log")?;
    let retriever = Arc::new(Retriever::new(store, Some(embedder)));
    let assistant = Arc::new(assistant(s, retriever, &s.assist.models)?);
    let options = sextant_server::ServerOptions {
        request_timeout: Duration::from_secs(s.server.request_timeout_secs),
        max_upload_bytes: s.server.max_upload_bytes,
        max_json_bytes: s.server.max_json_bytes,
        default_k: s.search.default_k,
        fusion: fusion(s),
        chunking: chunking(s),
        default_marking,
        rate_limit_per_minute: s.security.rate_limit_per_minute,
        geo: sextant_server::geo::Geo(geo_data(s)),
        templates: std::sync::Arc::new(templates(s)),
        max_feed_bytes: s.server.max_upload_bytes,
        max_event_bytes: s.geo.max_event_bytes,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut security = sextant_server::Security {
        auth,
        audit: log,
        tls,
        cot: None,
        connect: Some(std::sync::Arc::new(crate::act::connect(s)?)),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot bind {addr}"))?;
        let local = listener.local_addr()?;
        if let Some((cot_addr, feed)) = cot {
            let l = tokio::net::TcpListener::bind(&cot_addr)
                .await
                .with_context(|| format!("cannot bind --cot-listen {cot_addr}"))?;
            eprintln!(
                "sextant accepting Cursor-on-Target on tcp://{} (feed {feed})",
                l.local_addr()?
            );
            security.cot = Some((l, feed));
        }
        tracing::info!(addr = %local, "listening");
        eprintln!("sextant listening on {scheme}://{local}");
        sextant_server::serve(listener, assistant, options, security).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}

/// The settings file in force, if any (its digest goes into the audit log at start).
pub(crate) fn cli_config_path(s: &Settings) -> Option<PathBuf> {
    s.source.clone()
}

/// TLS settings from `[security]`, or `None` for plain HTTP.
pub(crate) fn tls_config(s: &Settings) -> Result<Option<Arc<rustls::ServerConfig>>> {
    let sec = &s.security;
    if sec.tls_cert.as_os_str().is_empty() && sec.tls_key.as_os_str().is_empty() {
        return Ok(None);
    }
    let files = sextant_server::tls::TlsFiles {
        cert: sec.tls_cert.clone(),
        key: sec.tls_key.clone(),
        client_ca: (!sec.tls_client_ca.as_os_str().is_empty()).then(|| sec.tls_client_ca.clone()),
        require_client_cert: sec.tls_require_client_cert,
    };
    Ok(Some(
        sextant_server::tls::server_config(&files).context("TLS configuration")?,
    ))
}
