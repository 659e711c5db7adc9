//! Text-to-API (connected systems): a request becomes calls on the connectors the session
//! may use, read-only calls run at once, changing calls wait for their user's confirmation,
//! and results come back as cited answers.
//!
//! Invariants:
//! * A session sees, and the model is offered, only the connectors [`connectors_for`] gives
//!   it; a connector above it and one that does not exist give the same answer.
//! * A call runs only after its arguments validate against the operation's schema; a
//!   changing call (anything but GET and HEAD) runs only on [`confirm`] by the same user,
//!   before it expires.
//! * Every proposal, call, confirmation and denial is audited with the connector, the
//!   operation, the request (never credentials), the status, bytes and duration.

use serde::Serialize;
use serde_json::{json, Value};
use sextant_act::catalogue::{self, cosine, score, words};
use sextant_act::relay::{self, Record};
use sextant_act::tools::{self, Tool};
use sextant_audit::Outcome;
use sextant_auth::Role;
use sextant_connect::call::{self, Request};
use sextant_connect::record::{self, CallRecord, CallState, CallStore};
use sextant_connect::{Connector, Operation};
use sextant_geodata::area::{area_in_text, NamedArea};
use sextant_models::Embedder;
use std::collections::HashMap;
use std::sync::Mutex;

use crate::{banner, check_text, with_text, App, AppError, Result, Session};

/// Operations offered to the model for one request at most (the most relevant).
pub const MAX_TOOLS: usize = 3;

/// How long a pending call may be confirmed, seconds.
pub const PENDING_SECS: u64 = 600;

/// Least probability the model must give to calling at all (BFCL-tuned, docs/act.md).
pub const CALL_THRESHOLD: f32 = 0.5;

/// Least embedding similarity between a request and the operation a call is on, when they
/// share no word (BFCL-tuned on the non-live categories, docs/act.md): below it, the call is
/// not made.
pub const RELEVANCE_FLOOR: f32 = 0.3;

/// The connected systems of a server: the connectors that loaded and the call records.
pub struct Connect {
    pub connectors: Vec<Connector>,
    pub calls: CallStore,
    /// Embeddings of the operations (by `connector/operation`), made on first use.
    vectors: Mutex<HashMap<String, Vec<f32>>>,
}

impl Connect {
    pub fn new(connectors: Vec<Connector>, calls: CallStore) -> Connect {
        Connect {
            connectors,
            calls,
            vectors: Mutex::default(),
        }
    }

    /// Cosine similarity of `request` with each operation of `connectors` (by
    /// `connector/operation`), with `embedder`; empty without one.
    fn similarities(
        &self,
        embedder: Option<&Embedder>,
        request: &str,
        connectors: &[&Connector],
    ) -> Result<HashMap<String, f32>> {
        let Some(e) = embedder else {
            return Ok(HashMap::new());
        };
        let key = |c: &Connector, op: &Operation| format!("{}/{}", c.name(), op.id);
        let mut vectors = self.vectors.lock().unwrap_or_else(|p| p.into_inner());
        let missing: Vec<(String, String)> = connectors
            .iter()
            .flat_map(|c| c.operations.iter().map(move |op| (key(c, op), op_text(op))))
            .filter(|(k, _)| !vectors.contains_key(k))
            .collect();
        if !missing.is_empty() {
            let texts: Vec<String> = missing.iter().map(|(_, t)| t.clone()).collect();
            let made = e.embed(&texts).map_err(AppError::internal)?;
            for ((k, _), v) in missing.into_iter().zip(made) {
                vectors.insert(k, v);
            }
        }
        let q = e.embed_one(request).map_err(AppError::internal)?;
        Ok(connectors
            .iter()
            .flat_map(|c| c.operations.iter().map(move |op| key(c, op)))
            .filter_map(|k| vectors.get(&k).map(|v| (k, cosine(&q, v))))
            .collect())
    }
}

/// What an operation is about, as embedded: its id in words, summary, description and
/// parameter names.
fn op_text(op: &Operation) -> String {
    let mut t = format!(
        "{} {} {}",
        words(&op.id).join(" "),
        op.summary,
        op.description
    );
    for p in &op.params {
        t.push(' ');
        t.push_str(&p.name);
    }
    t.chars().take(1000).collect()
}

