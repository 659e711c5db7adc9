//! `sextant_server::tls` over real sockets on 127.0.0.1: certificates are generated with rcgen
//! at test time, and requests are raw HTTP/1.1 written through a tokio-rustls client.

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::{Extension, Router};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use sextant_server::tls::{fingerprint, serve_tls, server_config, ClientCert, TlsError, TlsFiles};
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

/// Upper bound for any single network step, so a regression hangs no test run.
const STEP: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- certificates

struct Ca {
    cert: Certificate,
    key: KeyPair,
}

fn new_ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Distinct names, so "wrong CA" fails on trust, not on a name collision.
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("CA cert");
    Ca { cert, key }
}

/// A leaf certificate signed by `ca`, with its own key.
fn new_leaf(ca: &Ca, name: &str, eku: ExtendedKeyUsagePurpose) -> (Certificate, KeyPair) {
    let mut params = CertificateParams::new(vec![name.to_string()]).expect("leaf params");
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    if eku == ExtendedKeyUsagePurpose::ServerAuth {
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
    params.extended_key_usages = vec![eku];
    let key = KeyPair::generate().expect("leaf key");
    let cert = params
        .signed_by(&key, &ca.cert, &ca.key)
        .expect("leaf cert");
    (cert, key)
}

/// A client identity as tokio-rustls wants it.
struct Identity {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn identity(cert: &Certificate, key: &KeyPair) -> Identity {
    Identity {
        cert: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// Everything a test needs, written to a temp dir as PEM.
struct Pki {
    dir: TempDir,
    ca_cert: CertificateDer<'static>,
    /// Server cert for "localhost" / 127.0.0.1, signed by the CA.
    server_cert: PathBuf,
    server_key: PathBuf,
    /// The CA, as the client-CA bundle.
    ca_pem: PathBuf,
    server_key_pair: KeyPair,
    /// Client cert signed by the CA.
    client: Identity,
    /// Client cert signed by an unrelated CA.
    stranger: Identity,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = new_ca("sextant test CA");
        let (server, server_key_pair) =
            new_leaf(&ca, "localhost", ExtendedKeyUsagePurpose::ServerAuth);
        let (client, client_key) = new_leaf(&ca, "alice", ExtendedKeyUsagePurpose::ClientAuth);
        let other_ca = new_ca("some other CA");
        let (stranger, stranger_key) =
            new_leaf(&other_ca, "mallory", ExtendedKeyUsagePurpose::ClientAuth);

        let pki = Pki {
            server_cert: dir.path().join("server.crt"),
            server_key: dir.path().join("server.key"),
            ca_pem: dir.path().join("ca.crt"),
            ca_cert: ca.cert.der().clone(),
            client: identity(&client, &client_key),
            stranger: identity(&stranger, &stranger_key),
            server_key_pair,
            dir,
        };
        write(&pki.server_cert, &server.pem());
        write(&pki.server_key, &pki.server_key_pair.serialize_pem());
        write(&pki.ca_pem, &ca.cert.pem());
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn files(&self, client_ca: bool, require_client_cert: bool) -> TlsFiles {
        TlsFiles {
            cert: self.server_cert.clone(),
            key: self.server_key.clone(),
            client_ca: client_ca.then(|| self.ca_pem.clone()),
            require_client_cert,
        }
    }

    fn config(&self, client_ca: bool, require_client_cert: bool) -> Arc<ServerConfig> {
        server_config(&self.files(client_ca, require_client_cert)).expect("server config")
    }

    /// A client trusting the test CA, optionally presenting `identity`.
    fn client(&self, identity: Option<&Identity>, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        self.client_with_versions(identity, alpn, rustls::DEFAULT_VERSIONS)
    }

    fn client_with_versions(
        &self,
        identity: Option<&Identity>,
        alpn: &[&[u8]],
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_cert.clone()).expect("add root");
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(versions)
                .expect("client versions")
                .with_root_certificates(roots);
        let mut config = match identity {
            Some(id) => builder
                .with_client_auth_cert(vec![id.cert.clone()], id.key.clone_key())
                .expect("client cert"),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents).expect("write test file");
}

// ---------------------------------------------------------------- server

/// Answers "<peer address> <client cert fingerprint or none>".
fn app() -> Router {
    Router::new()
        .route(
            "/",
            get(
                |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                 cert: Option<Extension<ClientCert>>| async move {
                    let who = cert.map_or_else(|| "none".to_string(), |Extension(c)| c.fingerprint);
                    format!("{peer} {who}")
                },
            ),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "slow done"
            }),
        )
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    async fn start(config: Arc<ServerConfig>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_tls(listener, app(), config, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            task,
        }
    }

    fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Triggers shutdown and waits (bounded) for `serve_tls` to return.
    async fn shutdown_within(mut self, limit: Duration) {
        self.begin_shutdown();
        let result = tokio::time::timeout(limit, self.task)
            .await
            .expect("serve_tls did not return after shutdown")
            .expect("serve_tls panicked");
        result.expect("serve_tls returned an error");
    }
}

// ---------------------------------------------------------------- client

async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {STEP:?}"))
}

async fn tls_connect(
    addr: SocketAddr,
    client: Arc<ClientConfig>,
) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("server name");
    TlsConnector::from(client).connect(name, tcp).await
}

