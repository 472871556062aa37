//! Shared state of the running server, built once in `startup`.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use sea_orm::DatabaseConnection;

use crate::config::{Settings, Validated};
use crate::rate_limit::RateLimiter;
use crate::realtime::presence::Presence;
use crate::realtime::streams::LocalStreams;
use crate::realtime::{EventBus, Realtime};
use crate::storage::Storage;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub config: Arc<Validated>,
    /// Every rate limit: logins, sending, creating conversations, typing
    /// and heartbeats (across instances with Redis).
    pub limiter: Arc<RateLimiter>,
    pub bus: Arc<dyn EventBus>,
    pub presence: Arc<Presence>,
    /// The event streams open on this instance, to end those of users
    /// who lost access.
    pub streams: Arc<LocalStreams>,
    /// SQL statements run so far (the N+1 guard in tests, metrics later).
    pub db_statements: Arc<AtomicU64>,
    /// Set once when the server is stopping; streams watch it.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Queues link-preview work after a message is stored (`startup`
    /// starts the workers; queues nothing until then).
    pub link_previews: crate::jobs::link_preview::LinkPreviews,
    /// E-mail notifications: transport and the unsubscribe key.
    pub mailer: Arc<crate::jobs::notify::Mailer>,
    /// Attachment bytes (a local folder or an S3-compatible bucket).
    pub storage: Arc<Storage>,
    /// Prometheus metrics of this process (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        settings: Settings,
        config: Validated,
        realtime: Realtime,
        db_statements: Arc<AtomicU64>,
        mailer: Arc<crate::jobs::notify::Mailer>,
        storage: Storage,
    ) -> Self {
        let metrics = Arc::new(crate::metrics::Metrics::new());
        Self {
            db,
            settings: Arc::new(settings),
            config: Arc::new(config),
            limiter: Arc::new(match realtime.redis {
                Some(conn) => RateLimiter::redis(conn),
                None => RateLimiter::in_process(),
            }),
            // Publishing counted by event kind.
            bus: Arc::new(crate::metrics::MeteredBus::new(
                realtime.bus,
                metrics.clone(),
            )),
            presence: realtime.presence,
            streams: Arc::new(LocalStreams::default()),
            db_statements,
            shutdown: tokio::sync::watch::channel(false).0,
            link_previews: crate::jobs::link_preview::LinkPreviews::disabled(),
            mailer,
            storage: Arc::new(storage),
            metrics,
        }
    }

    /// Ends every open event stream (clients reconnect, behind a load
    /// balancer to another instance) — the first step of a graceful stop.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}