/// The connectors `s` may use, and so know of: those whose marking they may see, with one of
/// the connector's roles (administrators: every connector within their access). Users below a
/// connector's marking never learn it exists.
pub fn connectors_for<'a>(s: &Session, all: &'a [Connector]) -> Vec<&'a Connector> {
    all.iter()
        .filter(|c| s.viewer.may_see(&c.settings.marking.banner()))
        .filter(|c| s.is_admin() || c.settings.roles.iter().any(|r| s.roles.contains(r)))
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct ActInput {
    pub request: String,
    /// Only these connectors (by name); all the session may use when empty.
    pub connectors: Vec<String>,
    pub model: Option<String>,
}

/// One call as its user sees it.
#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    pub id: String,
    pub state: CallState,
    pub connector: String,
    pub operation: String,
    pub method: String,
    pub url: String,
    pub arguments: Value,
    pub summary: String,
    pub marking: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// Unix seconds after which a pending call can no longer be confirmed.
    pub expires: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `act` (and `confirm`) answer.
#[derive(Debug, Clone, Serialize)]
pub struct Acted {
    /// "executed", "pending", "no_call" or "refused".
    pub status: &'static str,
    pub calls: Vec<CallView>,
    pub answer: String,
    pub citations: Vec<Value>,
    pub marking: String,
    /// The model's probability of calling at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_probability: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Where the time went, milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<ActTimings>,
}

/// Where the time of one request went, milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActTimings {
    /// Reading the prompt (catalogue and request).
    pub prefill_ms: f64,
    /// Writing the calls, token masks included.
    pub generate_ms: f64,
    /// Of `generate_ms`, computing the grammar's token masks.
    pub mask_ms: f64,
    pub completion_tokens: usize,
    /// Sending the read-only calls and reading their answers.
    pub calls_ms: f64,
    /// Relaying the results as cited records.
    pub relay_ms: f64,
}

fn view(r: &CallRecord, arguments: Value) -> CallView {
    CallView {
        id: r.id.clone(),
        state: r.state,
        connector: r.request.connector.clone(),
        operation: r.request.operation.clone(),
        method: r.request.method.clone(),
        url: r.request.url.clone(),
        arguments,
        summary: r.summary.clone(),
        marking: r.marking.clone(),
        status: r.response.as_ref().map(|x| x.status),
        bytes: r.response.as_ref().map(|x| x.bytes),
        duration_ms: r.response.as_ref().map(|x| x.duration_ms),
        expires: r.expires,
        error: r.error.clone(),
    }
}

/// What an HTTP method does, in the words people use for it.
fn verbs(method: &str) -> &'static str {
    match method {
        "POST" => "Creates (adds, submits) a new one.",
        "PUT" | "PATCH" => "Updates (changes, modifies) an existing one.",
        "DELETE" => "Deletes (removes) an existing one.",
        _ => "Reads (gets, lists, finds, shows); changes nothing.",
    }
}

/// What the model reads of an operation.
fn describe(op: &Operation) -> String {
    let mut d = op.summary.clone();
    if !op.description.is_empty() && op.description != op.summary {
        if !d.is_empty() {
            d.push_str(". ");
        }
        d.push_str(&op.description);
    }
    let d: String = d.chars().take(300).collect();
    format!("{d} {} ({} {})", verbs(&op.method), op.method, op.path)
}

/// `request` with the bounding box of the area it names in words, for the model to copy into
/// a call (small models cannot turn "within 50 km of Paris" into coordinates): the box, rounded
/// outwards to 0.01°, of the area's part that holds the place.
fn with_area(request: &str, named: Option<&NamedArea>) -> String {
    let Some(n) = named else {
        return request.to_string();
    };
    let (x, y) = (n.place.lon, n.place.lat);
    let boxes = n.area.bounds();
    let Some(b) = boxes
        .iter()
        .find(|b| b[0] <= x && x <= b[2] && b[1] <= y && y <= b[3])
        .or(boxes.first())
    else {
        return request.to_string();
    };
    let down = |v: f64| (v * 100.0).floor() / 100.0;
    let up = |v: f64| (v * 100.0).ceil() / 100.0;
    format!(
        "{request}\n(The bounding box of \"{}\" is {},{},{},{} as minLon,minLat,maxLon,maxLat.)",
        n.phrase,
        down(b[0]),
        down(b[1]),
        up(b[2]),
        up(b[3])
    )
}

