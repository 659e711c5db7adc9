//! `sextant serve` over TLS with client certificates, through the real binary: the settings'
//! `[security]` TLS paths, `sextant users add --cert`, and a certificate that logs in as its user.

mod common;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

fn leaf(ca: &Certificate, ca_key: &KeyPair, name: &str, server: bool) -> (Certificate, KeyPair) {
    let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    if server {
        p.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    } else {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    }
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, ca, ca_key).unwrap();
    (cert, key)
}

/// One HTTPS request; returns the status code (0 when the connection fails).
fn get(
    addr: &str,
    ca: &CertificateDer<'static>,
    client: Option<(&Certificate, &KeyPair)>,
    token: Option<&str>,
) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1").unwrap())
            .unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    if write!(
        tls,
        "GET /readyz HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
    )
    .is_err()
    {
        return 0;
    }
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn write(dir: &Path, name: &str, pem: String) -> String {
    let p = dir.join(name);
    std::fs::write(&p, pem).unwrap();
    p.display().to_string()
}

#[test]
fn mutual_tls_certificates_log_in_as_their_users() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Sextant test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let (server, server_key) = leaf(&ca, &ca_key, "localhost", true);
    let (alice, alice_key) = leaf(&ca, &ca_key, "alice", false);
    let (mallory, mallory_key) = leaf(&ca, &ca_key, "mallory", false);
    let ca_path = write(dir, "ca.pem", ca.pem());
    let cert_path = write(dir, "server.pem", server.pem());
    let key_path = write(dir, "server.key", server_key.serialize_pem());
    let alice_path = write(dir, "alice.pem", alice.pem());
    let config = dir.join("sextant.toml");
    std::fs::write(
        &config,
        format!(
            "[security]\ntls_cert = \"{cert_path}\"\ntls_key = \"{key_path}\"\ntls_client_ca = \"{ca_path}\"\n"
        ),
    )
    .unwrap();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let fixture = common::repo().join("tests/data/fixtures/mongolia.md");
    let cfg = config.to_str().unwrap();
    common::ok(
        &data,
        &["--config", cfg, "ingest", fixture.to_str().unwrap()],
    );
    let added = common::ok(
        &data,
        &[
            "--config",
            cfg,
            "users",
            "add",
            "alice",
            "--clearance",
            "SECRET",
            "--cert",
            &alice_path,
        ],
    );
    let token = added.lines().last().unwrap().to_string();

    let mut child = common::sextant()
        .args(["--data-dir", data.to_str().unwrap(), "--config", cfg])
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server output").unwrap();
        if let Some(a) = line.split("listening on https://").nth(1) {
            break a.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});

    let ca_der = ca.der().clone();
    let results = (
        get(&addr, &ca_der, Some((&alice, &alice_key)), None),
        get(&addr, &ca_der, Some((&mallory, &mallory_key)), None),
        get(&addr, &ca_der, None, None),
        get(&addr, &ca_der, None, Some(&token)),
    );
    // The server as another enclave's connected system over mutual TLS: the connector's
    // private CA and client certificate (alice's) carry the call, which logs in as alice.
    let local = dir.join("local");
    std::fs::create_dir_all(local.join("connectors")).unwrap();
    let alice_key_path = write(dir, "alice.key", alice_key.serialize_pem());
    let spec = common::repo()
        .join("docs/openapi.json")
        .display()
        .to_string();
    std::fs::write(
        local.join("connectors/partner.toml"),
        format!(
            "spec = {spec:?}\nbase_url = \"https://{addr}\"\nmarking = \"SECRET\"\n\
             allow = [\"search\"]\nsafe = [\"search\"]\n\n[tls]\nca_file = {ca_path:?}\n\
             client_cert = {alice_path:?}\nclient_key = {alice_key_path:?}\n"
        ),
    )
    .unwrap();
    let lcfg = local.join("sextant.toml");
    std::fs::write(&lcfg, "").unwrap();
    let ldata = local.join("data");
    let note = local.join("note.md");
    std::fs::write(&note, "# Note\n\nLocal store.\n").unwrap();
    let lc = lcfg.to_str().unwrap();
    common::ok(
        &ldata,
        &[
            "--config",
            lc,
            "ingest",
            note.to_str().unwrap(),
            "--no-embed",
        ],
    );
    let a: serde_json::Value = serde_json::from_str(&common::ok(
        &ldata,
        &[
            "--config",
            lc,
            "act",
            "Search the partner documents for the capital of Mongolia",
            "--json",
        ],
    ))
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(a["status"], "executed", "{a:#}");
    assert_eq!(a["calls"][0]["status"], 200, "{a:#}");
    assert!(a["answer"].as_str().unwrap().contains("Mongolia"), "{a:#}");
    assert_eq!(a["marking"], "SECRET", "{a:#}");
    assert_eq!(
        results,
        (200, 401, 401, 200),
        "alice's certificate logs in; a certificate of no user, or none, is 401; a token over TLS works"
    );
}
