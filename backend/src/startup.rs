//! Builds the application (database, migrations, first admin, routes,
//! middleware) and binds it to a port; `run_until_stopped` serves. Tests
//! build it on port 0 and talk HTTP to it.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::dev::{Server, Service};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpMessage, HttpServer, web};
use tracing_actix_web::{RequestId, TracingLogger};

use crate::config::Settings;
use crate::domain::users::{self, NewUser};
use crate::error;
use crate::realtime::Realtime;
use crate::routes;
use crate::state::AppState;

/// Credentials of the administrator created on the very first start.
#[derive(Debug, Clone)]
pub struct FirstAdmin {
    pub email: String,
    pub password: String,
}

pub struct Application {
    port: u16,
    server: Server,
    pub state: AppState,
    pub first_admin: Option<FirstAdmin>,
    /// The e-mail outbox worker, awaited on a graceful stop.
    mail_worker: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Application {
    /// Validates the settings, connects, migrates, creates the first admin
    /// when there are no users, and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let config = settings.validate().map_err(anyhow::Error::msg)?;
        crate::tls::install_crypto_provider();
        let storage =
            crate::storage::Storage::from_settings(&settings.storage, &settings.db.data_dir)
                .map_err(anyhow::Error::msg)?;
        let url = settings.db.url();
        let mut db = crate::db::connect_with(
            &url,
            settings.database_max_connections,
            settings.db.acquire_timeout(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
        let db_statements = Arc::new(AtomicU64::new(0));
        let counter = db_statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        crate::db::migrate(&db)
            .await
            .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
        let first_admin = ensure_first_admin(&db, &settings.admin_email).await?;
        let listener = TcpListener::bind(config.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.bind))?;
        let port = listener.local_addr()?.port();
        let times = settings.presence_times();
        let realtime = match settings.redis_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => {
                Realtime::redis(url, &settings.redis_key_prefix, times).await?
            }
            _ => Realtime::in_process(times),
        };
        let mailer = crate::jobs::notify::Mailer::build(&db, &settings).await?;
        let mut state = AppState::new(
            db,
            settings,
            config,
            realtime,
            db_statements,
            mailer,
            storage,
        );
        spawn_presence_sweeper(state.clone());
        spawn_access_sweeper(state.clone());
        spawn_memory_trim();
        start_link_previews(&mut state)?;
        let mail_worker = crate::jobs::notify::worker::spawn(state.clone());
        crate::jobs::attachments::spawn_cleanup(state.clone());
        crate::jobs::attachments::spawn_thumbnail_catch_up(state.clone());
        let server = run(listener, state.clone())?;
        Ok(Self {
            port,
            server,
            state,
            first_admin,
            mail_worker: Arc::new(std::sync::Mutex::new(Some(mail_worker))),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops gracefully: event streams end first (so they cannot hold the
    /// stop up), then the server stops accepting and finishes the requests
    /// in flight — a message that got its 2xx is stored before that. The
    /// mail worker finishes the mail in hand (what it has not started stays
    /// in the outbox for the next start or another instance).
    pub fn stopper(&self) -> impl Fn() -> futures_util::future::BoxFuture<'static, ()> + use<> {
        let handle = self.server.handle();
        let state = self.state.clone();
        let mail_worker = self.mail_worker.clone();
        move || {
            state.begin_shutdown();
            let handle = handle.clone();
            let worker = mail_worker.lock().unwrap_or_else(|p| p.into_inner()).take();
            Box::pin(async move {
                handle.stop(true).await;
                if let Some(w) = worker {
                    // Bounded: an SMTP step times out anyway.
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), w).await;
                }
            })
        }
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

async fn ensure_first_admin(
    db: &sea_orm::DatabaseConnection,
    email: &str,
) -> anyhow::Result<Option<FirstAdmin>> {
    if users::count(db).await? > 0 {
        return Ok(None);
    }
    let password = crate::auth::token::random_password(16)?;
    users::create(
        db,
        NewUser {
            email: email.to_owned(),
            name: "Administrator".into(),
            password: password.clone(),
            is_admin: true,
        },
    )
    .await?;
    Ok(Some(FirstAdmin {
        email: users::normalize_email(email),
        password,
    }))
}

/// Announces users who went offline (their last stream closed or their
/// heartbeat expired, and the grace period passed); with Redis also renews
/// this instance's sessions.
fn spawn_presence_sweeper(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            for change in state.presence.sweep().await {
                if let Err(e) = crate::domain::presence::announce(&state, change).await {
                    tracing::warn!(error = %e, "presence announcement failed");
                }
            }
        }
    });
}

