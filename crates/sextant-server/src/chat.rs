//! Answers over HTTP: `/v1/ask`, `/v1/chat` (server-sent events), `/v1/compare`, and the
//! OpenAI-compatible `/v1/chat/completions` and `/v1/models`.
//!
//! Every route answers through [`sextant_assist::Assistant`], so every answer is grounded and
//! its citations verified, whichever protocol asked.

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Extension, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use sextant_assist::{Answer, AssistError};
use sextant_models::cancel::CancelOnDrop;
use sextant_models::generate::ChatMessage;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use crate::conversations;
use crate::error::{ApiError, ErrorCode};
use crate::{call, spawn_use_case, AppState};
use sextant_act::Tool;
use sextant_app::act::{ToolChoice, ToolsInput};
use sextant_app::{AskInput, CompareInput, Session};
use sextant_auth::Role;

impl From<AssistError> for ApiError {
    fn from(e: AssistError) -> Self {
        match e {
            AssistError::UnknownModel(id) => {
                ApiError::new(ErrorCode::NotFound, format!("no model {id:?}; GET /v1/models lists them"))
            }
            AssistError::ModelUnavailable { id, .. } => {
                ApiError::new(ErrorCode::Unavailable, format!("model {id} is not loaded; see the server log"))
            }
            AssistError::Busy(m) => ApiError::new(ErrorCode::Unavailable, m),
            AssistError::BadRequest(m) => ApiError::bad_request(m),
            AssistError::Model(sextant_models::ModelError::ContextOverflow { prompt, context }) => ApiError::bad_request(
                format!("the conversation is too long for the model ({prompt} tokens, context {context})"),
            ),
            e => ApiError::internal(e),
        }
    }
}

/// One turn of a conversation.
#[derive(Deserialize, ToSchema, Clone)]
pub struct WireMessage {
    /// system, user or assistant
    pub role: String,
    pub content: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    pub question: String,
    /// Chat model id (default: the configured default).
    pub model: Option<String>,
    /// Chunks to retrieve.
    pub k: Option<usize>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatBody {
    /// The conversation, oldest first; the last message is the user's question.
    pub messages: Vec<WireMessage>,
    pub model: Option<String>,
    pub k: Option<usize>,
    /// Server-sent events (default) or one JSON answer.
    #[serde(default = "yes")]
    pub stream: bool,
    /// One of the caller's conversations (`/v1/conversations`): the question and the final
    /// answer are appended to it.
    pub conversation: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareBody {
    pub question: String,
    pub models: Vec<String>,
    pub k: Option<usize>,
}

/// Splits a conversation into history and the final user question.
fn split_conversation(messages: Vec<WireMessage>) -> Result<(String, Vec<ChatMessage>), ApiError> {
    let mut turns: Vec<ChatMessage> = Vec::new();
    for m in messages {
        match m.role.as_str() {
            "user" | "assistant" => turns.push(ChatMessage::new(&m.role, m.content)),
            // Sextant's own instructions govern grounding; client system prompts are ignored.
            "system" | "developer" => {}
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown message role {other:?}"
                )))
            }
        }
    }
    match turns.pop() {
        Some(last) if last.role == "user" => Ok((last.content, turns)),
        _ => Err(ApiError::bad_request(
            "the last message must be the user's question",
        )),
    }
}

/// A cited answer to one question.
#[utoipa::path(post, path = "/v1/ask", request_body = AskBody,
    responses((status = 200, description = "the answer with verified citations, or an abstention"),
              (status = 400, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn ask(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Result<Json<AskBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Answer>, ApiError> {
    let Json(body) = body?;
    let mut input = AskInput::new(body.question);
    input.model = body.model;
    input.k = body.k;
    let answer = call(&state, move |app| {
        app.ask(&session, "ask", input, |_, _| true)
    })
    .await?;
    Ok(Json(answer))
}

/// Several models answer one question over the same retrieval.
#[utoipa::path(post, path = "/v1/compare", request_body = CompareBody,
    responses((status = 200, description = "each model's answer with latency, tokens/s and supported share"),
              (status = 400, body = crate::error::ErrorBody)))]
pub async fn compare(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Result<Json<CompareBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let input = CompareInput {
        question: body.question,
        models: body.models,
        k: body.k,
    };
    let c = call(&state, move |app| app.compare(&session, input)).await?;
    Ok(Json(c).into_response())
}

/// Runs `req` on a blocking thread, sending the verified text with its marking (a `token`
/// event) and then the result through the join handle.
/// Answers on a blocking thread. The guard cancels the answer's model work when dropped: keep
/// it as long as someone is listening (the handler's future, or the event stream's body).
fn spawn_answer(
    state: &AppState,
    session: Session,
    input: AskInput,
    tokens: mpsc::UnboundedSender<(String, String)>,
) -> (
    tokio::task::JoinHandle<Result<Answer, ApiError>>,
    CancelOnDrop,
) {
    spawn_use_case(state, move |app| {
        // A closed receiver (client gone) cancels the generation too.
        app.ask(&session, "chat", input, |t, m| {
            tokens.send((t.to_string(), m.to_string())).is_ok()
        })
        .map_err(ApiError::from)
    })
}

/// Conversation with history. Streams `token` events carrying only text that has passed
/// verification (never a draft that could be withdrawn) and ends with an `answer` event: the
/// verified answer and its citations. `"stream": false` returns the answer as JSON.
#[utoipa::path(post, path = "/v1/chat", request_body = ChatBody,
    responses((status = 200, description = "text/event-stream of token events and a final answer event, or the answer JSON"),
              (status = 400, body = crate::error::ErrorBody)))]
