//! TLS for the HTTP API: loading PEM files into a rustls config, and serving an axum
//! router over TLS with optional mutual TLS (client certificates mapped to users by
//! their SHA-256 fingerprint).
//!
//! `axum::serve` only speaks plain TCP, so [`serve_tls`] is a small accept loop of its
//! own: rustls handshake, then hyper-util's auto (HTTP/1.1 + HTTP/2) connection, with the
//! same `ConnectInfo<SocketAddr>` extension axum's `serve` would add.

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::server::WebPkiClientVerifier;
use rustls::{InconsistentKeys, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// A client that has not finished its handshake by then is dropped, so idle or slow
/// sockets cannot pin tasks and file descriptors forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long in-flight connections get to finish after shutdown before they are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Where the server's TLS material lives (all PEM).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key of the leaf: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub key: PathBuf,
    /// CA bundle; when set, client certificates are requested and verified against it.
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: reject handshakes without a client certificate. Without it, a
    /// client certificate is optional (but still verified when presented).
    pub require_client_cert: bool,
}

/// Why the TLS configuration could not be built. Every message names the file at fault.
#[derive(thiserror::Error, Debug)]
pub enum TlsError {
    #[error("{what} file {} does not exist", .path.display())]
    Missing { what: &'static str, path: PathBuf },
    #[error("cannot read {what} file {}: {source}", .path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{what} file {} is not valid PEM: {source}", .path.display())]
    Pem {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error(
        "certificate file {} contains no certificate (expected a PEM \"BEGIN CERTIFICATE\" block)",
        .path.display()
    )]
    NoCertificate { path: PathBuf },
    #[error(
        "key file {} contains no private key (expected a PEM \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" block)",
        .path.display()
    )]
    NoPrivateKey { path: PathBuf },
    #[error(
        "the private key in {} does not match the certificate in {}",
        .key.display(), .cert.display()
    )]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error(
        "cannot use the certificate in {} with the key in {}: {source}",
        .cert.display(), .key.display()
    )]
    CertKey {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error(
        "client CA file {} contains no certificate (expected a PEM \"BEGIN CERTIFICATE\" block)",
        .path.display()
    )]
    NoClientCa { path: PathBuf },
    #[error(
        "client CA file {}: certificate #{index} is not a usable CA certificate: {source}",
        .path.display()
    )]
    BadClientCa {
        path: PathBuf,
        /// 1-based position of the offending certificate in the bundle.
        index: usize,
        #[source]
        source: rustls::Error,
    },
    #[error("client CA file {}: {source}", .path.display())]
    ClientVerifier {
        path: PathBuf,
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    /// Refused rather than ignored: an operator who asked for mandatory client
    /// certificates must not silently get a server that accepts anyone.
    #[error("require_client_cert is set but no client CA file is configured to verify client certificates against")]
    RequireClientCertWithoutCa,
    #[error("TLS configuration: {0}")]
    Config(#[source] rustls::Error),
}

/// Builds the rustls server config: TLS 1.2 and 1.3 only (rustls defaults), ALPN h2 +
/// http/1.1, the ring provider installed explicitly (not process-default).
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    // Explicit provider: relying on the process-wide default would panic (or pick a
    // different provider) depending on what other crates in the binary install.
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    let certs = load_certs(&files.cert, "certificate")?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key = load_key(&files.key)?;

    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?;

    let builder = match &files.client_ca {
        None if files.require_client_cert => return Err(TlsError::RequireClientCertWithoutCa),
        None => builder.with_no_client_auth(),
        Some(ca_path) => {
            let ca_certs = load_certs(ca_path, "client CA")?;
            if ca_certs.is_empty() {
                return Err(TlsError::NoClientCa {
                    path: ca_path.clone(),
                });
            }
            let mut roots = RootCertStore::empty();
            for (i, ca) in ca_certs.into_iter().enumerate() {
                roots.add(ca).map_err(|source| TlsError::BadClientCa {
                    path: ca_path.clone(),
                    index: i + 1,
                    source,
                })?;
            }
            let mut verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            if !files.require_client_cert {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier
                .build()
                .map_err(|source| TlsError::ClientVerifier {
                    path: ca_path.clone(),
                    source,
                })?;
            builder.with_client_cert_verifier(verifier)
        }
    };

    // rustls checks here that the key parses and matches the leaf certificate.
    let mut config = builder.with_single_cert(certs, key).map_err(|source| {
        if matches!(
            source,
            rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)
        ) {
            TlsError::KeyMismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            }
        } else {
            TlsError::CertKey {
                cert: files.cert.clone(),
                key: files.key.clone(),
                source,
            }
        }
    })?;
    // h2 first: clients that can multiplex should; hyper-util's auto builder serves both.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reads a whole file, telling "missing" apart from other I/O failures for the message.
