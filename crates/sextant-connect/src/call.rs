//! Calls: a request built from validated arguments only, and its execution against the
//! connector's base URL and nowhere else.
//!
//! Invariants:
//! * Arguments are checked against the operation's JSON Schema before anything is built; the
//!   URL is the base URL, the operation's path with its variables percent-encoded, and the
//!   query — nothing in the arguments can change the scheme, host or path prefix.
//! * Redirects are not followed; the response is read up to the connector's size limit and
//!   within its timeout.
//! * The secret of [`crate::Auth`] is read when the call runs and added to the outgoing
//!   request only: a [`Request`] (what is shown, stored and audited) never holds it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, Instant};

use crate::openapi::{In, Operation};
use crate::Connector;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{connector} has no operation {operation:?} this user may call")]
    UnknownOperation {
        connector: String,
        operation: String,
    },
    #[error("arguments do not match {operation}: {}", errors.join("; "))]
    Invalid {
        operation: String,
        errors: Vec<String>,
    },
    #[error("{connector}: {message}")]
    Failed { connector: String, message: String },
}

/// A call as it will be (or was) sent, without credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub connector: String,
    pub operation: String,
    pub method: String,
    pub url: String,
    /// Header parameters of the operation (never the connector's credentials).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The media type of `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// What the system answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The body: JSON when it parses, else a string (empty for no body).
    pub body: Value,
    pub bytes: usize,
    pub duration_ms: f64,
}

impl Response {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Checks `arguments` against `op`'s schema: every violation, with where it is.
pub fn validate(op: &Operation, arguments: &Value) -> Result<(), CallError> {
    check(&op.arguments, arguments).map_err(|errors| CallError::Invalid {
        operation: op.id.clone(),
        errors,
    })
}

/// Checks `value` against the JSON Schema `schema`: every violation, with where it is.
pub fn check(schema: &Value, value: &Value) -> Result<(), Vec<String>> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| vec![format!("the schema is not usable: {e}")])?;
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| {
            let at = e.instance_path.to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The request for `operation` of `c` with `arguments`, after [`validate`].
pub fn prepare(c: &Connector, operation: &str, arguments: &Value) -> Result<Request, CallError> {
    let op = c
        .operation(operation)
        .ok_or_else(|| CallError::UnknownOperation {
            connector: c.name().to_string(),
            operation: operation.to_string(),
        })?;
    validate(op, arguments)?;
    let arg = |name: &str| arguments.get(name).filter(|v| !v.is_null());
    let mut path = op.path.clone();
    let mut query: Vec<(String, String)> = Vec::new();
    let mut headers = Vec::new();
    for p in &op.params {
        let Some(v) = arg(&p.name) else { continue };
        match p.location {
            In::Path => {
                let s = scalar(v);
                // "." and ".." would climb the path once the URL is normalised.
                if s.is_empty() || s == "." || s == ".." {
                    return Err(CallError::Invalid {
                        operation: op.id.clone(),
                        errors: vec![format!("/{}: {s:?} is not a path segment", p.name)],
                    });
                }
                path = path.replace(&format!("{{{}}}", p.name), &encode(&s));
            }
            In::Query => match v {
                Value::Array(items) if p.explode => {
                    query.extend(items.iter().map(|i| (p.name.clone(), scalar(i))));
                }
                Value::Array(items) => query.push((
                    p.name.clone(),
                    items.iter().map(scalar).collect::<Vec<_>>().join(","),
                )),
                v => query.push((p.name.clone(), scalar(v))),
            },
            In::Header => headers.push((p.name.clone(), scalar(v))),
        }
    }
    let mut url = format!("{}{path}", c.settings.base_url);
    for (i, (k, v)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&encode(k));
        url.push('=');
        url.push_str(&encode(v));
    }
    let body = op.body.as_ref().and_then(|_| arg("body").cloned());
    Ok(Request {
        connector: c.name().to_string(),
        operation: op.id.clone(),
        method: op.method.clone(),
        url,
        headers,
        content_type: body.as_ref().and(op.body.clone()),
        body,
    })
}

