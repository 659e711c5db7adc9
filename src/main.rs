//! `sextant`: the command-line interface and server entry point. The only place (with the
//! server crate) that knows about clap, terminals, exit codes and the tracing subscriber.

mod claims;
mod eval;
mod qa;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use sextant_access::Marking;
use sextant_audit::{AuditLog, Event, Outcome};
use sextant_auth::Role;
use sextant_config::{FusionKind, Settings};
use sextant_ingest::{ChunkConfig, CsvColumns, GeoData, IngestOptions, MarkingPolicy};
use sextant_models::{fetch, Manifest};
use sextant_retrieve::{Fusion, Retriever, SearchRequest};
use sextant_server::wire::{SearchResponse, WireHit};

use sextant_spatial::Area;
use sextant_store::{Store, Viewer};
use sextant_types::{DocId, SearchMode};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "sextant",
    version,
    about = "Air-gapped retrieval assistant: ingest documents, search them, offline."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Data directory [env: SEXTANT_DATA] [default: ./sextant-data]
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Models directory [env: SEXTANT_MODELS] [default: ./models]
    #[arg(long, global = true)]
    models_dir: Option<PathBuf>,
    /// Settings file [env: SEXTANT_CONFIG] [default: ./config/sextant.toml if present]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Act as this user (from the users file): see and do exactly what they may, through the
    /// same code path as the server. Without it the CLI is the local administrator.
    #[arg(long = "as", global = true, value_name = "USER")]
    as_user: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch, verify and list the local models.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Ingest files and directories (recursively): .txt .md .html .htm .pdf .docx
    Ingest {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Commit the text only (BM25-searchable at once) and leave the embeddings to
        /// `sextant serve`, which computes them in the background, or to the next ingest.
        #[arg(long)]
        no_embed: bool,
        /// Classification marking for documents (and portions) that carry none, e.g.
        /// "SECRET//NOFORN"; also overrides marks in a document that cannot be parsed.
        #[arg(long)]
        marking: Option<String>,
        #[command(flatten)]
        feed: FeedArgs,
    },
    /// Remove a document by id or by the path it was ingested from.
    Delete { target: String },
    /// Search the store (in an area with --bbox, --within, --near or --country; an empty
    /// QUERY then lists what lies in the area).
    Search {
        query: String,
        #[arg(long, default_value_t = 10)]
        k: usize,
        #[arg(long, default_value = "hybrid")]
        mode: SearchMode,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        area: AreaArgs,
    },
    /// Answer a question from the documents, with verified citations (or an abstention).
    Ask {
        question: String,
        /// Chat model id (see `sextant models list`).
        #[arg(long)]
        model: Option<String>,
        /// Chunks to retrieve.
        #[arg(long)]
        k: Option<usize>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        area: AreaArgs,
    },
    /// Answer one question with several models over the same retrieval, side by side.
    Compare {
        question: String,
        /// Comma-separated model ids.
        #[arg(long, value_delimiter = ',', required = true)]
        models: Vec<String>,
        #[arg(long)]
        k: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Counts of documents, chunks and vectors.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Evaluations.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Serve the HTTP API (bearer-token authentication; TLS when configured).
    Serve {
        /// Address to bind [env: SEXTANT_ADDR] [default: 127.0.0.1:8080]
        #[arg(long)]
        addr: Option<String>,
        /// Serve WITHOUT authentication: every caller sees everything. Development only.
        #[arg(long)]
        insecure_dev: bool,
        /// Also accept a TAK-style Cursor-on-Target TCP stream on ADDR (no authentication on
        /// that port: bind it to a trusted interface).
        #[arg(long, value_name = "ADDR")]
        cot_listen: Option<String>,
        /// Feed name of the events received on --cot-listen.
        #[arg(long, default_value = "cot")]
        cot_feed: String,
    },
    /// Manage users (clearance, compartments, citizenship, roles) and their API tokens.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Add a user; prints their API token once, alone on the last line.
    Add {
        name: String,
        /// UNCLASSIFIED, CUI, CONFIDENTIAL, SECRET or TOP SECRET.
        #[arg(long)]
        clearance: String,
        /// SCI control systems / compartments and SAP programs, comma-separated.
        #[arg(long, value_delimiter = ',')]
        sci: Vec<String>,
        /// ISO 3166 trigraph.
        #[arg(long, default_value = "USA")]
        citizenship: String,
        /// reader, ingester, admin (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "reader")]
        roles: Vec<String>,
        /// Client certificate (PEM or DER) that logs in as this user over mutual TLS.
        #[arg(long)]
        cert: Option<PathBuf>,
    },
    /// List users (never tokens).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a user; their token stops working at once.
    Remove { name: String },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain; exits non-zero and names the first broken record when it is broken.
    Verify {
        /// Audit log [default: <data-dir>/audit.jsonl]
        file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Download (through the cache), verify and install every model in the manifest.
    Fetch {
        /// Only these model ids.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Show each model and whether it is installed and verified.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// nDCG@10, Recall@100 and MRR@10 on a BEIR-format set, indexed into a temporary store.
    Retrieval(eval::RetrievalArgs),
    /// Exact match, token F1, answer-in-quote and abstention rates on a QA set.
    Qa(qa::QaArgs),
    /// Precision and recall of the citation verifier on labelled (claim, quote) pairs, and the
    /// reversals it accepted.
    Claims(claims::ClaimsArgs),
}

/// A search area: at most one of these.
#[derive(Args, Debug, Clone, Default)]
#[group(multiple = false)]
struct AreaArgs {
    /// Bounding box MINLON,MINLAT,MAXLON,MAXLAT (degrees; MINLON > MAXLON crosses 180°).
    #[arg(
        long,
        value_name = "MINLON,MINLAT,MAXLON,MAXLAT",
        allow_hyphen_values = true
    )]
    bbox: Option<String>,
    /// A GeoJSON file: a Polygon/MultiPolygon geometry, a Feature, or a FeatureCollection.
    #[arg(long, value_name = "AREA.geojson")]
    within: Option<PathBuf>,
    /// Within KM kilometres (geodesic) of LAT,LON.
    #[arg(long, value_name = "LAT,LON,KM", allow_hyphen_values = true)]
    near: Option<String>,
    /// Inside a country's Natural Earth polygon: ISO code (FR, FRA, 250) or English name.
    #[arg(long, value_name = "CODE")]
    country: Option<String>,
}