/// Every 10 s, hands memory that glibc's malloc holds free back to the
/// system (`malloc_trim`). Opening thousands of streams leaves free chunks
/// between the long-lived ones (requests, queries and replays come and go);
/// glibc only returns the top of its heaps by itself, so without this the
/// idle server keeps the peak. Other platforms and allocators: nothing.
fn spawn_memory_trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tokio::spawn(async {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // A few milliseconds on a large heap: off the async workers.
            // SAFETY: malloc_trim takes no pointers; it only walks the
            // allocator's own free lists under their locks.
            let _ = tokio::task::spawn_blocking(|| unsafe { libc::malloc_trim(0) }).await;
        }
    });
}

/// Ends the open event streams whose access was lost since they connected
/// — users deactivated, sessions ended (logout, password change), API
/// tokens revoked or expired — also when that happened in the CLI or on
/// another instance: the database tells. Every second, one statement per
/// 500 connected users, sessions or tokens; none while nothing is connected.
fn spawn_access_sweeper(state: AppState) {
    use crate::auth::{api_tokens, sessions};
    use crate::realtime::streams::Credential;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let streams = &state.streams;
            for chunk in streams.users().chunks(500) {
                match users::deactivated_among(&state.db, chunk).await {
                    Ok(gone) => {
                        for user_id in gone {
                            tracing::info!(user_id, "ending the streams of a deactivated user");
                            streams.close_user(user_id);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "checking streamed users failed"),
                }
            }
            let (session_hashes, token_hashes) = streams.credentials();
            for chunk in session_hashes.chunks(500) {
                match sessions::ended_among(&state.db, chunk).await {
                    Ok(gone) => {
                        for hash in gone {
                            tracing::info!("ending the streams of an ended session");
                            streams.close_credential(Credential::Session(hash));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "checking streamed sessions failed"),
                }
            }
            for chunk in token_hashes.chunks(500) {
                match api_tokens::ended_among(&state.db, chunk).await {
                    Ok(gone) => {
                        for hash in gone {
                            tracing::info!("ending the streams of a revoked API token");
                            streams.close_credential(Credential::Token(hash));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "checking streamed tokens failed"),
                }
            }
        }
    });
}

/// Starts the link-preview workers and puts their queue into the state.
fn start_link_previews(state: &mut AppState) -> anyhow::Result<()> {
    use crate::jobs::link_preview::{self, LinkPreviews};
    let (handle, queue) = LinkPreviews::new(state.config.link_preview.enabled);
    state.link_previews = handle;
    if let Some(queue) = queue {
        link_preview::spawn(state.clone(), &state.config.link_preview, queue)
            .map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

fn run(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let json_limit = state.settings.max_json_bytes;
    let https = state.config.secure_cookies;
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(
                DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "same-origin"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    // Pages (the SPA, the API reference) set their own.
                    .add((
                        header::CONTENT_SECURITY_POLICY,
                        crate::security_headers::API_CSP,
                    )),
            )
            .wrap(actix_web::middleware::Condition::new(
                https,
                DefaultHeaders::new().add((
                    header::STRICT_TRANSPORT_SECURITY,
                    crate::security_headers::HSTS,
                )),
            ))
            // Echo the request id so a client can quote it in a bug report.
            .wrap_fn(|req, srv| {
                let id = req.extensions().get::<RequestId>().map(|r| r.to_string());
                let fut = srv.call(req);
                async move {
                    let mut res = fut.await?;
                    if let Some(v) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                        res.headers_mut()
                            .insert(HeaderName::from_static("x-request-id"), v);
                    }
                    Ok(res)
                }
            })
            .wrap(actix_web::middleware::from_fn(
                crate::metrics::track_requests,
            ))
            .wrap(TracingLogger::default())
            .app_data(data.clone())
            .app_data(web::QueryConfig::default().error_handler(error::query_error))
            .app_data(web::PathConfig::default().error_handler(error::path_error))
            .app_data(web::PayloadConfig::default().limit(json_limit))
            .service(routes::health::healthz)
            .service(routes::health::readyz)
            .configure(routes::metrics::routes)
            .service(
                web::scope("/api")
                    .configure(routes::api)
                    .default_service(web::to(routes::api_not_found)),
            )
            .configure(routes::spa::routes)
            .default_service(web::to(routes::not_found))
    })
    .listen(listener)?
    .shutdown_timeout(10)
    // `messaging serve` handles SIGTERM/SIGINT itself (see `stopper`).
    .disable_signals()
    .run();
    Ok(server)
}
