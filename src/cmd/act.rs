//! `sextant act`: a request to the connected systems, with confirmation of changing calls.

use crate::*;
use sextant_app::act::{ActInput, Acted, Connect};
use std::io::{BufRead, IsTerminal, Write};

/// The connected systems of `s`: the connectors that load (the others are reported on stderr)
/// and the call records under the data directory.
pub(crate) fn connect(s: &Settings) -> Result<Connect> {
    let dir = s.connectors_dir();
    let (connectors, errors) = sextant_connect::load_dir(&dir);
    for e in errors {
        eprintln!("warning: connector not loaded: {e}");
    }
    let calls = sextant_connect::record::CallStore::open(&s.data_dir.join("calls"))
        .with_context(|| format!("cannot open the call records in {}", s.data_dir.display()))?;
    Ok(Connect::new(connectors, calls))
}

fn print(a: &Acted) {
    println!("{}", a.marking);
    println!("{}", a.answer);
    for c in &a.citations {
        println!(
            "  [{}] {} {} {} — {}",
            c["n"],
            c["connector"].as_str().unwrap_or(""),
            c["request"].as_str().unwrap_or(""),
            c["path"].as_str().unwrap_or(""),
            c["quote"].as_str().unwrap_or("")
        );
    }
    for c in &a.calls {
        println!(
            "  call {} {:?}: {} {} {}",
            c.id,
            c.state,
            c.method,
            c.url,
            c.status.map(|x| format!("-> {x}")).unwrap_or_default()
        );
    }
    println!("{}", a.marking);
}

pub(crate) fn act(
    s: &Settings,
    actor: &Session,
    request: &str,
    connectors: Vec<String>,
    model: Option<String>,
    yes: bool,
    json: bool,
) -> Result<i32> {
    let id = model.unwrap_or_else(|| s.assist.default_model.clone());
    let mut app = app(s, Some(load_embedder(s)?), std::slice::from_ref(&id))?
        .with_connect(std::sync::Arc::new(connect(s)?));
    // Places in the request ("within 50 km of Paris") become areas with the gazetteer.
    app.options.geo = geo_data(s);
    let mut out = app.act(
        actor,
        &ActInput {
            request: request.to_string(),
            connectors,
            model: Some(id),
        },
    )?;
    if out.status == "pending" {
        let pending: Vec<_> = out
            .calls
            .iter()
            .filter(|c| c.state == sextant_connect::record::CallState::Pending)
            .cloned()
            .collect();
        for c in pending {
            let go = if yes {
                true
            } else if std::io::stdin().is_terminal() && !json {
                eprint!("{}\nRun this call? [y/N] ", c.summary);
                std::io::stderr().flush()?;
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                matches!(line.trim(), "y" | "Y" | "yes")
            } else {
                false
            };
            if go {
                out = app.confirm(actor, &c.id, request)?;
            } else if std::io::stdin().is_terminal() && !json {
                app.deny(actor, &c.id)?;
                out.status = "refused";
                out.answer = format!("Not run: {}", c.summary);
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print(&out);
    }
    Ok(0)
}
