//! `sextant connectors`: the connected systems configured, what they allow, whether they answer.

use crate::*;
use sextant_connect::Connector;

pub(crate) fn connectors(
    s: &Settings,
    as_user: Option<&str>,
    cmd: ConnectorsCommand,
) -> Result<i32> {
    let session = session(s, as_user)?;
    let dir = s.connectors_dir();
    let (all, errors) = sextant_connect::load_dir(&dir);
    let usable = sextant_app::act::connectors_for(&session, &all);
    let find = |name: &str| -> Result<&Connector> {
        usable
            .iter()
            .copied()
            .find(|c| c.name() == name)
            .with_context(|| format!("no connector {name:?} in {}", dir.display()))
    };
    match cmd {
        ConnectorsCommand::List { json } => {
            if json {
                let rows: Vec<serde_json::Value> = usable
                    .iter()
                    .map(|c| {
                        serde_json::json!({"name": c.name(), "marking": c.settings.marking.banner(),
                            "base_url": c.settings.base_url, "operations": c.operations.len(),
                            "roles": c.settings.roles})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<20} {:<24} {:>4}  BASE URL", "NAME", "MARKING", "OPS");
                for c in &usable {
                    println!(
                        "{:<20} {:<24} {:>4}  {}",
                        c.name(),
                        c.settings.marking.banner(),
                        c.operations.len(),
                        c.settings.base_url
                    );
                }
            }
            // Broken connectors name files and say nothing of markings: administrators only.
            if session.is_admin() {
                for e in &errors {
                    eprintln!("error: {e}");
                }
            }
            Ok(if errors.is_empty() || !session.is_admin() {
                0
            } else {
                2
            })
        }
        ConnectorsCommand::Show { name, json } => {
            let c = find(&name)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "name": c.name(), "marking": c.settings.marking.banner(),
                        "base_url": c.settings.base_url, "operations": c.operations,
                    }))?
                );
            } else {
                println!(
                    "{} ({}) at {}",
                    c.name(),
                    c.settings.marking.banner(),
                    c.settings.base_url
                );
                for o in &c.operations {
                    let confirm = if o.read_only() {
                        ""
                    } else {
                        "  [asks for confirmation]"
                    };
                    println!("  {:<7} {:<50} {}{confirm}", o.method, o.path, o.id);
                    if !o.summary.is_empty() {
                        println!("          {}", o.summary);
                    }
                }
            }
            Ok(0)
        }
        ConnectorsCommand::Check { name } => {
            let c = find(&name)?;
            println!(
                "{}: the OpenAPI document reads; {} operations allowed",
                c.name(),
                c.operations.len()
            );
            match reach(&c.settings.base_url, c.settings.timeout_secs) {
                Ok(status) => {
                    println!("{}: {} answers ({status})", c.name(), c.settings.base_url);
                    Ok(0)
                }
                Err(e) => {
                    eprintln!(
                        "error: {}: {} does not answer: {e}",
                        c.name(),
                        c.settings.base_url
                    );
                    Ok(1)
                }
            }
        }
    }
}

/// Whether the system at `base_url` answers: an HTTP `GET` of the base URL (its status line)
/// for `http://`, a TCP connection for `https://`.
fn reach(base_url: &str, timeout_secs: u64) -> Result<String> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let (https, rest) = match base_url.split_once("://") {
        Some(("https", r)) => (true, r),
        Some((_, r)) => (false, r),
        None => anyhow::bail!("not a URL"),
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:{}", if https { 443 } else { 80 })
    };
    let timeout = Duration::from_secs(timeout_secs);
    let addr = with_port
        .to_socket_addrs()?
        .next()
        .with_context(|| format!("{authority} resolves to no address"))?;
    let mut tcp = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    if https {
        return Ok("TCP connection; TLS not checked".into());
    }
    tcp.set_read_timeout(Some(timeout))?;
    write!(
        tcp,
        "GET /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 256];
    let n = tcp.read(&mut head)?;
    let line = String::from_utf8_lossy(&head[..n]);
    let status = line.lines().next().unwrap_or("").trim().to_string();
    anyhow::ensure!(status.starts_with("HTTP/"), "no HTTP answer");
    Ok(status)
}