pub async fn chat(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Result<Json<ChatBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    session.require(Role::Reader)?;
    let Json(body) = body?;
    let (question, history) = split_conversation(body.messages)?;
    state.assistant.model(body.model.as_deref())?;
    let conversation = body.conversation.clone();
    if let Some(id) = &conversation {
        conversations::check(&state, session.clone(), id.clone()).await?;
    }
    // A question about what a connected system holds goes to it first (the documents when the
    // model makes no call): the act answer, with "route": "act".
    let (q, m, s) = (question.clone(), body.model.clone(), session.clone());
    if let Some(acted) = call(&state, move |app| app.chat_act(&s, &q, m)).await? {
        let mut v = serde_json::to_value(&acted).map_err(ApiError::internal)?;
        v["route"] = serde_json::json!("act");
        if let Some(id) = conversation {
            conversations::append(&state, session.clone(), id, question.clone(), v.clone()).await?;
        }
        if !body.stream {
            return Ok(Json(v).into_response());
        }
        let token = serde_json::json!({ "text": acted.answer, "marking": acted.marking });
        let events = [
            Event::default().event("token").json_data(token),
            Event::default().event("answer").json_data(v),
        ]
        .map(|e| Ok::<_, Infallible>(e.expect("serialisable")));
        return Ok(Sse::new(futures_util::stream::iter(events)).into_response());
    }
    let mut input = AskInput::new(question.clone());
    input.history = history;
    input.model = body.model;
    input.k = body.k;
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, String)>();
    let (job, cancel) = spawn_answer(&state, session.clone(), input, tx);
    // The turn is kept once the answer is whole (before the client is told it is done).
    let keep = {
        let state = state.clone();
        move |answer: &Answer| {
            let (state, session) = (state.clone(), session.clone());
            let (conversation, question) = (conversation.clone(), question.clone());
            let detail = serde_json::to_value(answer);
            async move {
                match conversation {
                    Some(id) => {
                        let detail = detail.map_err(ApiError::internal)?;
                        conversations::append(&state, session, id, question, detail).await
                    }
                    None => Ok(()),
                }
            }
        }
    };
    if !body.stream {
        while rx.recv().await.is_some() {}
        let answer = job.await.map_err(ApiError::internal)??;
        drop(cancel);
        keep(&answer).await?;
        return Ok(Json(answer).into_response());
    }
    let (events_tx, events_rx) = mpsc::unbounded_channel::<Event>();
    tokio::spawn(async move {
        while let Some((text, marking)) = rx.recv().await {
            // Every event carries the marking of the text it shows.
            let ev = Event::default()
                .event("token")
                .json_data(serde_json::json!({ "text": text, "marking": marking }));
            if events_tx.send(ev.expect("serialisable")).is_err() {
                return;
            }
        }
        let last = match job.await {
            Ok(Ok(answer)) => match keep(&answer).await {
                Ok(()) => Event::default().event("answer").json_data(&answer),
                Err(e) => Event::default().event("error").json_data(e.body()),
            },
            Ok(Err(e)) => Event::default().event("error").json_data(e.body()),
            Err(e) => Event::default()
                .event("error")
                .json_data(ApiError::internal(e).body()),
        };
        let _ = events_tx.send(last.expect("serialisable"));
    });
    Ok(Sse::new(event_stream(events_rx, cancel))
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn error_event(body: impl serde::Serialize) -> Event {
    Event::default()
        .event("error")
        .json_data(body)
        .unwrap_or_else(|_| Event::default().event("error"))
}

/// The events as a response body; dropping the body (the client went away) drops `cancel`.
pub(crate) fn event_stream(
    rx: mpsc::UnboundedReceiver<Event>,
    cancel: CancelOnDrop,
) -> impl futures_util::Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold((rx, cancel), |(mut rx, cancel)| async move {
        rx.recv().await.map(|e| (Ok(e), (rx, cancel)))
    })
}

