//! `sextant models`: fetch, verify and list the pinned models.

use crate::*;

pub(crate) fn models(s: &Settings, cmd: ModelsCommand) -> Result<i32> {
    let manifest = Manifest::builtin();
    match cmd {
        ModelsCommand::Fetch { only } => {
            let cache = fetch::default_cache_dir();
            for spec in &manifest.models {
                if !only.is_empty() && !only.contains(&spec.id) {
                    continue;
                }
                let t0 = Instant::now();
                let report = fetch::fetch_model(spec, &s.models_dir, &cache)
                    .with_context(|| format!("model {}", spec.id))?;
                for (file, what) in report {
                    let what = match what {
                        fetch::Fetched::AlreadyVerified => "already verified",
                        fetch::Fetched::Installed => "installed and verified",
                    };
                    println!("{:<30} {:<18} {what}", spec.id, file);
                }
                tracing::info!(model = %spec.id, seconds = t0.elapsed().as_secs_f64(), "model ready");
            }
            if let Some(bad) = only.iter().find(|id| manifest.get(id).is_none()) {
                bail!("no model {bad:?} in the manifest");
            }
            Ok(0)
        }
        ModelsCommand::List { json } => {
            let mut rows = Vec::new();
            for spec in &manifest.models {
                let states = fetch::model_state(spec, &s.models_dir)?;
                let status = if states
                    .iter()
                    .all(|(_, st)| *st == fetch::FileState::Verified)
                {
                    "verified"
                } else if states
                    .iter()
                    .any(|(_, st)| *st == fetch::FileState::Mismatch)
                {
                    "corrupt"
                } else {
                    "missing"
                };
                let packages: Vec<String> = spec
                    .sources
                    .iter()
                    .map(|p| {
                        format!(
                            "{}:{}@{}",
                            match p.registry {
                                sextant_models::manifest::Registry::Pypi => "pypi",
                                sextant_models::manifest::Registry::Npm => "npm",
                            },
                            p.package,
                            p.version
                        )
                    })
                    .collect();
                rows.push(serde_json::json!({
                    "id": spec.id,
                    "kind": match spec.kind { sextant_models::ModelKind::Embedding => "embedding", sextant_models::ModelKind::Chat => "chat" },
                    "status": status,
                    "license": spec.license,
                    "packages": packages,
                    "files": states.iter().map(|(n, st)| serde_json::json!({"name": n, "state": format!("{st:?}").to_lowercase()})).collect::<Vec<_>>(),
                }));
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "models": rows }))?
                );
            } else {
                println!("{:<30} {:<10} {:<9} packages", "MODEL", "KIND", "STATUS");
                for r in &rows {
                    println!(
                        "{:<30} {:<10} {:<9} {}",
                        r["id"].as_str().unwrap_or(""),
                        r["kind"].as_str().unwrap_or(""),
                        r["status"].as_str().unwrap_or(""),
                        r["packages"]
                            .as_array()
                            .map(|a| a
                                .iter()
                                .filter_map(|v| v.as_str())
                                .collect::<Vec<_>>()
                                .join(" "))
                            .unwrap_or_default()
                    );
                }
                println!("models directory: {}", s.models_dir.display());
            }
            Ok(0)
        }
    }
}
