//! `sextant report`: templated reports.

use crate::*;

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
    }
}
