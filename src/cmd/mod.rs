//! One module per command family; shared setup (settings, store, session, app) is in
//! `main.rs`.

pub(crate) mod act;
pub(crate) mod audit;
pub(crate) mod bundle;
pub(crate) mod connectors;
pub(crate) mod ingest;
pub(crate) mod models;
pub(crate) mod query;
pub(crate) mod report;
pub(crate) mod serve;
pub(crate) mod users;