/// One `GET path` over a fresh TLS connection: (client's local address, raw response).
async fn get_raw(
    addr: SocketAddr,
    client: Arc<ClientConfig>,
    path: &str,
) -> io::Result<(SocketAddr, String)> {
    bounded("a TLS request", async {
        let mut tls = tls_connect(addr, client).await?;
        let local = tls.get_ref().0.local_addr()?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        tls.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        tls.read_to_end(&mut response).await?;
        Ok((local, String::from_utf8_lossy(&response).into_owned()))
    })
    .await
}

/// A request that must succeed with 200: returns (client's local address, body).
async fn get_ok(addr: SocketAddr, client: Arc<ClientConfig>, path: &str) -> (SocketAddr, String) {
    let (local, response) = get_raw(addr, client, path)
        .await
        .expect("TLS request failed");
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "unexpected response: {response:?}"
    );
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (local, body)
}

/// A request that must not produce an HTTP response (handshake or I/O failure).
async fn assert_rejected(addr: SocketAddr, client: Arc<ClientConfig>) {
    match get_raw(addr, client, "/").await {
        Err(_) => {}
        Ok((_, response)) => assert!(
            !response.starts_with("HTTP/"),
            "expected the connection to be rejected, got {response:?}"
        ),
    }
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn plain_tls_serves_with_peer_address_and_no_client_cert() {
    let pki = Pki::new();
    let server = Server::start(pki.config(false, false)).await;

    let (local, body) = get_ok(server.addr, pki.client(None, &[]), "/").await;
    assert_eq!(body, format!("{local} none"));

    // Without a client CA the server never asks for a certificate, so one offered anyway
    // is not reported.
    let (local, body) = get_ok(server.addr, pki.client(Some(&pki.client), &[]), "/").await;
    assert_eq!(body, format!("{local} none"));

    server.shutdown_within(STEP).await;
}

#[tokio::test]
async fn optional_client_cert_is_reported_by_fingerprint() {
    let pki = Pki::new();
    let server = Server::start(pki.config(true, false)).await;

    let (local, body) = get_ok(server.addr, pki.client(Some(&pki.client), &[]), "/").await;
    assert_eq!(body, format!("{local} {}", fingerprint(&pki.client.cert)));

    let (local, body) = get_ok(server.addr, pki.client(None, &[]), "/").await;
    assert_eq!(body, format!("{local} none"));

    server.shutdown_within(STEP).await;
}

#[tokio::test]
async fn optional_client_cert_from_unknown_ca_is_still_rejected() {
    let pki = Pki::new();
    let server = Server::start(pki.config(true, false)).await;
    assert_rejected(server.addr, pki.client(Some(&pki.stranger), &[])).await;
    server.shutdown_within(STEP).await;
}

#[tokio::test]
async fn required_client_cert_rejects_missing_and_foreign_certs() {
    let pki = Pki::new();
    let server = Server::start(pki.config(true, true)).await;

    assert_rejected(server.addr, pki.client(None, &[])).await;
    assert_rejected(server.addr, pki.client(Some(&pki.stranger), &[])).await;

    // The failures above did not take the server down, and a good client still gets in.
    let (local, body) = get_ok(server.addr, pki.client(Some(&pki.client), &[]), "/").await;
    assert_eq!(body, format!("{local} {}", fingerprint(&pki.client.cert)));

    server.shutdown_within(STEP).await;
}

#[tokio::test]
async fn plaintext_http_gets_no_response_and_server_keeps_serving() {
    let pki = Pki::new();
    let server = Server::start(pki.config(false, false)).await;

    let response = bounded("a plaintext request", async {
        let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut response = Vec::new();
        // A reset is as good as a close here: either way no HTTP came back.
        let _ = tcp.read_to_end(&mut response).await;
        response
    })
    .await;
    assert!(
        !response.starts_with(b"HTTP/"),
        "plaintext request got an HTTP response: {:?}",
        String::from_utf8_lossy(&response)
    );

    let (local, body) = get_ok(server.addr, pki.client(None, &[]), "/").await;
    assert_eq!(body, format!("{local} none"));
    server.shutdown_within(STEP).await;
}

#[tokio::test]
async fn a_silent_client_does_not_block_others() {
    let pki = Pki::new();
    let server = Server::start(pki.config(false, false)).await;

    // Connects and never starts the handshake.
    let _silent = TcpStream::connect(server.addr).await.expect("connect");
    let (local, body) = get_ok(server.addr, pki.client(None, &[]), "/").await;
    assert_eq!(body, format!("{local} none"));

    // Shutdown does not wait out the silent client's handshake timeout.
    server.shutdown_within(Duration::from_secs(3)).await;
}

#[tokio::test]
async fn alpn_offers_h2_and_http11() {
    let pki = Pki::new();
    let config = pki.config(false, false);
    assert_eq!(
        config.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    let server = Server::start(config).await;

    // An HTTP/1.1-only client gets HTTP/1.1.
    let tls = bounded(
        "TLS connect",
        tls_connect(server.addr, pki.client(None, &[b"http/1.1"])),
    )
    .await
    .expect("connect");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    drop(tls);

    // A client preferring h2 gets it, and the server really speaks HTTP/2: after the
    // connection preface it answers with a SETTINGS frame (type 0x4).
    let mut tls = bounded(
        "TLS connect",
        tls_connect(server.addr, pki.client(None, &[b"h2", b"http/1.1"])),
    )
    .await
    .expect("connect");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    preface.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]); // empty SETTINGS
    let mut frame_header = [0u8; 9];
    bounded("HTTP/2 preface exchange", async {
        tls.write_all(&preface).await?;
        tls.read_exact(&mut frame_header).await
    })
    .await
    .expect("HTTP/2 exchange");
    assert_eq!(frame_header[3], 0x4, "first server frame is not SETTINGS");
    drop(tls);

    server.shutdown_within(STEP).await;
}