/// Words every API uses, which say nothing of what an operation is about.
const GENERIC: &[&str] = &[
    "get",
    "list",
    "item",
    "feature",
    "collection",
    "record",
    "data",
    "query",
    "result",
    "search",
    "find",
    "show",
    "read",
    "create",
    "add",
    "update",
    "delete",
    "remove",
    "new",
    "existing",
    "api",
    "json",
    "request",
    "response",
    "object",
    "field",
    "value",
    "return",
    "given",
];

/// Whether a chat question speaks of what an operation of `connectors` is about: it shares a
/// word with an operation's id, summary or description that is not one every API uses.
fn speaks_of(question: &str, connectors: &[&Connector]) -> bool {
    let asked: Vec<String> = words(question)
        .into_iter()
        .filter(|w| !GENERIC.contains(&w.as_str()))
        .collect();
    connectors.iter().flat_map(|c| &c.operations).any(|op| {
        let mine = words(&format!("{} {} {}", op.id, op.summary, op.description));
        asked.iter().any(|w| mine.contains(w))
    })
}

/// The operations of `connectors` by the words they share with `request` (with the
/// operation's id, summary, description and parameter names) plus the cosine similarity of
/// their embeddings (`similar`, by `connector/operation`: it breaks ties and finds the
/// operation a request names in other words), most first.
fn ranked<'a>(
    asked: &[String],
    connectors: &[&'a Connector],
    similar: &HashMap<String, f32>,
) -> Vec<(f32, usize, &'a Connector, &'a Operation)> {
    let mut all: Vec<(f32, usize, &Connector, &Operation)> = Vec::new();
    for c in connectors {
        for op in &c.operations {
            let mut text = format!(
                "{} {} {} {} {}",
                op.id,
                op.summary,
                op.description,
                op.path,
                verbs(&op.method)
            );
            for p in &op.params {
                text.push(' ');
                text.push_str(&p.name);
            }
            let sim = similar
                .get(&format!("{}/{}", c.name(), op.id))
                .copied()
                .unwrap_or(0.0);
            all.push((score(asked, &text, sim), all.len(), c, op));
        }
    }
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    all
}

/// The operations offered for `request`: the most relevant [`MAX_TOOLS`] of [`ranked`].
fn catalogue<'a>(
    request: &str,
    connectors: &[&'a Connector],
    similar: &HashMap<String, f32>,
) -> Vec<(&'a Connector, &'a Operation, Tool)> {
    let asked = words(request);
    let mut all = ranked(&asked, connectors, similar);
    all.truncate(MAX_TOOLS);
    let asked = &asked;
    let several = connectors.len() > 1;
    all.into_iter()
        .map(|(_, _, c, op)| {
            let name = if several {
                format!("{}__{}", c.name(), op.id)
            } else {
                op.id.clone()
            };
            let tool = Tool {
                name,
                description: describe(op),
                parameters: brief(&relevant(&op.arguments, &asked)),
            };
            (c, op, tool)
        })
        .collect()
}

/// An operation's arguments with the optional ones the request does not speak of left out
/// (by shared words with the name and description): small models fill every property they
/// are shown, and a filter they invent narrows or breaks the call.
fn relevant(arguments: &Value, asked: &[String]) -> Value {
    let mut a = arguments.clone();
    let required: Vec<String> = a["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(props) = a["properties"].as_object_mut() {
        props.retain(|name, schema| {
            let text = format!("{name} {}", schema["description"].as_str().unwrap_or(""));
            required.contains(name) || words(&text).iter().any(|w| asked.contains(w))
        });
    }
    a
}

/// `schema` with long descriptions cut: the prompt is read on every request.
fn brief(schema: &Value) -> Value {
    match schema {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("description", Value::String(d)) if d.chars().count() > 100 => {
                        let cut: String = d.chars().take(100).collect();
                        (k.clone(), json!(format!("{cut}…")))
                    }
                    _ => (k.clone(), brief(v)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(brief).collect()),
        v => v.clone(),
    }
}

/// A plain-language line for a call.
fn summary(op: &Operation, req: &Request) -> String {
    let what = if op.summary.is_empty() {
        op.id.clone()
    } else {
        op.summary.trim_end_matches('.').to_string()
    };
    let mut s = format!("{what}: {} {}", req.method, req.url);
    if let Some(b) = &req.body {
        let b = b.to_string();
        let b: String = b.chars().take(400).collect();
        s.push_str(&format!(" with body {b}"));
    }
    s
}