impl AreaArgs {
    /// The area, if one was given.
    fn resolve(&self, s: &Settings) -> Result<Option<Area>> {
        let area = if let Some(b) = &self.bbox {
            Area::parse_bbox(b).map_err(|e| anyhow::anyhow!("--bbox {b:?}: {e}"))?
        } else if let Some(n) = &self.near {
            Area::parse_near(n).map_err(|e| anyhow::anyhow!("--near {n:?}: {e}"))?
        } else if let Some(path) = &self.within {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--within {}", path.display()))?;
            sextant_geodata::area::area_from_geojson(&text)
                .map_err(|e| anyhow::anyhow!("--within {}: {e}", path.display()))?
        } else if let Some(c) = &self.country {
            let geo = GeoData::load(&s.geo_dir()).map_err(|e| {
                anyhow::anyhow!("--country needs the Natural Earth polygons ({e}); run `scripts/fetch-data.sh geo`")
            })?;
            sextant_geodata::area::country_area(c, Some(&geo))
                .map_err(|e| anyhow::anyhow!("--country {c:?}: {e}"))?
        } else {
            return Ok(None);
        };
        Ok(Some(area))
    }
}

/// How feed files are read.
#[derive(Args, Debug, Clone, Default)]
struct FeedArgs {
    /// Feed name for feed files (GeoJSON, KML, GPX, CSV, CoT); default: the file's stem.
    #[arg(long)]
    feed: Option<String>,
    /// CSV column holding latitudes (default: detected from the header).
    #[arg(long, value_name = "COLUMN")]
    lat_column: Option<String>,
    /// CSV column holding longitudes (default: detected from the header).
    #[arg(long, value_name = "COLUMN")]
    lon_column: Option<String>,
}