#[tokio::test]
async fn tls12_and_tls13_are_both_accepted() {
    let pki = Pki::new();
    let server = Server::start(pki.config(true, true)).await;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let client = pki.client_with_versions(Some(&pki.client), &[], &[version]);
        let (local, body) = get_ok(server.addr, client, "/").await;
        assert_eq!(body, format!("{local} {}", fingerprint(&pki.client.cert)));
    }
    server.shutdown_within(STEP).await;
}

#[tokio::test]
async fn shutdown_returns_and_stops_accepting() {
    let pki = Pki::new();
    let server = Server::start(pki.config(false, false)).await;
    let addr = server.addr;
    get_ok(addr, pki.client(None, &[]), "/").await;

    server.shutdown_within(STEP).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is still accepting after shutdown"
    );
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let pki = Pki::new();
    let mut server = Server::start(pki.config(false, false)).await;

    let slow = tokio::spawn(get_raw(server.addr, pki.client(None, &[]), "/slow"));
    // Let the request reach the handler (it sleeps 500 ms) before shutting down.
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.begin_shutdown();

    let (_, response) = slow.await.expect("join").expect("slow request failed");
    assert!(response.starts_with("HTTP/1.1 200"), "{response:?}");
    assert!(response.ends_with("slow done"), "{response:?}");
    server.shutdown_within(STEP).await;
}

// ---------------------------------------------------------------- configuration errors

fn config_error(files: &TlsFiles) -> (TlsError, String) {
    let err = server_config(files).expect_err("config should be rejected");
    let message = err.to_string();
    (err, message)
}

#[test]
fn missing_files_are_named() {
    let pki = Pki::new();

    let mut files = pki.files(false, false);
    files.cert = pki.path("nope.crt");
    let (err, message) = config_error(&files);
    assert!(matches!(err, TlsError::Missing { .. }), "{err:?}");
    assert!(
        message.contains("nope.crt") && message.contains("does not exist"),
        "{message}"
    );

    let mut files = pki.files(false, false);
    files.key = pki.path("nope.key");
    let (_, message) = config_error(&files);
    assert!(
        message.contains("nope.key") && message.contains("does not exist"),
        "{message}"
    );

    let mut files = pki.files(true, false);
    files.client_ca = Some(pki.path("nope-ca.crt"));
    let (_, message) = config_error(&files);
    assert!(
        message.contains("nope-ca.crt") && message.contains("does not exist"),
        "{message}"
    );
}