fn audit_call(
    app: &App,
    s: &Session,
    action: &str,
    r: &CallRecord,
    arguments: &Value,
) -> Result<()> {
    let detail = json!({
        "call": r.id, "connector": r.request.connector, "operation": r.request.operation,
        "method": r.request.method, "url": r.request.url, "arguments": arguments,
        "state": r.state,
        "status": r.response.as_ref().map(|x| x.status),
        "bytes": r.response.as_ref().map(|x| x.bytes),
        "duration_ms": r.response.as_ref().map(|x| x.duration_ms.round()),
        "error": r.error,
    });
    let outcome = match r.state {
        CallState::Failed => Outcome::Failure,
        CallState::Denied | CallState::Expired => Outcome::Denied,
        _ => Outcome::Success,
    };
    app.record(
        &s.event(action)
            .outcome(outcome)
            .detail(detail.to_string())
            .marking(r.marking.clone()),
    )
}

impl App {
    /// How many connected systems `s` may use (0 when none are configured).
    pub fn connector_count(&self, s: &Session) -> usize {
        self.connect
            .as_deref()
            .map_or(0, |c| connectors_for(s, &c.connectors).len())
    }

    fn connect(&self) -> Result<&Connect> {
        self.connect
            .as_deref()
            .ok_or_else(|| AppError::BadRequest("no connected systems are configured".into()))
    }

