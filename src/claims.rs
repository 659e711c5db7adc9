//! `sextant eval claims`: the citation verifier on a labelled set of (claim, quote) pairs —
//! precision and recall of "supported", and, per kind of reversal (negation, attribution,
//! swapped numbers or names, another country's fact …), how many were wrongly accepted.

use anyhow::Result;
use clap::Args;
use serde::Deserialize;
use sextant_assist::judge;
use sextant_config::Settings;
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::eval::read_jsonl;

#[derive(Args)]
pub struct ClaimsArgs {
    /// JSON lines {"claim","context","quote","label":"supported"|"unsupported","kind"}.
    #[arg(long)]
    pairs: PathBuf,
    /// Chat model judging what the deterministic checks leave (default: the default model).
    #[arg(long)]
    model: Option<String>,
    /// Least P(yes) for "supported" (default: the configured judge threshold). The report also
    /// sweeps other thresholds.
    #[arg(long)]
    threshold: Option<f32>,
    /// Only the deterministic checks (every claim they pass counts as supported).
    #[arg(long)]
    rules_only: bool,
    #[arg(long)]
    limit: Option<usize>,
    /// Print every wrongly accepted and wrongly rejected pair (at the threshold).
    #[arg(long)]
    show: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Deserialize)]
struct Pair {
    claim: String,
    #[serde(default)]
    context: String,
    quote: String,
    label: String,
    #[serde(default)]
    kind: String,
}

pub fn claims(s: &Settings, args: ClaimsArgs) -> Result<i32> {
    let mut pairs: Vec<Pair> = read_jsonl(&args.pairs)?;
    if let Some(n) = args.limit {
        pairs.truncate(n);
    }
    let model_id = args
        .model
        .clone()
        .unwrap_or_else(|| s.assist.default_model.clone());
    let model = if args.rules_only {
        None
    } else {
        let slots = sextant_assist::load_models(
            &s.models_dir,
            std::slice::from_ref(&model_id),
            s.assist.queue,
            None,
        );
        match slots.into_values().next() {
            Some(sextant_assist::Slot::Ready(m)) => Some(m),
            Some(sextant_assist::Slot::Failed(e)) => anyhow::bail!("model {model_id}: {e}"),
            None => anyhow::bail!("model {model_id} is not known"),
        }
    };
    // (supported?, reversal, p_yes) per pair.
    let mut verdicts = Vec::with_capacity(pairs.len());
    for p in &pairs {
        let v = match &model {
            Some(m) => judge::entails(m, &p.claim, &p.context, &p.quote, 0.0)?,
            None => judge::Verdict {
                supported: judge::reversal(&p.claim, &p.context, &p.quote).is_none(),
                reversal: judge::reversal(&p.claim, &p.context, &p.quote),
                p_yes: None,
            },
        };
        verdicts.push(v);
    }
    let threshold = args.threshold.unwrap_or(s.assist.judge_threshold);
    if args.show {
        for (p, v) in pairs.iter().zip(&verdicts) {
            let yes = v.reversal.is_none() && v.p_yes.is_none_or(|py| py >= threshold);
            if yes != (p.label == "supported") {
                eprintln!(
                    "{} [{}] p_yes={:?} reversal={:?}\n    quote: {}\n    claim: {}",
                    if yes { "ACCEPTED" } else { "rejected" },
                    p.kind,
                    v.p_yes,
                    v.reversal,
                    p.quote,
                    p.claim
                );
            }
        }
    }
    let score = |t: f32| {
        let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
        let mut accepted: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for (p, v) in pairs.iter().zip(&verdicts) {
            let yes = v.reversal.is_none() && v.p_yes.is_none_or(|py| py >= t);
            let gold = p.label == "supported";
            match (yes, gold) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                _ => {}
            }
            let e = accepted.entry(p.kind.clone()).or_default();
            e.0 += 1;
            e.1 += yes as usize;
        }
        let precision = tp as f64 / (tp + fp).max(1) as f64;
        let recall = tp as f64 / (tp + fn_).max(1) as f64;
        serde_json::json!({
            "threshold": t, "precision": precision, "recall": recall,
            "accepted_unsupported": fp,
            "accepted_by_kind": accepted.iter().map(|(k, (n, a))| (k.clone(), serde_json::json!({"n": n, "accepted": a}))).collect::<serde_json::Map<_, _>>(),
        })
    };
    let mut rejected_by: BTreeMap<String, usize> = BTreeMap::new();
    for v in &verdicts {
        if let Some(r) = v.reversal {
            *rejected_by
                .entry(serde_json::to_value(r)?.as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
    }
    let sweep: Vec<serde_json::Value> = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
        .iter()
        .map(|&t| score(t))
        .collect();
    let out = serde_json::json!({
        "model": if args.rules_only { "rules only".to_string() } else { model_id },
        "pairs": pairs.len(),
        "supported": pairs.iter().filter(|p| p.label == "supported").count(),
        "at_threshold": score(threshold),
        "sweep": sweep,
        "rejected_by_rule": rejected_by,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let r = &out["at_threshold"];
        println!(
            "{} pairs ({} supported), {}: precision {:.3}, recall {:.3}, unsupported accepted {} (threshold {threshold})",
            out["pairs"], out["supported"], out["model"].as_str().unwrap_or(""),
            r["precision"].as_f64().unwrap_or(0.0), r["recall"].as_f64().unwrap_or(0.0),
            r["accepted_unsupported"]
        );
        println!("{:<24} {:>5} {:>9}", "kind", "n", "accepted");
        for (k, v) in r["accepted_by_kind"].as_object().into_iter().flatten() {
            println!("{k:<24} {:>5} {:>9}", v["n"], v["accepted"]);
        }
        println!(
            "rejected by rule: {}",
            serde_json::to_string(&out["rejected_by_rule"])?
        );
        for t in &sweep {
            println!(
                "  threshold {:.1}: precision {:.3} recall {:.3} unsupported accepted {}",
                t["threshold"].as_f64().unwrap_or(0.0),
                t["precision"].as_f64().unwrap_or(0.0),
                t["recall"].as_f64().unwrap_or(0.0),
                t["accepted_unsupported"]
            );
        }
    }
    Ok(0)
}
