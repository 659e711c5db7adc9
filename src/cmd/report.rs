//! `sextant report`: templated reports.

use crate::*;
use sextant_app::report::{ExportFormat, Refinement, ReportInput, ReportView};
use std::io::Write;

/// The use cases with the report store (and the gazetteer for country and area parameters).
fn report_app(s: &Settings, model: Option<&str>) -> Result<sextant_app::App> {
    let models: Vec<String> = model.map(str::to_string).into_iter().collect();
    let mut app = app(s, Some(load_embedder(s)?), &models)?.with_reports(std::sync::Arc::new(
        sextant_report::store::ReportStore::open(&s.data_dir.join("reports"))
            .with_context(|| format!("cannot open the reports in {}", s.data_dir.display()))?,
    ));
    app.options.geo = geo_data(s);
    Ok(app)
}

/// The use cases with the chat model report `id` was written with (the default model when it
/// is not installed, or the report is not there: the use case then answers as it should).
fn app_with_model_of(s: &Settings, id: &str) -> Result<sextant_app::App> {
    let store = sextant_report::store::ReportStore::open(&s.data_dir.join("reports"))?;
    let written = store
        .version_numbers(id)
        .last()
        .and_then(|n| store.version(id, *n))
        .map(|v| v.model);
    let default = s.assist.default_model.clone();
    match written {
        Some(m) if m != default => {
            report_app(s, Some(&m)).or_else(|_| report_app(s, Some(&default)))
        }
        _ => report_app(s, Some(&default)),
    }
}

fn print_diff(d: &sextant_report::diff::Diff) {
    for sec in &d.sections {
        println!("## {} ({:?})", sec.heading, sec.status);
        for l in &sec.lines {
            println!("{} {}", l.op, l.text);
        }
    }
}

fn print_version(r: &ReportView) {
    print!("{}", sextant_report::export::markdown(&r.version));
    println!(
        "\nreport {} version {} of {:?} (template {})",
        r.id, r.version.n, r.versions, r.template
    );
}

pub(crate) fn report(s: &Settings, as_user: Option<&str>, cmd: ReportCommand) -> Result<i32> {
    let session = session(s, as_user)?;
    match cmd {
        ReportCommand::Templates { json } => {
            // Listing needs no data directory: templates hold no data.
            let all = templates(s);
            let list = sextant_app::report::templates_for(&session, &all)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for t in list {
                    let params: Vec<String> = t
                        .params
                        .iter()
                        .map(|p| match &p.default {
                            Some(d) => format!("[{}={d}]", p.name),
                            None => p.name.clone(),
                        })
                        .collect();
                    println!("{:<16} {}", t.name, t.description);
                    println!(
                        "{:<16} params: {}; sections: {}",
                        "",
                        params.join(" "),
                        t.sections
                            .iter()
                            .map(|x| x.heading.as_str())
                            .collect::<Vec<_>>()
                            .join(" | ")
                    );
                }
            }
            Ok(0)
        }
        ReportCommand::New {
            template,
            params,
            model,
            json,
        } => {
            let mut map = std::collections::BTreeMap::new();
            for p in params {
                let (k, v) = p
                    .split_once('=')
                    .with_context(|| format!("--param {p:?}: write KEY=VALUE"))?;
                map.insert(k.trim().to_string(), v.to_string());
            }
            let id = model.unwrap_or_else(|| s.assist.default_model.clone());
            let app = report_app(s, Some(&id))?;
            let input = ReportInput {
                template,
                params: map,
                model: Some(id),
            };
            let r = app.report_new(&session, &input, |done, total, sec| {
                if !json {
                    eprintln!(
                        "[{done}/{total}] {}{}",
                        sec.heading,
                        if sec.empty {
                            " (no reporting found)"
                        } else {
                            ""
                        }
                    );
                }
                true
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_version(&r);
            }
            Ok(0)
        }
        ReportCommand::List { json } => {
            let list = report_app(s, None)?.report_list(&session)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for r in list {
                    println!(
                        "{}  v{}  {:<24} {}",
                        r["id"].as_str().unwrap_or(""),
                        r["version"],
                        r["banner"].as_str().unwrap_or(""),
                        r["title"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(0)
        }
        ReportCommand::Show { id, version, json } => {
            let r = report_app(s, None)?.report_get(&session, &id, version)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_version(&r);
            }
            Ok(0)
        }
        ReportCommand::Diff { id, from, to, json } => {
            let d = report_app(s, None)?.report_diff(&session, &id, from, to)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                print_diff(&d);
            }
            Ok(0)
        }
        ReportCommand::Refine {
            id,
            section,
            instruction,
            text_file,
            marking,
            remove,
            move_to,
            json,
        } => {
            let how = match (instruction, text_file, remove, move_to) {
                (Some(i), None, false, None) => Refinement::Instruction(i),
                (None, Some(f), false, None) => Refinement::Text {
                    text: std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read {}", f.display()))?,
                    marking: marking.context("--text-file needs --marking")?,
                },
                (None, None, true, None) => Refinement::Remove,
                (None, None, false, Some(k)) => Refinement::MoveTo(k),
                _ => anyhow::bail!(
                    "say what to do: --instruction TEXT, --text-file F --marking M, --remove or --move-to K"
                ),
            };
            // Only a regeneration needs the model the report was written with.
            let app = match &how {
                Refinement::Instruction(_) => app_with_model_of(s, &id)?,
                _ => report_app(s, None)?,
            };
            let r = app.report_refine(&session, &id, section, how)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_version(&r);
                eprintln!("{}", r.version.change);
            }
            Ok(0)
        }
        ReportCommand::Refresh { id, json } => {
            let r = app_with_model_of(s, &id)?.report_refresh(&session, &id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                match &r.diff {
                    None => println!(
                        "report {id}: nothing it rests on changed (still version {})",
                        r.report.version.n
                    ),
                    Some(d) => {
                        print_diff(d);
                        println!(
                            "\nreport {id} version {}: {}",
                            r.report.version.n, r.report.version.change
                        );
                    }
                }
            }
            Ok(0)
        }
        ReportCommand::Export {
            id,
            format,
            output,
            version,
        } => {
            let format: ExportFormat = format.parse()?;
            let text = report_app(s, None)?.report_export(&session, &id, version, format)?;
            let tmp = output.with_extension("part");
            let mut f = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &output)?;
            eprintln!("wrote {}", output.display());
            Ok(0)
        }
    }
}