    /// Turns `input.request` into calls on the connectors `s` may use; runs the read-only ones
    /// and relays their results; leaves changing ones pending.
    pub fn act(&self, s: &Session, input: &ActInput) -> Result<Acted> {
        s.require(Role::Reader)?;
        check_text("request", &input.request)?;
        if input.request.trim().is_empty() {
            return Err(AppError::BadRequest("the request is empty".into()));
        }
        let connect = self.connect()?;
        let mut usable = connectors_for(s, &connect.connectors);
        if !input.connectors.is_empty() {
            if let Some(n) = input
                .connectors
                .iter()
                .find(|n| !usable.iter().any(|c| c.name() == n.as_str()))
            {
                return Err(AppError::BadRequest(format!("no connector named {n:?}")));
            }
            usable.retain(|c| input.connectors.iter().any(|n| n == c.name()));
        }
        let named = (self.options.geo.as_deref()).and_then(|g| area_in_text(&input.request, g));
        let said = with_area(&input.request, named.as_ref());
        let similar = connect.similarities(self.retriever().embedder(), &input.request, &usable)?;
        let offered = catalogue(&said, &usable, &similar);
        let tools_: Vec<Tool> = offered.iter().map(|(_, _, t)| t.clone()).collect();
        let model = self.assistant().model(input.model.as_deref())?;
        let proposal = tools::propose(
            model,
            &tools_,
            tools::prompt(&tools_, None, &[said.as_str()]),
            CALL_THRESHOLD,
        )
        .map_err(|e| AppError::Assist(e.into()))?;
        // Nothing is shown yet: the marking rises with each result relayed.
        let floor = sextant_access::Marking::unclassified().banner();
        let mut out = Acted {
            status: "no_call",
            calls: Vec::new(),
            answer: String::new(),
            citations: Vec::new(),
            marking: floor,
            call_probability: Some(proposal.call_probability),
            model: Some(model.id().to_string()),
            timings: Some(ActTimings {
                prefill_ms: proposal.prefill_ms,
                generate_ms: proposal.generate_ms,
                mask_ms: proposal.mask_ms,
                completion_tokens: proposal.completion_tokens,
                ..Default::default()
            }),
        };
        let ev = with_text(s.event("act").query(input.request.clone()), s, &out.marking);
        // A call on an operation that shares no word with the request and sits far from it
        // (embedding similarity below the floor) is the small models' usual error when
        // nothing fits: it is not made.
        let mut proposal = proposal;
        let asked = words(&input.request);
        proposal.calls.retain(|c| {
            offered
                .iter()
                .find(|(_, _, t)| t.name == c.name)
                .is_none_or(|(conn, op, _)| {
                    let about = format!("{} {} {}", op.id, op.summary, op.description);
                    match similar.get(&format!("{}/{}", conn.name(), op.id)) {
                        Some(&sim) => catalogue::relevant(&asked, &about, sim, RELEVANCE_FLOOR),
                        None => true,
                    }
                })
        });
        if proposal.calls.is_empty() {
            out.answer = if offered.is_empty() {
                "No connected system you may use serves this request.".into()
            } else {
                "No operation of the connected systems fits this request; nothing was called."
                    .into()
            };
            self.record(&ev.detail("no call"))?;
            return Ok(out);
        }
        self.record(&ev.detail(format!("{} call(s) proposed", proposal.calls.len())))?;
        let mut refused = Vec::new();
        let mut records = Vec::new();
        let reads = proposal.calls.iter().any(|c| {
            offered
                .iter()
                .any(|(_, op, t)| t.name == c.name && op.read_only())
        });
        for c in &proposal.calls {
            let Some((conn, op, _)) = offered.iter().find(|(_, _, t)| t.name == c.name) else {
                refused.push(format!("{} is not an operation offered", c.name));
                continue;
            };
            // A read that also proposes a change the request does not ask for (no word of
            // the method's verbs): the change is dropped, not shown for confirmation.
            if reads
                && !op.read_only()
                && !words(verbs(&op.method)).iter().any(|w| asked.contains(w))
            {
                continue;
            }
            match call::prepare(conn, &op.id, &c.arguments) {
                Err(e) => refused.push(e.to_string()),
                Ok(req) => {
                    let now = record::now();
                    let r = CallRecord {
                        id: record::new_id(),
                        user: s.name.clone(),
                        summary: summary(op, &req),
                        marking: conn.settings.marking.banner(),
                        request: req,
                        arguments: c.arguments.clone(),
                        state: CallState::Pending,
                        created: now,
                        expires: now + PENDING_SECS,
                        decided: None,
                        response: None,
                        error: None,
                    };
                    records.push((r, c.arguments.clone(), op.read_only()));
                }
            }
        }
        if records.is_empty() {
            out.status = "refused";
            out.answer = format!("The proposed call was not made: {}", refused.join("; "));
            return Ok(out);
        }
        let mut pending = false;
        let t_calls = std::time::Instant::now();
        for (mut r, args, read_only) in records {
            if read_only {
                r.state = CallState::Running;
                connect.calls.put(&r).map_err(AppError::internal)?;
                r = self.run_call(s, connect, r, &args)?;
            } else {
                pending = true;
                connect.calls.put(&r).map_err(AppError::internal)?;
                audit_call(self, s, "call.propose", &r, &args)?;
            }
            out.calls.push(view(&r, args));
        }
        let t_relay = std::time::Instant::now();
        self.relay_into(s, &mut out, &input.request, named.as_ref())?;
        if let Some(t) = out.timings.as_mut() {
            t.calls_ms = (t_relay - t_calls).as_secs_f64() * 1e3;
            t.relay_ms = t_relay.elapsed().as_secs_f64() * 1e3;
        }
        if pending {
            out.status = "pending";
            let lines: Vec<String> = out
                .calls
                .iter()
                .filter(|c| c.state == CallState::Pending)
                .map(|c| format!("{} (call {}; confirm or deny it)", c.summary, c.id))
                .collect();
            if !out.answer.is_empty() {
                out.answer.push_str("\n\n");
            }
            out.answer.push_str(&format!(
                "Waiting for your confirmation: {}",
                lines.join("; ")
            ));
        } else {
            out.status = "executed";
        }
        Ok(out)
    }

    /// A chat question answered by the connected systems, when it speaks of what one of their
    /// operations is about and the model makes a call; `None` sends it to the documents.
    pub fn chat_act(
        &self,
        s: &Session,
        question: &str,
        model: Option<String>,
    ) -> Result<Option<Acted>> {
        let Some(connect) = self.connect.as_deref() else {
            return Ok(None);
        };
        if !speaks_of(question, &connectors_for(s, &connect.connectors)) {
            return Ok(None);
        }
        let out = self.act(
            s,
            &ActInput {
                request: question.to_string(),
                connectors: Vec::new(),
                model,
            },
        )?;
        Ok(matches!(out.status, "executed" | "pending").then_some(out))
    }

