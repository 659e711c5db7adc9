//! Tools in the model's native format and calls generated under a grammar.
//!
//! The prompt is Qwen2.5's own tool prompt (the `# Tools` system block with one JSON function
//! signature per line, replies as `<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>`),
//! so the model writes what it was trained to write. Whether it calls at all is its own first
//! step: the probability it gives `<tool_call>` after the prompt, against a threshold. What it
//! writes after is held to a grammar: one or more calls, each naming a tool of the catalogue
//! with arguments valid against that tool's JSON Schema.

use serde::Serialize;
use serde_json::{json, Value};
use sextant_models::generate::{ChatMessage, ChatModel, Grammar};
use sextant_models::ModelError;

/// Calls one reply may hold.
pub const MAX_CALLS: usize = 4;

/// Tokens one reply may take.
const MAX_TOKENS: usize = 320;

/// Qwen2.5's default system line, kept when the caller gives none.
const QWEN_SYSTEM: &str = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

/// A function the model may call.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments (an object).
    pub parameters: Value,
}

/// One proposed call.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Call {
    pub name: String,
    pub arguments: Value,
}

/// What the model proposed for one request.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    /// Empty: the model made no call.
    pub calls: Vec<Call>,
    /// The probability the model gave to starting a call.
    pub call_probability: f32,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub prefill_ms: f64,
    pub generate_ms: f64,
    /// Of `generate_ms`, the time spent computing token masks.
    pub mask_ms: f64,
}

/// The tool prompt: `system` (or Qwen's default line), the catalogue, then the user's turns.
/// Only the user's own words and the catalogue are in it (see the crate's invariants).
pub fn prompt(tools: &[Tool], system: Option<&str>, user_turns: &[&str]) -> Vec<ChatMessage> {
    let mut sys = String::from(system.unwrap_or(QWEN_SYSTEM));
    sys.push_str(
        "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n\
         You are provided with function signatures within <tools></tools> XML tags:\n<tools>",
    );
    for t in tools {
        let f = json!({"type": "function", "function": {
            "name": t.name, "description": t.description, "parameters": t.parameters}});
        sys.push('\n');
        sys.push_str(&f.to_string());
    }
    sys.push_str(
        "\n</tools>\n\nFor each function call, return a json object with function name and \
         arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n\
         {\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>",
    );
    let mut messages = vec![ChatMessage::system(sys)];
    messages.extend(user_turns.iter().map(|t| ChatMessage::user(*t)));
    messages
}

/// JSON Schema of one call: `{"name": one of the tools, "arguments": its arguments}`.
pub fn call_schema(tools: &[Tool]) -> Value {
    let one: Vec<Value> = tools
        .iter()
        .map(|t| {
            json!({
                "type": "object",
                "properties": {"name": {"const": t.name}, "arguments": t.parameters},
                "required": ["name", "arguments"],
                "additionalProperties": false
            })
        })
        .collect();
    json!({
        "anyOf": one,
        // Whitespace as the model likes it (compact in `<tool_call>`, indented in Markdown).
        // Schema keywords the grammar engine cannot enforce are left to the validation before
        // a call runs (lenient), rather than making the tool unusable.
        "x-guidance": {"whitespace_flexible": true, "lenient": true, "coerce_one_of": true}
    })
}

/// The grammar of a reply that calls: 1 to [`MAX_CALLS`] calls, each in a `<tool_call>`
/// block (Qwen2.5's trained format) or a Markdown JSON block (what the Coder models write
/// as often), or one bare JSON call.
pub fn grammar(tools: &[Tool]) -> Grammar {
    let schema = call_schema(tools);
    let more = "(\"\\n\" call)?".repeat(MAX_CALLS - 1);
    Grammar::Lark(format!(
        "start: call {more} | body\n\
         call: \"<tool_call>\\n\" body \"\\n</tool_call>\" | \"```json\\n\" body \"\\n```\"\n\
         body: %json {schema}\n"
    ))
}

/// The calls in a reply written under [`grammar`] (or freely, in the same formats): every
/// JSON object that opens the reply or a `<tool_call>` or Markdown JSON block.
pub fn parse(text: &str) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut rest = text.trim_start();
    loop {
        let body = if rest.starts_with('{') {
            rest
        } else {
            let open = ["<tool_call>", "```json"]
                .iter()
                .filter_map(|m| rest.find(m).map(|at| at + m.len()))
                .min();
            match open {
                Some(at) => rest[at..].trim_start(),
                None => break,
            }
        };
        let mut values = serde_json::Deserializer::from_str(body).into_iter::<Call>();
        match values.next() {
            Some(Ok(c)) => {
                calls.push(c);
                rest = &body[values.byte_offset()..];
            }
            _ => rest = body.get(1..).unwrap_or(""),
        }
    }
    calls
}

/// Asks `model` for calls on `tools` for the conversation `messages` (from [`prompt`]); no
/// call when it gives starting one less than `threshold`.
pub fn propose(
    model: &ChatModel,
    tools: &[Tool],
    messages: Vec<ChatMessage>,
    threshold: f32,
) -> Result<Proposal, ModelError> {
    if tools.is_empty() {
        return Ok(Proposal {
            calls: Vec::new(),
            call_probability: 0.0,
            prompt_tokens: 0,
            completion_tokens: 0,
            prefill_ms: 0.0,
            generate_ms: 0.0,
            mask_ms: 0.0,
        });
    }
    let (out, mask_ms) = model.grammar(messages, grammar(tools), MAX_TOKENS, threshold)?;
    Ok(Proposal {
        calls: parse(&out.text),
        call_probability: out.first_mass,
        prompt_tokens: out.prompt_tokens,
        completion_tokens: out.completion_tokens,
        prefill_ms: out.prefill_ms,
        generate_ms: out.generate_ms,
        mask_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_calls_and_skips_broken_ones() {
        let text = "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n\
                    <tool_call>\n{\"name\": broken}\n</tool_call>\n\
                    <tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>";
        let calls = parse(text);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].arguments["x"], 1);
        assert_eq!(calls[1].name, "b");
        assert!(parse("Paris is the capital.").is_empty());
        let md = "```json\n{\n  \"name\": \"a\",\n  \"arguments\": {}\n}\n```";
        assert_eq!(parse(md)[0].name, "a");
        assert_eq!(parse("{\"name\": \"c\", \"arguments\": {}}")[0].name, "c");
    }

    #[test]
    fn the_prompt_holds_the_catalogue_and_only_the_users_words() {
        let t = Tool {
            name: "get_weather".into(),
            description: "Weather for a city".into(),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        };
        let m = prompt(&[t], None, &["Weather in Paris?"]);
        assert_eq!(m.len(), 2);
        assert!(m[0].content.contains("\"name\":\"get_weather\""));
        assert!(m[0].content.starts_with(QWEN_SYSTEM));
        assert_eq!(m[1].content, "Weather in Paris?");
    }
}