/// A value as it goes into a URL or header: strings as they are, other JSON as JSON.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The connector's TLS settings for ureq: its CA instead of the public roots, its client
/// certificate.
fn tls_config(c: &Connector) -> Result<ureq::tls::TlsConfig, String> {
    use ureq::tls::{parse_pem, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};
    let mut b = TlsConfig::builder();
    let Some(t) = &c.settings.tls else {
        return Ok(b.build());
    };
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let certs = |p: &std::path::Path| -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
        let pem = read(p)?;
        let certs: Vec<_> = parse_pem(&pem)
            .filter_map(|i| match i {
                Ok(PemItem::Certificate(c)) => Some(c.to_owned()),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(format!("{}: no PEM certificate", p.display()));
        }
        Ok(certs)
    };
    if let Some(ca) = &t.ca_file {
        b = b.root_certs(RootCerts::new_with_certs(&certs(ca)?));
    }
    if let (Some(cert), Some(key)) = (&t.client_cert, &t.client_key) {
        let key =
            PrivateKey::from_pem(&read(key)?).map_err(|e| format!("{}: {e}", key.display()))?;
        b = b.client_cert(Some(ClientCert::new_with_certs(&certs(cert)?, key)));
    }
    Ok(b.build())
}

/// Sends `req` with the connector's credentials and reads the answer.
pub fn execute(c: &Connector, req: &Request) -> Result<Response, CallError> {
    let failed = |message: String| CallError::Failed {
        connector: c.name().to_string(),
        message,
    };
    // Built by `prepare` from this connector; checked again, since a stored request is data.
    let base = &c.settings.base_url;
    if req.connector != c.name()
        || !(req.url == *base
            || req.url.starts_with(&format!("{base}/"))
            || req.url.starts_with(&format!("{base}?")))
    {
        return Err(failed(format!(
            "{} is not under the connector's base URL",
            req.url
        )));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls_config(c).map_err(failed)?)
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(c.settings.timeout_secs)))
        .user_agent("sextant")
        .build()
        .into();
    let mut b = ureq::http::Request::builder()
        .method(req.method.as_str())
        .uri(req.url.as_str())
        .header(
            "accept",
            "application/json, application/geo+json;q=0.9, */*;q=0.1",
        );
    for (k, v) in &req.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    if let Some(auth) = &c.settings.auth {
        let secret = crate::config::read_secret(auth).map_err(failed)?;
        b = b.header(
            auth.header.as_str(),
            format!("{}{}", auth.value_prefix, secret),
        );
    }
    let body = match &req.body {
        Some(v) => {
            b = b.header(
                "content-type",
                req.content_type.as_deref().unwrap_or("application/json"),
            );
            serde_json::to_vec(v).expect("JSON values serialize")
        }
        None => Vec::new(),
    };
    let request = b
        .body(body)
        .map_err(|e| failed(format!("bad request: {e}")))?;
    let t = Instant::now();
    let mut resp = agent.run(request).map_err(|e| failed(e.to_string()))?;
    let status = resp.status().as_u16();
    if (300..400).contains(&status) {
        let to = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or("elsewhere")
            .to_string();
        return Err(failed(format!(
            "answered {status}, a redirect to {to}; redirects are not followed"
        )));
    }
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let limit = c.settings.max_response_bytes as u64;
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => {
                failed(format!("the response is larger than {limit} bytes"))
            }
            e => failed(e.to_string()),
        })?;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(Response {
        status,
        content_type,
        body,
        bytes: bytes.len(),
        duration_ms: t.elapsed().as_secs_f64() * 1e3,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("a b/../c?d=e&f"), "a%20b%2F..%2Fc%3Fd%3De%26f");
        assert_eq!(encode("Zürich"), "Z%C3%BCrich");
    }
}