    /// Sends a call whose record is Running, and records and audits the result.
    fn run_call(
        &self,
        s: &Session,
        connect: &Connect,
        mut r: CallRecord,
        args: &Value,
    ) -> Result<CallRecord> {
        let conn = connect
            .connectors
            .iter()
            .find(|c| c.name() == r.request.connector)
            .ok_or(AppError::NotFound)?;
        match call::execute(conn, &r.request) {
            Ok(resp) => {
                r.state = if resp.ok() {
                    CallState::Executed
                } else {
                    CallState::Failed
                };
                r.response = Some(resp);
            }
            Err(e) => {
                r.state = CallState::Failed;
                r.error = Some(e.to_string());
            }
        }
        r.decided = Some(record::now());
        connect.calls.put(&r).map_err(AppError::internal)?;
        audit_call(self, s, "call", &r, args)?;
        Ok(r)
    }

    /// Adds the relayed results of `out.calls` to the answer, with citations and markings; of
    /// point features, only those inside the area the request names.
    fn relay_into(
        &self,
        s: &Session,
        out: &mut Acted,
        request: &str,
        named: Option<&NamedArea>,
    ) -> Result<()> {
        let connect = self.connect()?;
        let inside = named.map(|n| n.area.prepare());
        let mut answers = Vec::new();
        let mut markings = vec![out.marking.clone()];
        for c in &out.calls {
            let Some(r) = connect.calls.get(&c.id) else {
                continue;
            };
            markings.push(r.marking.clone());
            if let Some(err) = &r.error {
                answers.push(format!(
                    "The call to {} {} failed: {err}",
                    c.connector, c.operation
                ));
                continue;
            }
            let Some(resp) = &r.response else { continue };
            let system = format!("{} {}", c.connector, c.operation);
            let keep = |rec: &Record| {
                rec.marking.as_deref().is_none_or(|m| s.viewer.may_see(m))
                    && (inside.as_ref().zip(rec.point)).is_none_or(|(a, p)| a.covers(p))
            };
            let rel = relay::relay(&system, resp.status, &resp.body, request, keep);
            let base = out.citations.len();
            let mut text = rel.answer.clone();
            for (i, rec) in rel.records.iter().enumerate() {
                // Renumber [i+1] to the answer's running citation numbers.
                text = text.replace(&format!("[{}]", i + 1), &format!("[#{}]", base + i + 1));
                if let Some(m) = &rec.marking {
                    markings.push(m.clone());
                }
                out.citations.push(json!({
                    "kind": "api", "n": base + i + 1, "call": c.id,
                    "connector": c.connector, "operation": c.operation,
                    "method": c.method, "request": c.url,
                    "path": rec.path, "paths": rec.paths, "quote": rec.quote,
                    "marking": rec.marking.clone().unwrap_or_else(|| r.marking.clone()),
                }));
            }
            if let (Some(n), true) = (named, (200..300).contains(&resp.status)) {
                text.insert_str(
                    0,
                    &format!(
                        "Only positions {} ({:.4}, {:.4}) are counted. ",
                        n.phrase, n.place.lat, n.place.lon
                    ),
                );
            }
            answers.push(text.replace("[#", "["));
        }
        out.answer = answers.join("\n\n");
        out.marking = banner(markings.iter().map(String::as_str))?;
        Ok(())
    }

    /// The call `id` of `s` (any other id, and anyone else's, is not found).
    pub fn call_get(&self, s: &Session, id: &str) -> Result<CallView> {
        let connect = self.connect()?;
        let r = connect
            .calls
            .get(id)
            .filter(|r| r.user == s.name)
            .ok_or(AppError::NotFound)?;
        if !s.viewer.may_see(&r.marking) {
            return Err(AppError::NotFound);
        }
        self.record(
            &s.event("call.read")
                .detail(json!({"call": id}).to_string())
                .marking(r.marking.clone()),
        )?;
        Ok(view(&r, r.arguments.clone()))
    }

    /// The calls of `s`, newest first.
    pub fn calls(&self, s: &Session) -> Result<Vec<CallView>> {
        let connect = self.connect()?;
        let list: Vec<CallView> = connect
            .calls
            .of_user(&s.name)
            .into_iter()
            .filter(|r| s.viewer.may_see(&r.marking))
            .map(|r| view(&r, r.arguments.clone()))
            .collect();
        Ok(list)
    }

