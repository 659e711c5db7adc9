//! `sextant`: the command-line interface and server entry point. The only place (with the
//! server crate) that knows about clap, terminals, exit codes and the tracing subscriber.

mod claims;
mod cmd;
mod eval;
mod qa;
mod tools_eval;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use sextant_access::Marking;
use sextant_app::{App, Session};
use sextant_audit::AuditLog;
use sextant_auth::Role;
use sextant_config::{FusionKind, Settings};
use sextant_ingest::{ChunkConfig, CsvColumns, GeoData, IngestOptions, MarkingPolicy};
use sextant_models::{fetch, Manifest};
use sextant_retrieve::{Fusion, Retriever};
use sextant_server::wire::{SearchResponse, WireHit};

use cmd::{
    act, audit::*, connectors::*, ingest::*, models::*, query::*, report, serve::*, users::*,
};
use sextant_spatial::Area;
use sextant_store::Store;
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
    /// Ask a connected system (text-to-API): the request becomes a schema-valid call on one of
    /// the connectors you may use; read-only calls run at once, changing calls only once
    /// confirmed (--yes, or the prompt on a terminal).
    Act {
        request: String,
        /// Only this connector (repeatable).
        #[arg(long = "connector")]
        connectors: Vec<String>,
        /// Confirm changing calls without asking.
        #[arg(long)]
        yes: bool,
        /// Chat model id (see `sextant models list`).
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Connected systems (text-to-API): list them, show what they allow, check they answer.
    Connectors {
        #[command(subcommand)]
        command: ConnectorsCommand,
    },
    /// Templated reports (SITREP, INTSUM, spot reports, briefs) with citations and portion
    /// markings.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Pack the offline install bundle (.tar.zst): this binary, the web app, the installed
    /// models, the settings, the systemd unit, install.sh, SHA256SUMS and a CycloneDX SBOM.
    Bundle {
        /// The archive to write, e.g. sextant-bundle.tar.zst.
        #[arg(short, long)]
        output: PathBuf,
        /// Only these model ids (comma-separated) [default: every installed model].
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// The report templates (from `templates/` beside the settings file).
    Templates {
        #[arg(long)]
        json: bool,
    },
    /// Generate a report from a template: every statement cited, every portion marked.
    New {
        template: String,
        /// A template parameter (repeatable): --param country=Kenya
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Chat model id (see `sextant models list`).
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The reports you may see.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One report (its newest version you may see, or --version N).
    Show {
        id: String,
        #[arg(long)]
        version: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// What changed between two versions.
    Diff {
        id: String,
        #[arg(long)]
        from: u32,
        #[arg(long)]
        to: u32,
        #[arg(long)]
        json: bool,
    },
    /// Change one section (a new version): regenerate it with an instruction, replace its
    /// text with your own (marked by you), remove it or move it.
    Refine {
        id: String,
        /// The section (from 1, as `report show` numbers them).
        #[arg(long)]
        section: usize,
        /// Regenerate the section as asked: "shorter", "longer", "focus on logistics".
        #[arg(long, conflicts_with_all = ["text_file", "remove", "move_to"])]
        instruction: Option<String>,
        /// Your own text for the section ([n] markers cite the report's sources).
        #[arg(long, requires = "marking", conflicts_with_all = ["remove", "move_to"])]
        text_file: Option<PathBuf>,
        /// The portion mark of your text, e.g. "(S)" or SECRET.
        #[arg(long)]
        marking: Option<String>,
        /// Take the section out.
        #[arg(long, conflicts_with = "move_to")]
        remove: bool,
        /// Move the section to this position.
        #[arg(long)]
        move_to: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Re-run each section's retrieval; rewrite only what changed, and show the diff.
    Refresh {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Write a report to a file: md, html, pdf or docx.
    Export {
        id: String,
        #[arg(long)]
        format: String,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        #[arg(long)]
        version: Option<u32>,
    },
}

#[derive(Subcommand)]
enum ConnectorsCommand {
    /// The connectors you may use (from `connectors/` beside the settings file).
    List {
        #[arg(long)]
        json: bool,
    },
    /// One connector's allowed operations (with `--json`, their argument schemas).
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Whether the connector's OpenAPI document reads and its system answers.
    Check { name: String },
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
    /// Function calling on a BFCL file (same prompt, grammar and threshold as `act`), scored
    /// with BFCL's AST rules: accuracy, schema-valid share, errors by kind.
    Tools(tools_eval::ToolsArgs),
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

/// The report templates that load (the others are reported on stderr with file and line).
fn templates(s: &Settings) -> Vec<sextant_report::Template> {
    let (ok, errors) = sextant_report::load_dir(&s.templates_dir());
    for e in errors {
        eprintln!("warning: template not loaded: {e}");
    }
    ok
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
fn session(s: &Settings, as_user: Option<&str>) -> Result<Session> {
    match as_user {
        None => Ok(Session::administrator(
            format!(
                "local-admin:{}",
                std::env::var("USER").unwrap_or_else(|_| "?".into())
            ),
            "cli",
        )),
        Some(name) => {
            let users = sextant_auth::Users::open(&s.users_file())
                .with_context(|| format!("reading {}", s.users_file().display()))?;
            let p = users
                .get(name)
                .with_context(|| format!("no user {name:?} in {}", s.users_file().display()))?;
            Ok(Session::user(p, "cli"))
        }
    }
}

/// The use cases over the data directory, with `embedder` (none: BM25 only) and the chat
/// models `models` loaded.
fn app(s: &Settings, embedder: Option<sextant_models::Embedder>, models: &[String]) -> Result<App> {
    app_over(s, open_existing(s)?, embedder, models)
}

/// [`app`] over a store already open.
fn app_over(
    s: &Settings,
    store: Arc<Store>,
    embedder: Option<sextant_models::Embedder>,
    models: &[String],
) -> Result<App> {
    let retriever = Arc::new(Retriever::new(store, embedder));
    let assistant = Arc::new(assistant(s, retriever, models)?);
    Ok(App::new(
        assistant,
        Arc::new(audit_log(s)?),
        sextant_app::AppOptions {
            default_k: 10,
            fusion: fusion(s),
            chunking: chunking(s),
            default_marking: marking_policy(s, None)?.default,
            geo: None,
            templates: Arc::new(templates(s)),
        },
    ))
}

fn audit_log(s: &Settings) -> Result<AuditLog> {
    let path = s.audit_file();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    AuditLog::open(&path).with_context(|| format!("opening the audit log {}", path.display()))
}

fn run(cli: Cli) -> Result<i32> {
    let s = settings(&cli.global)?;
    let as_user = cli.global.as_user.as_deref();
    match cli.command {
        Command::Models { command } => models(&s, command),
        Command::Users { command } => users(&s, as_user, command),
        Command::Connectors { command } => connectors(&s, as_user, command),
        Command::Report { command } => report::report(&s, as_user, command),
        Command::Bundle { output, models } => cmd::bundle::bundle(&s, &output, &models),
        Command::Act {
            request,
            connectors,
            yes,
            model,
            json,
        } => act::act(
            &s,
            &session(&s, as_user)?,
            &request,
            connectors,
            model,
            yes,
            json,
        ),
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
            &session(&s, as_user)?,
            &paths,
            json,
            no_embed,
            marking,
            feed,
        ),
        Command::Delete { target } => delete(&s, &session(&s, as_user)?, &target),
        Command::Search {
            query,
            k,
            mode,
            json,
            area,
        } => search(&s, &session(&s, as_user)?, &query, k, mode, json, &area),
        Command::Status { json } => status(&s, &session(&s, as_user)?, json),
        Command::Ask {
            question,
            model,
            k,
            json,
            area,
        } => ask(&s, &session(&s, as_user)?, &question, model, k, json, &area),
        Command::Compare {
            question,
            models,
            k,
            json,
        } => compare(&s, &session(&s, as_user)?, &question, &models, k, json),
        Command::Eval {
            command: EvalCommand::Qa(args),
        } => qa::qa(&s, args, chunking(&s), session(&s, as_user)?.viewer),
        Command::Eval {
            command: EvalCommand::Claims(args),
        } => claims::claims(&s, args),
        Command::Eval {
            command: EvalCommand::Tools(args),
        } => tools_eval::tools(&s, args),
        Command::Eval {
            command: EvalCommand::Retrieval(args),
        } => eval::retrieval(
            &s,
            args,
            fusion(&s),
            chunking(&s),
            session(&s, as_user)?.viewer,
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
