//! The answer endpoints over real HTTP: the official Python `openai` client against
//! `/v1/chat/completions` and `/v1/models` (streaming and not), `/v1/chat` server-sent events
//! with a follow-up question, `/v1/ask`, `/v1/compare`, and their errors.

mod common;

use common::*;
use serde_json::json;

fn python_with_openai() -> String {
    let out = std::process::Command::new("bash")
        .arg(repo().join("scripts/setup-pyenv.sh"))
        .output()
        .expect("setup-pyenv runs");
    assert!(
        out.status.success(),
        "setup-pyenv failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

/// Parses a server-sent event stream into (event, data) pairs.
fn events(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut event = "message".to_string();
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = e.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push(d.trim_start().to_string());
                }
            }
            (event, data.join("\n"))
        })
        .filter(|(_, d)| !d.is_empty())
        .collect()
}

#[test]
fn openai_client_and_chat_endpoints_work_against_a_running_server() {
    let python = python_with_openai();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::copy(
        repo().join("tests/data/fixtures/mongolia.md"),
        docs.join("mongolia.md"),
    )
    .unwrap();
    std::fs::copy(factbook_dir().join("ke.md"), docs.join("ke.md")).unwrap();
    ok(&data, &["ingest", docs.to_str().unwrap()]);
    let server = Server::start(&data);

    // The stock OpenAI client, streaming and not.
    let out = std::process::Command::new(&python)
        .env("SEXTANT_API_KEY", &server.token)
        .arg(repo().join("tests/py/openai_client.py"))
        .args(["--base-url", &format!("http://{}/v1", server.addr)])
        .args(["--model", "qwen2.5-coder-0.5b-instruct"])
        .args(["--question", "What is the capital of Mongolia?"])
        .args(["--expect", "Ulaanbaatar"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openai client check failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let (status, models) = server.json("GET", "/v1/models", None);
    assert_eq!(status, 200);
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct"]
    );

    // /v1/ask: the same JSON as `sextant ask --json`.
    let (status, a) = server.json("POST", "/v1/ask", Some(&json!({"question": "What is the capital of Kenya?", "model": "qwen2.5-coder-0.5b-instruct"})));
    assert_eq!(status, 200, "{a}");
    assert!(
        a["answer"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("nairobi"),
        "{a}"
    );
    assert!(
        a["citations"][0]["quote"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("nairobi"),
        "{a}"
    );

    // /v1/chat streams only verified text (never a draft that could be withdrawn), then the
    // answer; the follow-up is rewritten for retrieval.
    let convo = json!({"messages": [
        {"role": "user", "content": "What is the capital of Kenya?"},
        {"role": "assistant", "content": "Nairobi [1]."},
        {"role": "user", "content": "What is its population?"}
    ]});
    let (status, body) = server.request("POST", "/v1/chat", Some(&convo));
    assert_eq!(status, 200, "{body}");
    let evs = events(&body);
    let (last, answer) = evs.last().expect("events");
    assert_eq!(last, "answer", "{body}");
    let answer: serde_json::Value = serde_json::from_str(answer).unwrap();
    assert!(
        answer["retrieval_query"]
            .as_str()
            .unwrap()
            .contains("Kenya"),
        "{answer}"
    );
    if !answer["abstained"].as_bool().unwrap() {
        assert!(
            evs.iter().any(|(e, _)| e == "token"),
            "no token events: {body}"
        );
        let streamed: String = evs
            .iter()
            .filter(|(e, _)| e == "token")
            .map(|(_, d)| {
                serde_json::from_str::<serde_json::Value>(d).unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(streamed, answer["answer"].as_str().unwrap());
        for c in answer["citations"].as_array().unwrap() {
            assert_eq!(c["title"], "Kenya", "{answer}");
        }
    }

    // Compare over one retrieval.
    let (status, c) = server.json("POST", "/v1/compare", Some(&json!({"question": "What is the capital of Mongolia?", "models": ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"]})));
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["answers"].as_array().unwrap().len(), 2);

    // Errors are JSON with a code, and say nothing about internals.
    let (status, e) = server.json(
        "POST",
        "/v1/ask",
        Some(&json!({"question": "Hi?", "model": "gpt-4"})),
    );
    assert_eq!(status, 404);
    assert_eq!(e["error"]["code"], "not_found");
    let (status, e) = server.json("POST", "/v1/ask", Some(&json!({"question": "  "})));
    assert_eq!(status, 400, "{e}");
    let (status, e) = server.json("POST", "/v1/chat/completions", Some(&json!({"model": "smollm2-135m-instruct", "messages": [{"role": "assistant", "content": "hi"}]})));
    assert_eq!(status, 400, "{e}");
    let (status, _) = server.json("POST", "/v1/chat", Some(&json!({"messages": []})));
    assert_eq!(status, 400);
}
