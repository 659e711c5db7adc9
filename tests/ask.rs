//! Cited answers end to end through the CLI, on the real models and the Factbook: `ask`,
//! `compare` and `eval qa`.

mod common;

use common::*;
use std::path::Path;

/// Ingests Mongolia and two other Factbook countries into `data`.
fn factbook_three(root: &Path) -> std::path::PathBuf {
    let docs = root.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    for f in ["mg.md", "fr.md", "ke.md"] {
        std::fs::copy(factbook_dir().join(f), docs.join(f)).unwrap();
    }
    let data = root.join("data");
    let summary = json(&data, &["ingest", docs.to_str().unwrap(), "--json"]);
    assert_eq!(summary["new"], 3, "{summary}");
    data
}

/// Every citation's offsets select its quote in the stored document text.
fn assert_citations_point_at_their_quotes(data: &Path, answer: &serde_json::Value) {
    let store = sextant_store::Store::open_existing(data).unwrap();
    for c in answer["citations"].as_array().unwrap() {
        let id = sextant_types::DocId::parse(c["doc_id"].as_str().unwrap()).unwrap();
        let doc = store
            .document(&id, &sextant_store::Viewer::Unrestricted)
            .unwrap()
            .expect("cited document exists");
        let (s, e) = (
            c["start"].as_u64().unwrap() as usize,
            c["end"].as_u64().unwrap() as usize,
        );
        let span: String = doc.text.chars().skip(s).take(e - s).collect();
        assert_eq!(span, c["quote"].as_str().unwrap(), "citation {c}");
    }
}