#[test]
fn files_without_the_expected_contents_are_named() {
    let pki = Pki::new();

    // A key file holding only a certificate.
    let mut files = pki.files(false, false);
    files.key = pki.server_cert.clone();
    let (err, message) = config_error(&files);
    assert!(matches!(err, TlsError::NoPrivateKey { .. }), "{err:?}");
    assert!(
        message.contains("server.crt") && message.contains("no private key"),
        "{message}"
    );

    // A certificate file holding only a key.
    let mut files = pki.files(false, false);
    files.cert = pki.server_key.clone();
    let (err, message) = config_error(&files);
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
    assert!(
        message.contains("server.key") && message.contains("no certificate"),
        "{message}"
    );

    // A client CA file that is not PEM at all.
    let junk = pki.path("junk.crt");
    write(&junk, "this is not a certificate\n");
    let mut files = pki.files(true, false);
    files.client_ca = Some(junk);
    let (err, message) = config_error(&files);
    assert!(matches!(err, TlsError::NoClientCa { .. }), "{err:?}");
    assert!(message.contains("junk.crt"), "{message}");

    // Truncated PEM (no END line).
    let truncated = pki.path("truncated.crt");
    let pem = std::fs::read_to_string(&pki.server_cert).expect("read cert");
    write(&truncated, &pem[..pem.len() / 2]);
    let mut files = pki.files(false, false);
    files.cert = truncated;
    let (err, message) = config_error(&files);
    assert!(matches!(err, TlsError::Pem { .. }), "{err:?}");
    assert!(message.contains("truncated.crt"), "{message}");
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_rejected() {
    let pki = Pki::new();
    let other_key = pki.path("other.key");
    write(
        &other_key,
        &KeyPair::generate().expect("key").serialize_pem(),
    );
    let mut files = pki.files(false, false);
    files.key = other_key;
    let (err, message) = config_error(&files);
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
    assert!(
        message.contains("other.key")
            && message.contains("server.crt")
            && message.contains("does not match"),
        "{message}"
    );
}

#[test]
fn require_client_cert_without_a_ca_is_rejected() {
    let pki = Pki::new();
    let (err, _) = config_error(&pki.files(false, true));
    assert!(
        matches!(err, TlsError::RequireClientCertWithoutCa),
        "{err:?}"
    );
}

#[tokio::test]
async fn sec1_keys_are_accepted() {
    let pki = Pki::new();
    let sec1 = pkcs8_to_sec1(&pki.server_key_pair.serialize_der());
    let sec1_path = pki.path("server-sec1.key");
    write(&sec1_path, &pem("EC PRIVATE KEY", &sec1));
    let mut files = pki.files(false, false);
    files.key = sec1_path;
    let server = Server::start(server_config(&files).expect("SEC1 key rejected")).await;
    get_ok(server.addr, pki.client(None, &[]), "/").await;
    server.shutdown_within(STEP).await;
}

#[test]
fn fingerprint_is_lowercase_hex_sha256() {
    assert_eq!(
        fingerprint(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        fingerprint(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

// ---------------------------------------------------------------- DER/PEM helpers

/// Splits one DER TLV off `input`: (tag, value, rest).
fn der_tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, header) = if input[1] < 0x80 {
        (usize::from(input[1]), 2)
    } else {
        let n = usize::from(input[1] & 0x7f);
        let len = input[2..2 + n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + n)
    };
    (tag, &input[header..header + len], &input[header + len..])
}

/// The SEC1 `ECPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (its privateKey OCTET STRING).
fn pkcs8_to_sec1(pkcs8: &[u8]) -> Vec<u8> {
    let (tag, info, _) = der_tlv(pkcs8);
    assert_eq!(tag, 0x30, "PrivateKeyInfo is a SEQUENCE");
    let (tag, _version, rest) = der_tlv(info);
    assert_eq!(tag, 0x02, "version INTEGER");
    let (tag, _algorithm, rest) = der_tlv(rest);
    assert_eq!(tag, 0x30, "AlgorithmIdentifier SEQUENCE");
    let (tag, private_key, _) = der_tlv(rest);
    assert_eq!(tag, 0x04, "privateKey OCTET STRING");
    private_key.to_vec()
}

fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