    /// Moves the pending call `id` of `s` to `to` (under the store's lock, so it happens once);
    /// anyone else's call, and a call above `s`, is not found.
    fn decide(&self, s: &Session, id: &str, to: CallState, verb: &str) -> Result<CallRecord> {
        let connect = self.connect()?;
        let owned = connect
            .calls
            .get(id)
            .filter(|r| r.user == s.name && s.viewer.may_see(&r.marking));
        if owned.is_none() {
            return Err(AppError::NotFound);
        }
        connect
            .calls
            .update(id, |r| match r.state {
                CallState::Pending => {
                    r.state = to;
                    if to != CallState::Running {
                        r.decided = Some(record::now());
                    }
                    Ok(())
                }
                other => Err(other),
            })
            .ok_or(AppError::NotFound)?
            .map_err(|e| match e {
                record::UpdateError::Refused(state) => AppError::BadRequest(format!(
                    "call {id} is {} and cannot be {verb}",
                    serde_json::to_value(state)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("done")
                )),
                record::UpdateError::Io(e) => AppError::internal(e),
            })
    }

    /// Runs the pending call `id` of `s` and relays its result.
    pub fn confirm(&self, s: &Session, id: &str, request: &str) -> Result<Acted> {
        let r = self.decide(s, id, CallState::Running, "confirmed")?;
        let args = r.arguments.clone();
        audit_call(self, s, "call.confirm", &r, &args)?;
        let r = self.run_call(s, self.connect()?, r, &args)?;
        let mut out = Acted {
            status: "executed",
            calls: vec![view(&r, args)],
            answer: String::new(),
            citations: Vec::new(),
            marking: r.marking.clone(),
            call_probability: None,
            model: None,
            timings: None,
        };
        self.relay_into(s, &mut out, request, None)?;
        Ok(out)
    }

    /// Denies the pending call `id` of `s`: it will never run.
    pub fn deny(&self, s: &Session, id: &str) -> Result<CallView> {
        let r = self.decide(s, id, CallState::Denied, "denied")?;
        let args = r.arguments.clone();
        audit_call(self, s, "call.deny", &r, &args)?;
        Ok(view(&r, args))
    }
}

/// How a client wants tools used (OpenAI's `tool_choice`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// Never call.
    None,
    /// Call when the model wants to (its probability of calling over the threshold).
    Auto,
    /// Call one or more of the tools.
    Required,
    /// Call this tool.
    Named(String),
}

/// A client's request for tool calls (OpenAI-compatible function calling).
#[derive(Debug, Clone)]
pub struct ToolsInput {
    pub tools: Vec<Tool>,
    pub choice: ToolChoice,
    /// The client's system message, if any.
    pub system: Option<String>,
    /// The user's turns, in order.
    pub user_turns: Vec<String>,
    pub model: Option<String>,
}

/// Calls proposed for a client's tools: each names one of them and its arguments validate
/// against that tool's schema (re-checked after constrained decoding). Empty: no call.
pub fn tool_calls(app: &App, s: &Session, input: &ToolsInput) -> Result<Vec<tools::Call>> {
    s.require(Role::Reader)?;
    for t in &input.user_turns {
        check_text("message", t)?;
    }
    let offered: Vec<Tool> = match &input.choice {
        ToolChoice::None => return Ok(Vec::new()),
        ToolChoice::Named(n) => input
            .tools
            .iter()
            .filter(|t| &t.name == n)
            .cloned()
            .collect(),
        _ => input.tools.clone(),
    };
    if offered.is_empty() {
        return Err(AppError::BadRequest(
            "tool_choice names no tool of `tools`".into(),
        ));
    }
    let gate = if input.choice == ToolChoice::Auto {
        CALL_THRESHOLD
    } else {
        0.0
    };
    let model = app.assistant().model(input.model.as_deref())?;
    let turns: Vec<&str> = input.user_turns.iter().map(String::as_str).collect();
    let p = tools::propose(
        model,
        &offered,
        tools::prompt(&offered, input.system.as_deref(), &turns),
        gate,
    )
    .map_err(|e| AppError::Assist(e.into()))?;
    let calls: Vec<tools::Call> = p
        .calls
        .into_iter()
        .filter(|c| {
            offered
                .iter()
                .find(|t| t.name == c.name)
                .is_some_and(|t| call::check(&t.parameters, &c.arguments).is_ok())
        })
        .collect();
    let names: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
    let ev = s
        .event("chat.tools")
        .query(input.user_turns.last().cloned().unwrap_or_default())
        .detail(json!({"calls": names, "call_probability": p.call_probability}).to_string());
    app.record(&with_text(
        ev,
        s,
        &sextant_access::Marking::unclassified().banner(),
    ))?;
    Ok(calls)
}