/// The gazetteer for geotagging, when enabled and installed (a missing one is reported once and
/// ingest goes on without places).
fn geo_data(s: &Settings) -> Option<Arc<GeoData>> {
    if !s.geo.geotag {
        return None;
    }
    match GeoData::load(&s.geo_dir()) {
        Ok(g) => Some(Arc::new(g)),
        Err(e) => {
            eprintln!("note: geotagging is off: {e} (run `scripts/fetch-data.sh geo`)");
            None
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let serving = matches!(cli.command, Command::Serve { .. });
    let default_level = if serving { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn settings(g: &Global) -> Result<Settings> {
    let mut s = Settings::load(g.config.as_deref())?;
    if let Some(d) = &g.data_dir {
        s.data_dir = d.clone();
    }
    if let Some(d) = &g.models_dir {
        s.models_dir = d.clone();
    }
    Ok(s)
}

fn fusion(s: &Settings) -> Fusion {
    match s.search.fusion {
        FusionKind::Rrf => Fusion::Rrf { k: s.search.rrf_k },
        FusionKind::Blend => Fusion::Blend {
            bm25_weight: s.search.blend_bm25_weight,
        },
    }
}

fn chunking(s: &Settings) -> ChunkConfig {
    ChunkConfig {
        min_chars: s.ingest.chunk_min_chars,
        target_chars: s.ingest.chunk_target_chars,
    }
}

fn load_embedder(s: &Settings) -> Result<sextant_models::Embedder> {
    sextant_models::load_default_embedder(&s.models_dir).context("cannot load the embedding model")
}

/// Opens (or creates) the store for writing, with the embedder it was built for.
fn open_for_writing(s: &Settings) -> Result<(Arc<Store>, sextant_models::Embedder)> {
    let embedder = load_embedder(s)?;
    let store = Store::open(&s.data_dir, embedder.model_id(), embedder.dim())
        .with_context(|| format!("cannot open data directory {}", s.data_dir.display()))?;
    store.reconcile().context("reconciling the vector index")?;
    Ok((Arc::new(store), embedder))
}

fn open_existing(s: &Settings) -> Result<Arc<Store>> {
    let store = Store::open_existing(&s.data_dir)
        .with_context(|| format!("cannot open data directory {}", s.data_dir.display()))?;
    Ok(Arc::new(store))
}

/// Who the CLI acts as: the local administrator, or a named user (`--as`).
struct Actor {
    name: String,
    viewer: Viewer,
    /// `None`: the local administrator, who may do everything.
    roles: Option<std::collections::BTreeSet<Role>>,
}

impl Actor {
    fn require(&self, role: Role) -> Result<()> {
        match &self.roles {
            Some(r) if !r.contains(&role) => {
                bail!(
                    "user {} does not have the {} role",
                    self.name,
                    role.as_str()
                )
            }
            _ => Ok(()),
        }
    }

    /// Document identities of a named user live in their own namespace.
    fn namespace(&self) -> Option<String> {
        self.roles.as_ref().map(|_| format!("user:{}", self.name))
    }

    fn event(&self, action: &str) -> Event {
        Event::new(self.name.clone(), action).client("cli")
    }
}

fn actor(s: &Settings, as_user: Option<&str>) -> Result<Actor> {
    match as_user {
        None => Ok(Actor {
            name: format!(
                "local-admin:{}",
                std::env::var("USER").unwrap_or_else(|_| "?".into())
            ),
            viewer: Viewer::Unrestricted,
            roles: None,
        }),
        Some(name) => {
            let users = sextant_auth::Users::open(&s.users_file())
                .with_context(|| format!("reading {}", s.users_file().display()))?;
            let p = users
                .get(name)
                .with_context(|| format!("no user {name:?} in {}", s.users_file().display()))?;
            Ok(Actor {
                name: p.name,
                viewer: Viewer::Cleared(p.access),
                roles: Some(p.roles),
            })
        }
    }
}

fn audit_log(s: &Settings) -> Result<AuditLog> {
    let path = s.audit_file();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    AuditLog::open(&path).with_context(|| format!("opening the audit log {}", path.display()))
}

fn record(log: &AuditLog, ev: Event) -> Result<()> {
    log.record(&ev).context("writing the audit log")?;
    Ok(())
}

fn run(cli: Cli) -> Result<i32> {
    let s = settings(&cli.global)?;
    let as_user = cli.global.as_user.as_deref();
    match cli.command {
        Command::Models { command } => models(&s, command),
        Command::Users { command } => users(&s, command),
        Command::Audit {
            command: AuditCommand::Verify { file, json },
        } => audit_verify(&s, file, json),
        Command::Ingest {
            paths,
            json,
            no_embed,
            marking,
            feed,
        } => ingest(
            &s,
            &actor(&s, as_user)?,
            &paths,
            json,
            no_embed,
            marking,
            feed,
        ),
        Command::Delete { target } => delete(&s, &actor(&s, as_user)?, &target),
        Command::Search {
            query,
            k,
            mode,
            json,
            area,
        } => search(&s, &actor(&s, as_user)?, &query, k, mode, json, &area),
        Command::Status { json } => status(&s, &actor(&s, as_user)?, json),
        Command::Ask {
            question,
            model,
            k,
            json,
            area,
        } => ask(&s, &actor(&s, as_user)?, &question, model, k, json, &area),
        Command::Compare {
            question,
            models,
            k,
            json,
        } => compare(&s, &actor(&s, as_user)?, &question, &models, k, json),
        Command::Eval {
            command: EvalCommand::Qa(args),
        } => qa::qa(&s, args, chunking(&s), actor(&s, as_user)?.viewer),
        Command::Eval {
            command: EvalCommand::Claims(args),
        } => claims::claims(&s, args),
        Command::Eval {
            command: EvalCommand::Retrieval(args),
        } => eval::retrieval(
            &s,
            args,
            fusion(&s),
            chunking(&s),
            actor(&s, as_user)?.viewer,
        ),
        Command::Serve {
            addr,
            insecure_dev,
            cot_listen,
            cot_feed,
        } => {
            if as_user.is_some() {
                bail!("--as does not apply to serve: callers authenticate themselves");
            }
            serve(&s, addr, insecure_dev, cot_listen.map(|a| (a, cot_feed)))
        }
    }
}

fn users(s: &Settings, cmd: UsersCommand) -> Result<i32> {
    let path = s.users_file();
    let log = audit_log(s)?;
    let admin = actor(s, None)?;
    match cmd {
        UsersCommand::Add {
            name,
            clearance,
            sci,
            citizenship,
            roles,
            cert,
        } => {
            let roles = roles
                .iter()
                .map(|r| r.parse::<Role>())
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let cert_sha256 = match cert {
                Some(p) => vec![cert_fingerprint(&p)?],
                None => Vec::new(),
            };
            let token = sextant_auth::add_user(
                &path,
                sextant_auth::NewUser {
                    name: name.clone(),
                    clearance: clearance.clone(),
                    sci: sci.clone(),
                    citizenship: citizenship.clone(),
                    roles: roles.clone(),
                    cert_sha256,
                },
            )?;
            record(
                &log,
                admin.event("user.add").marking("UNCLASSIFIED").detail(format!(
                    "{name}: clearance {clearance}, sci [{}], citizenship {citizenship}, roles [{}]",
                    sci.join(","),
                    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
                )),
            )?;
            println!("added user {name} to {}", path.display());
            println!("API token (shown once; store it safely):");
            println!("{token}");
            Ok(0)
        }
        UsersCommand::List { json } => {
            let list = sextant_auth::list_users(&path)?;
            if json {
                let rows: Vec<serde_json::Value> = list
                    .iter()
                    .map(|u| {
                        serde_json::json!({"name": u.name, "clearance": u.clearance, "sci": u.sci,
                            "citizenship": u.citizenship, "roles": u.roles, "certificates": u.cert_sha256.len()})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<20} {:<13} {:<20} {:<4} roles",
                    "NAME", "CLEARANCE", "SCI", "CIT"
                );
                for u in &list {
                    println!(
                        "{:<20} {:<13} {:<20} {:<4} {}",
                        u.name,
                        u.clearance,
                        u.sci.join(","),
                        u.citizenship,
                        u.roles
                            .iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                }
            }
            Ok(0)
        }
        UsersCommand::Remove { name } => {
            if sextant_auth::remove_user(&path, &name)? {
                record(
                    &log,
                    admin
                        .event("user.remove")
                        .marking("UNCLASSIFIED")
                        .detail(name.clone()),
                )?;
                println!("removed user {name}");
                Ok(0)
            } else {
                eprintln!("error: no user {name:?} in {}", path.display());
                Ok(1)
            }
        }
    }
}

/// SHA-256 of a certificate file's first certificate (PEM or DER), as mutual TLS sees it.
fn cert_fingerprint(path: &Path) -> Result<String> {
    use rustls_pki_types::pem::PemObject;
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let der = match rustls_pki_types::CertificateDer::from_pem_slice(&raw) {
        Ok(c) => c.as_ref().to_vec(),
        Err(_) => raw,
    };
    Ok(sextant_server::tls::fingerprint(&der))
}

fn audit_verify(s: &Settings, file: Option<PathBuf>, json: bool) -> Result<i32> {
    let path = file.unwrap_or_else(|| s.audit_file());
    let v = sextant_audit::verify(&path)
        .with_context(|| format!("reading the audit log {}", path.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        match &v.broken {
            None => println!(
                "{}: {} records, chain intact; head {}",
                path.display(),
                v.records,
                v.head.as_deref().unwrap_or("(empty)")
            ),
            Some(b) => println!(
                "{}: BROKEN at record {} (line {}): {}",
                path.display(),
                b.seq.map_or("?".to_string(), |q| q.to_string()),
                b.line,
                b.reason
            ),
        }
    }
    Ok(if v.broken.is_some() { 1 } else { 0 })
}

fn models(s: &Settings, cmd: ModelsCommand) -> Result<i32> {
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

fn marking_policy(s: &Settings, explicit: Option<&str>) -> Result<MarkingPolicy> {
    let default = Marking::parse(&s.security.default_marking).with_context(|| {
        format!(
            "[security] default_marking {:?}",
            s.security.default_marking
        )
    })?;
    let explicit = explicit
        .map(|m| Marking::parse(m).with_context(|| format!("--marking {m:?}")))
        .transpose()?;
    Ok(MarkingPolicy { explicit, default })
}

fn ingest(
    s: &Settings,
    actor: &Actor,
    paths: &[PathBuf],
    json: bool,
    no_embed: bool,
    marking: Option<String>,
    feed: FeedArgs,
) -> Result<i32> {
    actor.require(Role::Ingester)?;
    let policy = marking_policy(s, marking.as_deref())?;
    let (store, embedder) = open_for_writing(s)?;
    let log = audit_log(s)?;
    let t0 = Instant::now();
    // Vectors catch up on their own thread while text is parsed and committed.
    let text_done = Arc::new(AtomicBool::new(false));
    // With --no-embed the catch-up loop is stopped from the start.
    let skip = Arc::new(AtomicBool::new(no_embed));
    let catchup =
        sextant_ingest::spawn_catch_up(store.clone(), embedder.clone(), text_done.clone(), skip);
    let bar = if std::io::stderr().is_terminal() && !json {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {wide_msg}",
            )
            .expect("valid template"),
        );
        Some(b)
    } else {
        None
    };
    let opts = IngestOptions {
        chunking: chunking(s),
        batch_docs: s.ingest.batch_docs,
        marking: policy,
        namespace: actor.namespace(),
        geo: geo_data(s),
        feed: feed.feed,
        csv: CsvColumns {
            lat: feed.lat_column,
            lon: feed.lon_column,
        },
        ..Default::default()
    };
    let report = sextant_ingest::ingest_files(
        &store,
        paths,
        &opts,
        &actor.viewer,
        &mut |done, total, path| {
            if let Some(b) = &bar {
                b.set_length(total as u64);
                b.set_position(done as u64);
                b.set_message(
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
            }
        },
    );
    let text_seconds = t0.elapsed().as_secs_f64();
    text_done.store(true, Ordering::SeqCst);
    if let Some(b) = &bar {
        b.set_message("embedding…");
    }
    let vectors = catchup
        .join()
        .map_err(|_| anyhow::anyhow!("the embedding thread panicked"))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report = report.context("ingest failed")?;
    let marks: Vec<String> = report
        .outcomes
        .iter()
        .filter_map(|(_, o)| {
            store
                .document_meta(o.doc_id(), &Viewer::Unrestricted)
                .ok()
                .flatten()
        })
        .map(|m| m.marking)
        .collect();
    record(
        &log,
        actor
            .event("ingest")
            .marking(sextant_assist::rollup(marks.iter().map(String::as_str))?.banner())
            .outcome(if report.failed.is_empty() {
                Outcome::Success
            } else {
                Outcome::Failure
            })
            .docs(report.outcomes.iter().map(|(_, o)| o.doc_id().to_string()))
            .detail(format!(
                "{} files: {} new, {} replaced, {} unchanged, {} failed",
                report.files,
                report.new,
                report.replaced,
                report.unchanged,
                report.failed.len()
            )),
    )?;
    let vectors = vectors
        .context("embedding failed (text is committed; rerun ingest to finish the vectors)")?;
    store
        .vectors()
        .checkpoint()
        .context("snapshotting the vector index")?;
    let status = store.status(&actor.viewer)?;
    let total_seconds = t0.elapsed().as_secs_f64();
    if json {
        let out = serde_json::json!({
            "files": report.files, "new": report.new, "replaced": report.replaced, "unchanged": report.unchanged,
            "chunks": report.chunks, "bytes": report.bytes, "vectors_added": vectors,
            "skipped": report.skipped.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "failed": report.failed.iter().map(|(p, e)| serde_json::json!({"path": p.display().to_string(), "error": e})).collect::<Vec<_>>(),
            "documents": report.outcomes.iter().map(|(p, o)| serde_json::json!({"path": p.display().to_string(), "doc_id": o.doc_id().to_string()})).collect::<Vec<_>>(),
            "text_seconds": text_seconds, "seconds": total_seconds,
            "store": {"documents": status.documents, "chunks": status.chunks, "vectors": status.vectors, "vectors_pending": status.vectors_pending},
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for (p, e) in &report.failed {
            eprintln!("failed: {}: {e}", p.display());
        }
        let vectors_line = if status.vectors_complete() {
            format!("vectors complete after {total_seconds:.1}s")
        } else {
            format!(
                "{} chunks still need vectors (`sextant serve` computes them)",
                status.vectors_pending
            )
        };
        println!(
            "{} files: {} new, {} replaced, {} unchanged, {} skipped, {} failed; {} chunks, {} vectors added; searchable (BM25) after {:.1}s, {vectors_line}",
            report.files, report.new, report.replaced, report.unchanged, report.skipped.len(), report.failed.len(),
            report.chunks, vectors, text_seconds
        );
    }
    Ok(if report.failed.is_empty() { 0 } else { 2 })
}

fn delete(s: &Settings, actor: &Actor, target: &str) -> Result<i32> {
    let admin = actor
        .roles
        .as_ref()
        .is_none_or(|r| r.contains(&Role::Admin));
    if !admin {
        actor.require(Role::Ingester)?;
    }
    let store = open_existing(s)?;
    let log = audit_log(s)?;
    let id = match DocId::parse(target) {
        Some(id) if store.document_meta(&id, &actor.viewer)?.is_some() => id,
        _ => {
            let p = Path::new(target);
            let abs = std::fs::canonicalize(p).or_else(|_| std::path::absolute(p))?;
            sextant_ingest::doc_id_for(&sextant_ingest::namespaced(
                actor.namespace().as_deref(),
                &abs.to_string_lossy(),
            ))
        }
    };
    let ev = actor.event("delete").docs([id.to_string()]);
    match sextant_ingest::delete_document(
        &store,
        &id,
        &actor.viewer,
        actor.namespace().as_deref(),
        admin,
    )? {
        sextant_ingest::Deleted::Deleted { marking } => {
            record(&log, ev.marking(marking))?;
            println!("deleted {id}");
            Ok(0)
        }
        sextant_ingest::Deleted::NotOwner { marking } => {
            record(&log, ev.marking(marking).outcome(Outcome::Denied))?;
            eprintln!("error: {id} was ingested by someone else; only they or an administrator may delete it");
            Ok(1)
        }
        sextant_ingest::Deleted::NotFound => {
            record(&log, ev.outcome(Outcome::Failure))?;
            eprintln!("error: no document {target:?} in {}", s.data_dir.display());
            Ok(1)
        }
    }
}

fn search(
    s: &Settings,
    actor: &Actor,
    query: &str,
    k: usize,
    mode: SearchMode,
    json: bool,
    area: &AreaArgs,
) -> Result<i32> {
    actor.require(Role::Reader)?;
    let area = area.resolve(s)?;
    if area.is_none() && query.trim().is_empty() {
        anyhow::bail!("the query is empty: give one, or an area (--bbox, --within, --near, --country) to list what lies in it");
    }
    let store = open_existing(s)?;
    let log = audit_log(s)?;
    let embedder = match mode {
        SearchMode::Bm25 => None,
        _ => Some(load_embedder(s)?),
    };
    let retriever = Retriever::new(store, embedder);
    let mut req = SearchRequest::new(query, k, mode).in_area(area);
    req.fusion = fusion(s);
    let hits = retriever.search(&req, &actor.viewer)?;
    let marking = sextant_assist::rollup(hits.iter().map(|h| h.marking.as_str()))?.banner();
    record(
        &log,
        actor
            .event("search")
            .marking(&marking)
            .query(query)
            .docs(hits.iter().map(|h| h.doc_id.to_string()))
            .chunks(hits.iter().map(|h| h.chunk_id.0)),
    )?;
    if json {
        let resp = SearchResponse {
            marking,
            hits: hits.into_iter().map(WireHit::from).collect(),
        };
        println!("{}", serde_json::to_string(&resp)?);
    } else if hits.is_empty() {
        println!("{marking}\nno results");
    } else {
        println!("{marking}");
        for (i, h) in hits.iter().enumerate() {
            let page = h.page.map(|p| format!(" p.{p}")).unwrap_or_default();
            println!(
                "{:>2}. {:.4}  ({}) {} [{}]{}  ({}:{}..{})",
                i + 1,
                h.score,
                h.marking,
                h.title,
                h.doc_id,
                page,
                h.source,
                h.start,
                h.end
            );
            if let Some(g) = &h.geometry {
                let at = g
                    .anchor()
                    .map(|[lon, lat]| format!("{lat:.4}, {lon:.4}"))
                    .unwrap_or_default();
                let km = h
                    .distance_km
                    .map(|d| format!(", {d:.1} km away"))
                    .unwrap_or_default();
                println!("    place: {at}{km}");
            }
            let snippet: String = h
                .text
                .chars()
                .take(240)
                .collect::<String>()
                .replace('\n', " ");
            println!("    {snippet}");
        }
    }
    Ok(0)
}

fn status(s: &Settings, actor: &Actor, json: bool) -> Result<i32> {
    let store = open_existing(s)?;
    let st = store.status(&actor.viewer)?;
    let m = store.manifest();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "data_dir": s.data_dir.display().to_string(), "format_version": m.format_version,
                "embedding_model": m.embedding_model, "embedding_dim": m.embedding_dim,
                "documents": st.documents, "chunks": st.chunks, "vectors": st.vectors,
                "vectors_pending": st.vectors_pending, "vectors_complete": st.vectors_complete(),
            })
        );
    } else {
        println!(
            "data directory: {} (format {})",
            s.data_dir.display(),
            m.format_version
        );
        println!(
            "embedding model: {} ({} dims)",
            m.embedding_model, m.embedding_dim
        );
        println!(
            "documents: {}\nchunks: {}\nvectors: {}",
            st.documents, st.chunks, st.vectors
        );
        if st.vectors_complete() {
            println!("vectors: complete");
        } else {
            println!("vectors: INCOMPLETE, {} chunks waiting (BM25 finds them already; `sextant serve` or `sextant ingest` finishes them)", st.vectors_pending);
        }
    }
    Ok(0)
}

/// The assistant over `retriever`, with the chat models `ids` loaded (failures are kept and
/// reported per model).
fn assistant(
    s: &Settings,
    retriever: Arc<Retriever>,
    ids: &[String],
) -> Result<sextant_assist::Assistant> {
    assistant_with(s, retriever, ids, None)
}

fn assistant_with(
    s: &Settings,
    retriever: Arc<Retriever>,
    ids: &[String],
    weights: Option<sextant_models::WeightFormat>,
) -> Result<sextant_assist::Assistant> {
    let a = &s.assist;
    let options = sextant_assist::Options {
        k: a.k,
        max_sources: a.max_sources,
        max_tokens: a.max_tokens,
        min_coverage: a.min_coverage,
        min_evidence: a.min_evidence,
        none_threshold: a.none_threshold,
        judge_threshold: a.judge_threshold,
        min_statement_coverage: a.min_statement_coverage,
        ..Default::default()
    };
    let models = sextant_assist::load_models(&s.models_dir, ids, a.queue, weights);
    Ok(sextant_assist::Assistant::new(
        retriever,
        models,
        a.default_model.clone(),
        options,
    ))
}

fn print_answer(a: &sextant_assist::Answer) {
    println!("{}", a.marking);
    println!("{}", a.answer);
    for c in &a.citations {
        let page = c.page.map(|p| format!(", page {p}")).unwrap_or_default();
        println!(
            "  [{}] ({}) {} ({}{page}, characters {}-{}): \"{}\"",
            c.n, c.marking, c.title, c.source, c.start, c.end, c.quote
        );
    }
}

fn ask(
    s: &Settings,
    actor: &Actor,
    question: &str,
    model: Option<String>,
    k: Option<usize>,
    json: bool,
    area: &AreaArgs,
) -> Result<i32> {
    actor.require(Role::Reader)?;
    let area = area.resolve(s)?;
    let store = open_existing(s)?;
    let log = audit_log(s)?;
    let retriever = Arc::new(Retriever::new(store, Some(load_embedder(s)?)));
    let id = model.unwrap_or_else(|| s.assist.default_model.clone());
    let assistant = assistant(s, retriever, std::slice::from_ref(&id))?;
    let mut req = sextant_assist::AskRequest::new(question, actor.viewer.clone());
    req.model = Some(id);
    req.k = k;
    if area.is_some() {
        req.area = area;
        let geo = assistant
            .ask_geo(&req, |_, _| true)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        record(
            &log,
            sextant_server::chat::answered(actor.event("geo_ask"), question, &geo.answer),
        )?;
        if json {
            println!("{}", serde_json::to_string_pretty(&geo)?);
        } else {
            print_answer(&geo.answer);
            for p in &geo.pins.features {
                if let Some([lon, lat]) = p.geometry.anchor() {
                    println!(
                        "  pin [{}] ({}) {} at {lat:.4}, {lon:.4}",
                        p.properties.citation, p.properties.marking, p.properties.name
                    );
                }
            }
        }
        return Ok(0);
    }
    let answer = assistant
        .ask(&req, |_, _| true)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    record(
        &log,
        sextant_server::chat::answered(actor.event("ask"), question, &answer),
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print_answer(&answer);
    }
    Ok(0)
}

fn compare(
    s: &Settings,
    actor: &Actor,
    question: &str,
    models: &[String],
    k: Option<usize>,
    json: bool,
) -> Result<i32> {
    actor.require(Role::Reader)?;
    let store = open_existing(s)?;
    let log = audit_log(s)?;
    let retriever = Arc::new(Retriever::new(store, Some(load_embedder(s)?)));
    let assistant = assistant(s, retriever, models)?;
    let c = assistant
        .compare(question, models, k, &actor.viewer)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let answers: Vec<&sextant_assist::Answer> =
        c.answers.iter().filter_map(|a| a.answer.as_ref()).collect();
    let cited: Vec<&sextant_assist::Citation> =
        answers.iter().flat_map(|a| a.citations.iter()).collect();
    let ev = actor
        .event("compare")
        .marking(sextant_assist::rollup(answers.iter().map(|a| a.marking.as_str()))?.banner())
        .query(question)
        .docs(cited.iter().map(|c| c.doc_id.clone()))
        .cited(cited.iter().map(|c| c.chunk_id));
    record(&log, ev)?;
    let failed: Vec<String> = c
        .answers
        .iter()
        .filter_map(|side| {
            side.error
                .as_ref()
                .map(|e| format!("model {}: {e}", side.model))
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        println!("{}", c.marking);
        for side in &c.answers {
            println!(
                "== {} ({:.0} ms, {:.1} tokens/s)",
                side.model, side.latency_ms, side.tokens_per_s
            );
            match (&side.answer, &side.error) {
                (Some(a), _) => {
                    print_answer(a);
                    println!("  supported sentences: {:.0}%", 100.0 * a.supported_share);
                }
                (None, Some(e)) => println!("error: {e}"),
                _ => {}
            }
        }
    }
    for f in &failed {
        eprintln!("error: {f}");
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}

fn serve(
    s: &Settings,
    addr: Option<String>,
    insecure_dev: bool,
    cot: Option<(String, String)>,
) -> Result<i32> {
    let addr = addr.unwrap_or_else(|| s.server.addr.clone());
    let default_marking = marking_policy(s, None)?.default;
    let auth = if insecure_dev {
        eprintln!("WARNING: --insecure-dev: serving WITHOUT authentication; every caller sees every document. Never use this on a network with real data.");
        sextant_server::auth::AuthMode::InsecureDev
    } else {
        let users = sextant_auth::Users::open(&s.users_file())
            .with_context(|| format!("reading users file {}", s.users_file().display()))?;
        if users.is_empty() {
            eprintln!(
                "note: no users in {}; add one with `sextant users add NAME --clearance LEVEL` (every data route answers 401 until then)",
                s.users_file().display()
            );
        }
        sextant_server::auth::AuthMode::Users(Arc::new(users))
    };
    let tls = tls_config(s)?;
    let (store, embedder) = open_for_writing(s)?;
    let log = Arc::new(audit_log(s)?);
    let config_digest = match &cli_config_path(s) {
        Some(p) => {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap_or_default()))
        }
        None => "built-in defaults".into(),
    };
    record(
        &log,
        actor(s, None)?
            .event("config")
            .marking("UNCLASSIFIED")
            .detail(format!(
                "serve on {addr}; auth {}; tls {}; config {config_digest}",
                if insecure_dev {
                    "DISABLED (--insecure-dev)"
                } else {
                    "tokens"
                },
                if tls.is_some() { "on" } else { "off" }
            )),
    )?;
    let retriever = Arc::new(Retriever::new(store, Some(embedder)));
    let assistant = Arc::new(assistant(s, retriever, &s.assist.models)?);
    let options = sextant_server::ServerOptions {
        request_timeout: Duration::from_secs(s.server.request_timeout_secs),
        max_upload_bytes: s.server.max_upload_bytes,
        max_json_bytes: s.server.max_json_bytes,
        default_k: s.search.default_k,
        fusion: fusion(s),
        chunking: chunking(s),
        default_marking,
        rate_limit_per_minute: s.security.rate_limit_per_minute,
        geo: sextant_server::geo::Geo(geo_data(s)),
        max_feed_bytes: s.server.max_upload_bytes,
        max_event_bytes: s.geo.max_event_bytes,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut security = sextant_server::Security {
        auth,
        audit: log,
        tls,
        cot: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot bind {addr}"))?;
        let local = listener.local_addr()?;
        if let Some((cot_addr, feed)) = cot {
            let l = tokio::net::TcpListener::bind(&cot_addr)
                .await
                .with_context(|| format!("cannot bind --cot-listen {cot_addr}"))?;
            eprintln!(
                "sextant accepting Cursor-on-Target on tcp://{} (feed {feed})",
                l.local_addr()?
            );
            security.cot = Some((l, feed));
        }
        tracing::info!(addr = %local, "listening");
        eprintln!("sextant listening on {scheme}://{local}");
        sextant_server::serve(listener, assistant, options, security).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}

/// The settings file in force, if any (its digest goes into the audit log at start).
fn cli_config_path(s: &Settings) -> Option<PathBuf> {
    s.source.clone()
}

/// TLS settings from `[security]`, or `None` for plain HTTP.
fn tls_config(s: &Settings) -> Result<Option<Arc<rustls::ServerConfig>>> {
    let sec = &s.security;
    if sec.tls_cert.as_os_str().is_empty() && sec.tls_key.as_os_str().is_empty() {
        return Ok(None);
    }
    let files = sextant_server::tls::TlsFiles {
        cert: sec.tls_cert.clone(),
        key: sec.tls_key.clone(),
        client_ca: (!sec.tls_client_ca.as_os_str().is_empty()).then(|| sec.tls_client_ca.clone()),
        require_client_cert: sec.tls_require_client_cert,
    };
    Ok(Some(
        sextant_server::tls::server_config(&files).context("TLS configuration")?,
    ))
}
