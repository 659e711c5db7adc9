//! The questions a newcomer asks first (issue 11's ten), on the demo's own documents, through a
//! real server with every chat model: each is answered correctly — the fact in the answer, cited
//! to the document about what was asked — or honestly abstained on; never answered wrongly.
//! The unanswerable ones must abstain.

mod common;

use common::*;

struct Case {
    question: &'static str,
    /// Any of these in the answer (or, for a statement answer, in its quote); empty: the
    /// documents do not answer it.
    expect: &'static [&'static str],
    /// Titles of documents the answer must cite (all of them).
    cite: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        question: "What is the capital of Kenya?",
        expect: &["Nairobi"],
        cite: &["Kenya"],
    },
    Case {
        question: "What is the population of Brazil?",
        expect: &["204,259,812"],
        cite: &["Brazil"],
    },
    Case {
        question: "Who is the chief of state of France?",
        expect: &["HOLLANDE"],
        cite: &["France"],
    },
    Case {
        question: "What are the main exports of Chile?",
        expect: &["copper"],
        cite: &["Chile"],
    },
    Case {
        question: "When did Ghana gain independence?",
        expect: &["1957"],
        cite: &["Ghana"],
    },
    Case {
        question: "Chad or Niger, which is larger?",
        expect: &["Chad"],
        cite: &["Chad", "Niger"],
    },
    Case {
        question: "What did Abraham Lincoln say about slavery in his 1862 annual message?",
        expect: &["slavery", "slave", "emancipation"],
        cite: &["1862-abraham-lincoln"],
    },
    Case {
        question: "What are the four freedoms Franklin D. Roosevelt named in 1941?",
        expect: &["freedom"],
        cite: &["1941-franklin-d-roosevelt"],
    },
    Case {
        question: "What is the national dish of Kenya?",
        expect: &[],
        cite: &[],
    },
    Case {
        question: "How many hospitals are there in Ghana?",
        expect: &[],
        cite: &[],
    },
];

const MODELS: &[&str] = &[
    "smollm2-135m-instruct",
    "qwen2.5-coder-0.5b-instruct",
    "qwen2.5-coder-1.5b-instruct",
];

#[test]
fn the_demo_questions_are_answered_right_or_abstained_on() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(docs.join("factbook")).unwrap();
    std::fs::create_dir_all(docs.join("sotu")).unwrap();
    // The countries asked about, and the ones that mention them (Andorra's co-prince is
    // France's president; Uganda and Tanzania neighbour Kenya).
    for f in ["ke", "br", "fr", "an", "ci", "gh", "cd", "ng", "ug", "tz"] {
        std::fs::copy(
            factbook_dir().join(format!("{f}.md")),
            docs.join("factbook").join(format!("{f}.md")),
        )
        .unwrap();
    }
    for f in [
        "1861-abraham-lincoln.txt",
        "1862-abraham-lincoln.txt",
        "1863-abraham-lincoln.txt",
        "1941-franklin-d-roosevelt.txt",
        "1942-franklin-d-roosevelt.txt",
    ] {
        std::fs::copy(sotu_dir().join(f), docs.join("sotu").join(f)).unwrap();
    }
    let data = tmp.path().join("data");
    let summary = json(&data, &["ingest", docs.to_str().unwrap(), "--json"]);
    assert_eq!(summary["new"], 15, "{summary}");
    let config = tmp.path().join("sextant.toml");
    std::fs::write(
        &config,
        format!(
            "[assist]\nmodels = [{}]\n",
            MODELS
                .iter()
                .map(|m| format!("{m:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .unwrap();
    let server = Server::start_with(&data, &["--config", config.to_str().unwrap()]);
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for model in MODELS {
        let mut right = 0;
        for case in CASES {
            let (status, a) = server.json(
                "POST",
                "/v1/ask",
                Some(&serde_json::json!({"question": case.question, "model": model})),
            );
            assert_eq!(status, 200, "{model}: {}: {a}", case.question);
            let abstained = a["abstained"].as_bool().unwrap();
            let answer = a["answer"].as_str().unwrap();
            let cites = a["citations"].as_array().unwrap();
            let verdict = if case.expect.is_empty() {
                if abstained {
                    "abstained (right)"
                } else {
                    failures.push(format!("{model}: {:?} must abstain: {a}", case.question));
                    "ANSWERED"
                }
            } else if abstained {
                "abstained"
            } else {
                let titles: Vec<&str> =
                    cites.iter().map(|c| c["title"].as_str().unwrap()).collect();
                let cited_right = case.cite.iter().all(|t| titles.contains(t));
                let stated = case.expect.iter().any(|e| {
                    answer.contains(e)
                        || cites
                            .iter()
                            .any(|c| c["quote"].as_str().unwrap().contains(e))
                });
                // An answer that is not a bare value must be a verbatim quote (nothing
                // paraphrased around a real citation).
                if cited_right && stated {
                    right += 1;
                    "right"
                } else {
                    failures.push(format!(
                        "{model}: {:?} answered wrongly: {a}",
                        case.question
                    ));
                    "WRONG"
                }
            };
            report.push(format!(
                "{model:<30} {verdict:<18} {:<70} {answer}",
                case.question
            ));
        }
        report.push(format!(
            "{model}: {right} of 8 answerable questions answered right"
        ));
    }
    eprintln!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