/// OpenAI's chat completion request (the fields Sextant uses; others are accepted and ignored).
#[derive(Deserialize, ToSchema)]
pub struct CompletionBody {
    pub model: Option<String>,
    pub messages: Vec<WireMessage>,
    #[serde(default)]
    pub stream: bool,
    /// Only 1 is supported.
    pub n: Option<u32>,
    /// OpenAI function tools: `[{"type": "function", "function": {"name", "description",
    /// "parameters"}}]`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<serde_json::Value>>,
    /// "none", "auto" (the default with tools), "required", or
    /// `{"type": "function", "function": {"name"}}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub tool_choice: Option<serde_json::Value>,
}

/// The client's tools and choice, read; `None` when the request has no tools.
fn read_tools(body: &CompletionBody) -> Result<Option<(Vec<Tool>, ToolChoice)>, ApiError> {
    let Some(raw) = &body.tools else {
        return Ok(None);
    };
    let mut tools = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        let f = &t["function"];
        let name = f["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("tools[{i}]: a function needs a name")))?;
        tools.push(Tool {
            name: name.to_string(),
            description: f["description"].as_str().unwrap_or("").to_string(),
            parameters: if f["parameters"].is_object() {
                f["parameters"].clone()
            } else {
                serde_json::json!({"type": "object", "properties": {}})
            },
        });
    }
    let choice = match &body.tool_choice {
        None => ToolChoice::Auto,
        Some(serde_json::Value::String(s)) => match s.as_str() {
            "none" => ToolChoice::None,
            "auto" => ToolChoice::Auto,
            "required" => ToolChoice::Required,
            other => {
                return Err(ApiError::bad_request(format!(
                    "tool_choice {other:?}: give none, auto, required or a function"
                )))
            }
        },
        Some(v) => match v["function"]["name"].as_str() {
            Some(n) => ToolChoice::Named(n.to_string()),
            None => {
                return Err(ApiError::bad_request(
                    "tool_choice: a function needs a name",
                ))
            }
        },
    };
    Ok(Some((tools, choice)))
}

/// The answer as one OpenAI message: the verified text, then the sources it cites.
fn completion_text(a: &Answer) -> String {
    let mut s = format!("{}\n\n{}", a.marking, a.answer);
    if !a.citations.is_empty() {
        s.push_str("\n\nSources:");
        for c in &a.citations {
            let page = c.page.map(|p| format!(", page {p}")).unwrap_or_default();
            s.push_str(&format!(
                "\n[{}] {} {} ({}{page}): \"{}\"",
                c.n, c.marking, c.title, c.source, c.quote
            ));
        }
    }
    s
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn completion_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("chatcmpl-{nanos:x}")
}