fn read_file(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            TlsError::Missing {
                what,
                path: path.to_owned(),
            }
        } else {
            TlsError::Read {
                what,
                path: path.to_owned(),
                source,
            }
        }
    })
}

/// Every certificate in a PEM file (other sections, e.g. a key, are skipped).
fn load_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_file(path, what)?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            what,
            path: path.to_owned(),
            source,
        })
}

/// The first private key in a PEM file, whatever its encoding.
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read_file(path, "key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|source| match source {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_owned(),
        },
        source => TlsError::Pem {
            what: "key",
            path: path.to_owned(),
            source,
        },
    })
}

/// Lower-case hex SHA-256 of a DER certificate: how a client certificate is mapped to a user.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The verified client certificate of a mutual-TLS connection, inserted into every
/// request's extensions on that connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// [`fingerprint`] of the leaf certificate the client presented.
    pub fingerprint: String,
}

/// Serves `app` over TLS on `listener` until `shutdown` resolves, then stops accepting and
/// lets in-flight connections finish (graceful, bounded to 10 s). Each request carries
/// `axum::extract::ConnectInfo<SocketAddr>` (the peer address, like axum::serve with
/// into_make_service_with_connect_info) and, when the client presented a verified
/// certificate, [`ClientCert`]. A failed handshake is logged at debug and never stops the
/// server. Handshakes time out after 10 s (a slow client cannot hold a task forever).
///
/// Accept errors are logged and retried (like `axum::serve`), so this returns `Ok(())`
/// once shut down.
pub async fn serve_tls(
    listener: TcpListener,
    app: axum::Router,
    config: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
    let mut http = Builder::new(TokioExecutor::new());
    // Without a timer hyper cannot enforce its HTTP/1 header read timeout, and a client
    // that completes the handshake could then trickle headers forever.
    http.http1().timer(TokioTimer::new());
    // `true` once shutdown starts; every connection task watches it.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    connections.spawn(serve_connection(
                        acceptor.clone(),
                        http.clone(),
                        tcp,
                        peer,
                        app.clone(),
                        stop_rx.clone(),
                    ));
                }
                // The peer went away between SYN and accept: nothing to do.
                Err(e) if is_connection_error(&e) => {
                    tracing::debug!(error = %e, "TLS accept: connection error");
                }
                Err(e) => {
                    // E.g. EMFILE: retrying at once would spin the CPU; back off a
                    // little, but stay responsive to shutdown.
                    tracing::error!(error = %e, "TLS accept failed; retrying in 1 s");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            },
            // Reap finished connections so the set does not grow for the server's lifetime.
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                log_join(done);
            }
        }
    }

    // Closing the listener refuses new connections while the old ones drain.
    drop(listener);
    stop_tx.send_replace(true);
    let drain = async {
        while let Some(done) = connections.join_next().await {
            log_join(done);
        }
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!(
            remaining = connections.len(),
            "TLS connections still open after the shutdown grace period; closing them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

fn log_join(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        if e.is_panic() {
            tracing::error!(error = %e, "TLS connection task panicked");
        }
    }
}

/// One connection: handshake (bounded), then HTTP until the client is done or shutdown.
async fn serve_connection(
    acceptor: TlsAcceptor,
    http: Builder<TokioExecutor>,
    tcp: TcpStream,
    peer: SocketAddr,
    app: axum::Router,
    mut stop: watch::Receiver<bool>,
) {
    // Small TLS records (HTTP/2 frames, short responses) should not wait on Nagle.
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
    }

    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
    let tls = tokio::select! {
        done = handshake => match done {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        // No request is in flight yet, so there is nothing to let finish.
        () = stopped(&mut stop) => return,
    };

    // rustls only exposes peer certificates it verified (the verifier fails the
    // handshake otherwise), and none at all when no client CA is configured.
    let client_cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| ClientCert {
            fingerprint: fingerprint(leaf),
        });

    let svc = app.map_request(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        if let Some(cert) = &client_cert {
            req.extensions_mut().insert(cert.clone());
        }
        req
    });
    let conn =
        http.serve_connection_with_upgrades(TokioIo::new(tls), TowerToHyperService::new(svc));
    tokio::pin!(conn);

    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopped(&mut stop) => {
            // Finish the requests in flight, then close (HTTP/2: GOAWAY); serve_tls
            // bounds how long this may take.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "TLS connection ended with an error");
    }
}

/// Resolves once shutdown has begun (or `serve_tls` is gone, which means the same).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The returned guard is dropped here so it is never held across an await.
    let _ = stop.wait_for(|stopping| *stopping).await;
}