#[test]
fn ask_cites_the_source_span_and_abstains_when_the_sources_are_silent() {
    let tmp = tempfile::tempdir().unwrap();
    let data = factbook_three(tmp.path());

    for model in ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"] {
        let a = json(
            &data,
            &[
                "ask",
                "--json",
                "--model",
                model,
                "What is the capital of Mongolia?",
            ],
        );
        // The 135M model may honestly abstain (it often cannot point at the span); the default
        // model must answer. Neither may answer wrongly.
        if model == "smollm2-135m-instruct" && a["abstained"] == true {
            continue;
        }
        assert_eq!(a["abstained"], false, "{model}: {a}");
        assert!(
            a["answer"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("ulaanbaatar"),
            "{model}: {a}"
        );
        let cites = a["citations"].as_array().unwrap();
        assert!(!cites.is_empty(), "{model}: {a}");
        assert!(
            cites.iter().any(|c| c["quote"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("ulaanbaatar")),
            "{model}: no quote holds the answer: {a}"
        );
        // Citation numbers in the text are exactly the citations listed.
        for (i, c) in cites.iter().enumerate() {
            assert_eq!(c["n"], i + 1);
            assert!(a["answer"]
                .as_str()
                .unwrap()
                .contains(&format!("[{}]", i + 1)));
        }
        assert_eq!(a["model"], model);
        assert!(a["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
        assert!(a["timing_ms"]["retrieve"].as_f64().unwrap() > 0.0);
        assert_citations_point_at_their_quotes(&data, &a);
    }

    // Things the three documents do not say.
    for q in [
        "What is the capital of Atlantis?",
        "Who won the 1998 FIFA World Cup final?",
        "What is the airspeed velocity of an unladen swallow?",
    ] {
        let a = json(&data, &["ask", "--json", q]);
        assert_eq!(a["abstained"], true, "{q}: {a}");
        assert_eq!(a["citations"].as_array().unwrap().len(), 0, "{q}: {a}");
    }

    // Human output: the banner, the answer, then numbered citations with their portion
    // markings and quotes.
    let text = ok(&data, &["ask", "What is the capital of Kenya?"]);
    assert_eq!(text.lines().next(), Some("UNCLASSIFIED"), "{text}");
    assert!(text.to_lowercase().contains("nairobi"), "{text}");
    assert!(text.contains("[1] (UNCLASSIFIED) Kenya"), "{text}");

    // One retrieval, two models side by side.
    let c = json(
        &data,
        &[
            "compare",
            "--json",
            "--models",
            "smollm2-135m-instruct,qwen2.5-coder-0.5b-instruct",
            "What is the capital of France?",
        ],
    );
    let sides = c["answers"].as_array().unwrap();
    assert_eq!(sides.len(), 2);
    for s in sides {
        let answer = s["answer"].as_str().unwrap().to_lowercase();
        // Right, or (the 135M model only) an honest abstention.
        assert!(
            answer.contains("paris")
                || (s["model"] == "smollm2-135m-instruct" && answer.contains("do not answer")),
            "{s}"
        );
        assert!(s["latency_ms"].as_f64().unwrap() > 0.0);
        assert!(s["tokens_per_s"].as_f64().unwrap() > 0.0, "{s}");
        let share = s["supported_share"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&share));
    }
    let out = run(&data, &["compare", "--models", "no-such-model", "Hi?"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-model"));
}

#[test]
fn eval_qa_reports_answer_quality_and_abstention() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    let write = |name: &str, lines: &[serde_json::Value]| {
        let body: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        std::fs::write(p.join(name), body.join("\n")).unwrap();
    };
    write(
        "corpus.jsonl",
        &[
            serde_json::json!({"_id": "d1", "title": "Vardania", "text": "Vardania is a small island nation. The capital of Vardania is Kelmport, a harbour city of 80,000 people."}),
            serde_json::json!({"_id": "d2", "title": "Ostrel", "text": "Ostrel is a mountain republic. Its capital is Brenhal. The national animal of Ostrel is the snow lynx."}),
            serde_json::json!({"_id": "d3", "title": "Tamsin River", "text": "The Tamsin River flows 412 kilometres from the Ostrel highlands to the Vardanian sea."}),
        ],
    );
    write(
        "queries.jsonl",
        &[
            serde_json::json!({"_id": "q1", "text": "What is the capital of Vardania?"}),
            serde_json::json!({"_id": "q2", "text": "What is the national animal of Ostrel?"}),
            serde_json::json!({"_id": "q3", "text": "How long is the Tamsin River?"}),
            serde_json::json!({"_id": "q4", "text": "Who is the president of Zembla?"}),
        ],
    );
    write(
        "answers.jsonl",
        &[
            serde_json::json!({"_id": "q1", "answers": ["Kelmport"]}),
            serde_json::json!({"_id": "q2", "answers": ["snow lynx", "the snow lynx"]}),
            serde_json::json!({"_id": "q3", "answers": ["412 kilometres", "412 km"]}),
            serde_json::json!({"_id": "q4", "answers": []}),
        ],
    );
    let arg = |n: &str| p.join(n).to_str().unwrap().to_string();
    let (c, q, a) = (
        arg("corpus.jsonl"),
        arg("queries.jsonl"),
        arg("answers.jsonl"),
    );
    let r = json(
        &p.join("unused"),
        &[
            "eval",
            "qa",
            "--corpus",
            &c,
            "--queries",
            &q,
            "--answers",
            &a,
            "--json",
        ],
    );
    assert_eq!(r["questions"], 4);
    assert_eq!(r["answerable"], 3);
    assert_eq!(r["unanswerable"], 1);
    assert_eq!(r["abstained_when_unanswerable"], 1.0, "{r}");
    assert_eq!(r["answer_in_quote"], 1.0, "{r}");
    assert!(r["token_f1"].as_f64().unwrap() > 0.3, "{r}");
    for key in [
        "exact_match",
        "abstention_rate",
        "abstained_when_answerable",
    ] {
        assert!(r[key].is_number(), "{key}: {r}");
    }
    // A corpus line that is not JSON is a clear error naming the line.
    std::fs::write(
        p.join("bad.jsonl"),
        "{\"_id\": \"x\", \"text\": \"ok\"}\nnot json\n",
    )
    .unwrap();
    let out = run(
        &p.join("unused"),
        &[
            "eval",
            "qa",
            "--corpus",
            &arg("bad.jsonl"),
            "--queries",
            &q,
            "--answers",
            &a,
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.jsonl:2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Answers over marked documents: a SECRET//REL TO USA, GBR Kenya and an unmarked Mongolia. The
/// answer's banner is the roll-up of its citations' portion markings; a reader who may not see
/// Kenya never gets anything from it.
#[test]
fn answers_carry_the_roll_up_of_their_citations_and_respect_releasability() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let kenya = std::fs::read_to_string(factbook_dir().join("ke.md")).unwrap();
    std::fs::write(
        docs.join("ke.md"),
        format!("SECRET//REL TO USA, GBR\n\n{kenya}\n\nSECRET//REL TO USA, GBR\n"),
    )
    .unwrap();
    std::fs::copy(factbook_dir().join("mg.md"), docs.join("mg.md")).unwrap();
    let data = tmp.path().join("data");
    ok(&data, &["ingest", docs.to_str().unwrap()]);
    ok(
        &data,
        &[
            "users",
            "add",
            "gbr",
            "--clearance",
            "SECRET",
            "--citizenship",
            "GBR",
        ],
    );
    ok(
        &data,
        &[
            "users",
            "add",
            "fra",
            "--clearance",
            "TOP SECRET",
            "--citizenship",
            "FRA",
        ],
    );

    let rolled_up = |a: &serde_json::Value| {
        let cites = a["citations"].as_array().unwrap();
        sextant_assist::rollup(cites.iter().map(|c| c["marking"].as_str().unwrap()))
            .unwrap()
            .banner()
    };
    let q = "What is the capital of Kenya?";
    let a = json(&data, &["--as", "gbr", "ask", "--json", q]);
    assert_eq!(a["abstained"], false, "{a}");
    assert!(a["answer"].as_str().unwrap().contains("Nairobi"), "{a}");
    for c in a["citations"].as_array().unwrap() {
        assert_eq!(c["marking"], "SECRET//REL TO USA, GBR", "{c}");
    }
    assert_eq!(a["marking"], rolled_up(&a));
    assert_citations_point_at_their_quotes(&data, &a);

    // Cleared higher, but not releasable to France: nothing from Kenya's document.
    let f = json(&data, &["--as", "fra", "ask", "--json", q]);
    assert!(!f.to_string().contains("Nairobi"), "{f}");
    assert_eq!(f["marking"], rolled_up(&f));
    assert!(f["citations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["marking"] == "UNCLASSIFIED"));

    let m = json(
        &data,
        &["ask", "--json", "What is the capital of Mongolia?"],
    );
    assert_eq!(m["abstained"], false, "{m}");
    assert_eq!(m["marking"], "UNCLASSIFIED");
}