/// OpenAI-compatible chat completions, answered with Sextant's grounded, cited answers.
/// Streaming sends the role chunk at once and the verified answer as soon as verification is
/// done, so streamed and non-streamed responses carry the same text.
#[utoipa::path(post, path = "/v1/chat/completions", request_body = CompletionBody,
    responses((status = 200, description = "an OpenAI chat.completion (or chat.completion.chunk events)"),
              (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn chat_completions(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Result<Json<CompletionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    session.require(Role::Reader)?;
    let Json(body) = body?;
    if body.n.is_some_and(|n| n != 1) {
        return Err(ApiError::bad_request("only n = 1 is supported"));
    }
    let tools = read_tools(&body)?;
    let system = body
        .messages
        .iter()
        .find(|m| m.role == "system" || m.role == "developer")
        .map(|m| m.content.clone());
    let user_turns: Vec<String> = body
        .messages
        .iter()
        .filter(|m| m.role == "user")
        .map(|m| m.content.clone())
        .collect();
    let (question, history) = split_conversation(body.messages)?;
    let model = state
        .assistant
        .model(body.model.as_deref())?
        .id()
        .to_string();
    let mut input = AskInput::new(question);
    input.history = history;
    input.model = Some(model.clone());
    let (id, created) = (completion_id(), unix_now());
    if let Some((tools, choice)) = tools {
        let input = ToolsInput {
            tools,
            choice,
            system,
            user_turns,
            model: Some(model.clone()),
        };
        let s = session.clone();
        let calls = call(&state, move |app| {
            sextant_app::act::tool_calls(app, &s, &input)
        })
        .await?;
        if !calls.is_empty() {
            return Ok(tool_calls_response(
                &id,
                created,
                &model,
                &session,
                &calls,
                body.stream,
            ));
        }
    }
    let usage_of = |a: &Answer| {
        serde_json::json!({
            "prompt_tokens": a.usage.prompt_tokens,
            "completion_tokens": a.usage.completion_tokens,
            "total_tokens": a.usage.prompt_tokens + a.usage.completion_tokens,
        })
    };
    if !body.stream {
        let answer = call(&state, move |app| {
            app.ask(&session, "chat", input, |_, _| true)
        })
        .await?;
        return Ok(Json(serde_json::json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": completion_text(&answer)}, "finish_reason": "stop"}],
            "usage": usage_of(&answer),
            "marking": answer.marking,
            "citations": answer.citations, "abstained": answer.abstained,
        }))
        .into_response());
    }
    // Streaming: the role chunk goes out at once; the answer's text follows as soon as it has
    // passed verification (nothing is streamed that could later be withdrawn), each chunk
    // carrying the marking of what it shows.
    let chunk = move |delta: serde_json::Value, finish: Option<&str>, marking: &str| {
        completion_chunk(&id, created, &model, delta, finish, Some(marking))
    };
    let (events_tx, events_rx) = mpsc::unbounded_channel::<Event>();
    let unmarked = sextant_access::Marking::unclassified().banner();
    let _ = events_tx.send(chunk(
        serde_json::json!({"role": "assistant", "content": ""}),
        None,
        &unmarked,
    ));
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, String)>();
    let (job, cancel) = spawn_answer(&state, session, input, tx);
    tokio::spawn(async move {
        // Verified text is re-sent from the final answer with its marking; the pieces only
        // tell that the answer is ready.
        while rx.recv().await.is_some() {}
        let answer = match job.await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                let _ = events_tx.send(error_event(e.body()));
                return;
            }
            Err(e) => {
                let _ = events_tx.send(error_event(ApiError::internal(e).body()));
                return;
            }
        };
        for piece in completion_text(&answer).split_inclusive(' ') {
            if events_tx
                .send(chunk(
                    serde_json::json!({ "content": piece }),
                    None,
                    &answer.marking,
                ))
                .is_err()
            {
                return;
            }
        }
        let _ = events_tx.send(chunk(serde_json::json!({}), Some("stop"), &answer.marking));
        let _ = events_tx.send(Event::default().data("[DONE]"));
    });
    Ok(Sse::new(event_stream(events_rx, cancel))
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// One OpenAI streaming chunk, with the marking of what it shows.
fn completion_chunk(
    id: &str,
    created: u64,
    model: &str,
    delta: serde_json::Value,
    finish: Option<&str>,
    marking: Option<&str>,
) -> Event {
    Event::default().data(
        serde_json::json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            "marking": marking,
        })
        .to_string(),
    )
}

/// The calls as OpenAI returns them: one message with `tool_calls` (arguments as JSON text),
/// `finish_reason` "tool_calls"; streamed as one delta when asked to stream. The arguments come
/// from the user's own words, so they carry the user's ceiling marking.
fn tool_calls_response(
    id: &str,
    created: u64,
    model: &str,
    session: &Session,
    calls: &[sextant_act::Call],
    stream: bool,
) -> Response {
    let marking = session.ceiling().map(|m| m.banner());
    let tool_calls: Vec<serde_json::Value> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            serde_json::json!({
                "index": i, "id": format!("call_{}", completion_id().trim_start_matches("chatcmpl-")),
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments.to_string()},
            })
        })
        .collect();
    if !stream {
        return Json(serde_json::json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": tool_calls},
                         "finish_reason": "tool_calls"}],
            "marking": marking,
        }))
        .into_response();
    }
    let chunk = |delta: serde_json::Value, finish: Option<&str>| {
        Ok::<_, Infallible>(completion_chunk(
            id,
            created,
            model,
            delta,
            finish,
            marking.as_deref(),
        ))
    };
    let events = vec![
        chunk(
            serde_json::json!({"role": "assistant", "content": null, "tool_calls": tool_calls}),
            None,
        ),
        chunk(serde_json::json!({}), Some("tool_calls")),
        Ok(Event::default().data("[DONE]")),
    ];
    Sse::new(futures_util::stream::iter(events)).into_response()
}

/// The chat models, OpenAI-style, with their load state.
#[utoipa::path(get, path = "/v1/models", responses((status = 200, description = "an OpenAI model list")))]
pub async fn models(
    State(state): State<AppState>,
    Extension(_session): Extension<Session>,
) -> Json<serde_json::Value> {
    let data: Vec<serde_json::Value> = state
        .assistant
        .models()
        .into_iter()
        .map(|m| {
            serde_json::json!({
                "id": m.id, "object": "model", "created": 0, "owned_by": "sextant",
                "ready": m.ready, "context": m.context, "format": m.format,
                "default": m.id == state.assistant.default_model(),
            })
        })
        .collect();
    Json(serde_json::json!({ "object": "list", "data": data }))
}
