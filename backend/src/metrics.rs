//! Prometheus metrics of one process (`GET /metrics`, `routes::metrics`):
//! HTTP requests by route pattern and status with latency histograms, open
//! event streams, events published / delivered / dropped, the e-mail outbox
//! depth, SQL statements and database pool use.
//!
//! Counting never fails, never blocks on I/O and never changes what it
//! counts. Labels come only from bounded sets (route patterns, never raw
//! paths; event kinds; fixed reasons), so the number of series stays small
//! whatever clients send. Values read from elsewhere (statement counter,
//! pool, bus losses) are brought in when scraped; the outbox depth is a
//! query, run at most every `OUTBOX_SAMPLE_EVERY` however often Prometheus
//! scrapes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use sea_orm::{DatabaseBackend, EntityTrait, PaginatorTrait};
use shared::Event;

use crate::realtime::bus::{BoxFuture, EventBus, Opened, Subscription};
use crate::state::AppState;

/// `Content-Type` of the Prometheus text format 0.0.4.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The outbox is counted at most this often (a `COUNT(*)` per scrape would
/// cost the database with a frequent scrape and a long queue).
pub const OUTBOX_SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Latency buckets in seconds: from a cached read to a slow search.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    /// The matched route pattern (`/api/conversations/{id}`), or `unmatched`.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ViaLabel {
    via: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// What the last scrape read from elsewhere.
#[derive(Default)]
struct Sampled {
    outbox_at: Option<Instant>,
    db_statements: u64,
    bus_undelivered: u64,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    open_streams: Gauge,
    published: Family<KindLabel, Counter>,
    delivered: Family<ViaLabel, Counter>,
    dropped: Family<ReasonLabel, Counter>,
    outbox_depth: Gauge,
    db_statements: Counter,
    db_pool: Family<StateLabel, Gauge>,
    db_pool_max: Gauge,
    /// One scrape brings values in at a time (so deltas are not added twice).
    scrape: tokio::sync::Mutex<Sampled>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("messaging");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let open_streams = Gauge::default();
        let published = Family::<KindLabel, Counter>::default();
        let delivered = Family::<ViaLabel, Counter>::default();
        let dropped = Family::<ReasonLabel, Counter>::default();
        let outbox_depth = Gauge::default();
        let db_statements = Counter::default();
        let db_pool = Family::<StateLabel, Gauge>::default();
        let db_pool_max = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route pattern and status",
            requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time to the response head by method and route pattern (event streams: until the stream starts)",
            Unit::Seconds,
            latency.clone(),
        );
        registry.register(
            "sse_streams_open",
            "Event streams open on this instance",
            open_streams.clone(),
        );
        registry.register(
            "events_published",
            "Events handed to the event bus, by kind (one per event, whatever the number of recipients)",
            published.clone(),
        );
        registry.register(
            "events_delivered",
            "Events written to event streams of this instance, live or replayed after a reconnect",
            delivered.clone(),
        );
        registry.register(
            "events_dropped",
            "Events not delivered: slow_client (a stream fell behind and was closed; it resumes by Last-Event-ID) or bus_unavailable (Redis away; per recipient; clients resync)",
            dropped.clone(),
        );
        registry.register(
            "email_outbox_depth",
            "Rows waiting in the e-mail outbox (sampled at most every 5 s)",
            outbox_depth.clone(),
        );
        registry.register(
            "db_statements",
            "SQL statements run by this instance",
            db_statements.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool connections by state (idle or in_use)",
            db_pool.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "Largest size of the database pool (DATABASE_MAX_CONNECTIONS)",
            db_pool_max.clone(),
        );
        for reason in ["slow_client", "bus_unavailable"] {
            // Present from the start, so a rate over them is defined.
            let _ = dropped.get_or_create(&ReasonLabel { reason });
        }
        for via in ["live", "replay"] {
            let _ = delivered.get_or_create(&ViaLabel { via });
        }
        Self {
            registry,
            requests,
            latency,
            open_streams,
            published,
            delivered,
            dropped,
            outbox_depth,
            db_statements,
            db_pool,
            db_pool_max,
            scrape: tokio::sync::Mutex::new(Sampled::default()),
        }
    }

    /// Counts one answered request. `route` is the matched pattern.
    pub fn record_request(
        &self,
        method: &Method,
        route: Option<&str>,
        status: u16,
        elapsed: Duration,
    ) {
        let method = method_label(method);
        let route = route.unwrap_or("unmatched").to_owned();
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.clone(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { method, route })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts an open event stream until the guard is dropped.
    pub fn stream_opened(&self) -> OpenStream {
        self.open_streams.inc();
        OpenStream(self.open_streams.clone())
    }

    /// Events written to a stream (`via`: "live" or "replay").
    pub fn delivered(&self, via: &'static str, n: u64) {
        if n > 0 {
            self.delivered.get_or_create(&ViaLabel { via }).inc_by(n);
        }
    }

    /// Events a too-slow stream missed before it was closed.
    pub fn dropped_slow(&self, n: u64) {
        self.dropped
            .get_or_create(&ReasonLabel {
                reason: "slow_client",
            })
            .inc_by(n);
    }

    fn published(&self, kind: &'static str) {
        self.published.get_or_create(&KindLabel { kind }).inc();
    }

    /// Brings the sampled values up to date and renders the text format.
    pub async fn render(&self, st: &AppState) -> String {
        {
            let mut s = self.scrape.lock().await;
            let statements = st.db_statements.load(Ordering::Relaxed);
            self.db_statements
                .inc_by(statements.saturating_sub(s.db_statements));
            s.db_statements = s.db_statements.max(statements);
            let undelivered = st.bus.undelivered();
            if undelivered > s.bus_undelivered {
                self.dropped
                    .get_or_create(&ReasonLabel {
                        reason: "bus_unavailable",
                    })
                    .inc_by(undelivered - s.bus_undelivered);
                s.bus_undelivered = undelivered;
            }
            self.sample_pool(st);
            if s.outbox_at
                .is_none_or(|at| at.elapsed() >= OUTBOX_SAMPLE_EVERY)
            {
                s.outbox_at = Some(Instant::now());
                let count = crate::db::entities::email_outbox::Entity::find().count(&st.db);
                match tokio::time::timeout(Duration::from_secs(2), count).await {
                    Ok(Ok(n)) => {
                        self.outbox_depth.set(i64::try_from(n).unwrap_or(i64::MAX));
                    }
                    // The last value stays; the next scrape after the pause tries again.
                    Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot count the outbox"),
                    Err(_) => tracing::warn!("metrics: counting the outbox took over 2 s"),
                }
            }
        }
        let mut out = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(error = %e, "metrics: cannot encode");
        }
        out
    }

    fn sample_pool(&self, st: &AppState) {
        let (size, idle) = match st.db.get_database_backend() {
            DatabaseBackend::Postgres => {
                let p = st.db.get_postgres_connection_pool();
                (p.size(), p.num_idle())
            }
            DatabaseBackend::Sqlite => {
                let p = st.db.get_sqlite_connection_pool();
                (p.size(), p.num_idle())
            }
            _ => return,
        };
        let idle = i64::try_from(idle).unwrap_or(i64::MAX);
        self.db_pool
            .get_or_create(&StateLabel { state: "idle" })
            .set(idle);
        self.db_pool
            .get_or_create(&StateLabel { state: "in_use" })
            .set((i64::from(size) - idle).max(0));
        self.db_pool_max
            .set(i64::from(st.settings.database_max_connections));
    }
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        // Anything a client invents shares one label.
        _ => "other",
    }
}

