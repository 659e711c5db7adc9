//! Prometheus metrics for `GET /metrics`, in the OpenMetrics text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModeLabels {
    pub mode: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub search_seconds: Family<ModeLabels, Histogram>,
    pub documents: Gauge,
    pub chunks: Gauge,
    pub vectors: Gauge,
    pub vectors_pending: Gauge,
    /// Held from setting the store gauges to encoding them: two admins of different access
    /// never read each other's counts.
    encoding: parking_lot::Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sextant");
        let requests = Family::<RequestLabels, Counter>::default();
        let search_seconds = Family::<ModeLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let (documents, chunks, vectors, vectors_pending) = (
            Gauge::default(),
            Gauge::default(),
            Gauge::default(),
            Gauge::default(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "search_duration_seconds",
            "Search latency by mode",
            search_seconds.clone(),
        );
        registry.register(
            "store_documents",
            "Documents in the store",
            documents.clone(),
        );
        registry.register("store_chunks", "Chunks in the store", chunks.clone());
        registry.register("store_vectors", "Chunks with an embedding", vectors.clone());
        registry.register(
            "store_vectors_pending",
            "Chunks waiting for an embedding",
            vectors_pending.clone(),
        );
        Metrics {
            registry,
            requests,
            search_seconds,
            documents,
            chunks,
            vectors,
            vectors_pending,
            encoding: parking_lot::Mutex::new(()),
        }
    }
}

/// Request methods are labels from a fixed set; anything else counts as `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

impl Metrics {
    /// The metrics with the store's counts as `status` gives them (the reader's own view).
    pub fn encode_with(&self, status: &sextant_store::StoreStatus) -> String {
        let _one_at_a_time = self.encoding.lock();
        self.documents.set(status.documents as i64);
        self.chunks.set(status.chunks as i64);
        self.vectors.set(status.vectors as i64);
        self.vectors_pending.set(status.vectors_pending as i64);
        self.encode()
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