/// Keeps `messaging_sse_streams_open` raised while it lives.
pub struct OpenStream(Gauge);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware: counts every request by its route pattern and status.
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|st| st.metrics.clone());
    let method = req.method().clone();
    let started = Instant::now();
    let res = next.call(req).await;
    if let Some(m) = metrics {
        let elapsed = started.elapsed();
        match &res {
            Ok(r) => m.record_request(
                &method,
                r.request().match_pattern().as_deref(),
                r.status().as_u16(),
                elapsed,
            ),
            Err(e) => m.record_request(
                &method,
                None,
                e.as_response_error().status_code().as_u16(),
                elapsed,
            ),
        }
    }
    res
}

/// The event bus with publishing counted by event kind.
pub struct MeteredBus {
    inner: Arc<dyn EventBus>,
    metrics: Arc<Metrics>,
}

impl MeteredBus {
    pub fn new(inner: Arc<dyn EventBus>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

impl EventBus for MeteredBus {
    fn publish<'a>(&'a self, recipients: &'a [i64], event: Event) -> BoxFuture<'a, ()> {
        self.metrics.published(event.kind());
        self.inner.publish(recipients, event)
    }

    fn open<'a>(&'a self, user_id: i64, last_event_id: Option<&'a str>) -> BoxFuture<'a, Opened> {
        self.inner.open(user_id, last_event_id)
    }

    fn subscribe(&self, user_id: i64) -> Subscription {
        self.inner.subscribe(user_id)
    }

    fn undelivered(&self) -> u64 {
        self.inner.undelivered()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
    }

    #[test]
    fn renders_counters_and_histograms_in_the_text_format() {
        let m = Metrics::new();
        m.record_request(
            &Method::GET,
            Some("/api/conversations/{id}"),
            200,
            Duration::from_millis(3),
        );
        let _open = m.stream_opened();
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &m.registry).unwrap();
        assert!(
            out.contains(
                "messaging_http_requests_total{method=\"GET\",route=\"/api/conversations/{id}\",status=\"200\"} 1"
            ),
            "{out}"
        );
        assert!(
            out.contains("messaging_http_request_duration_seconds_bucket{le=\"0.005\",method=\"GET\",route=\"/api/conversations/{id}\"} 1")
                || out.contains("messaging_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/conversations/{id}\",le=\"0.005\"} 1"),
            "{out}"
        );
        assert!(out.contains("messaging_sse_streams_open 1"), "{out}");
        drop(_open);
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &m.registry).unwrap();
        assert!(out.contains("messaging_sse_streams_open 0"), "{out}");
    }
}
