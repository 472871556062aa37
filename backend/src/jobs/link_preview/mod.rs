//! Link previews: after a message is stored (or edited), the first http(s)
//! link of its content is fetched in the background and the message gets
//! `link_preview` {url, title, description, image, site_name}; the members
//! get `message_edited`.
//!
//! It owns the queue (a bounded channel drained by a few workers), the
//! per-URL cache shared by all instances (`link_preview_cache`, 24 h, also
//! for failures, so a link in 50 messages is fetched once), and the wiring
//! of `fetch` (SSRF-safe HTTP), `parse` (lol_html) and `ssrf` (the guard).
//!
//! It must never block or fail sending: `enqueue` only tries to put a job
//! in the queue; a full queue drops the preview (logged), never the
//! message. Writing the preview onto the message is a domain rule
//! (`domain::messages::apply_link_preview`).

pub mod fetch;
pub mod parse;
pub mod ssrf;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};
use shared::dto::messages::LinkPreview;
use tokio::sync::{Semaphore, mpsc};
use tracing::Instrument;
use url::Url;

use crate::config::Settings;
use crate::db::entities::link_preview_cache as cache;
use crate::domain::render;
use crate::state::AppState;

/// How long a fetched preview (or failure) is reused.
pub const CACHE_TTL: Duration = Duration::hours(24);
/// Jobs waiting at most; beyond that new previews are dropped.
pub const QUEUE_CAPACITY: usize = 1024;
/// Pages fetched at the same time per instance.
pub const WORKERS: usize = 4;

/// Link-preview settings, checked once at start (`Settings::validate`).
#[derive(Debug, Clone)]
pub struct Config {
    pub enabled: bool,
    pub policy: ssrf::Policy,
    pub user_agent: String,
}

impl Config {
    pub fn from_settings(s: &Settings, public_url: &Url) -> Result<Self, String> {
        let mut ports = Vec::new();
        for p in &s.link_preview_ports {
            if *p == 0 {
                return Err("LINK_PREVIEW_PORTS: 0 is not a port".into());
            }
            ports.push(*p);
        }
        let mut skip_domains = Vec::new();
        for d in &s.link_preview_skip_domains {
            let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
            if d.is_empty() {
                continue;
            }
            if d.contains(['/', ':', ' ', '@']) {
                return Err(format!(
                    "LINK_PREVIEW_SKIP_DOMAINS: {d:?} is not a domain like intranet.example.pl"
                ));
            }
            skip_domains.push(d);
        }
        if skip_domains.is_empty()
            && let Some(host) = public_url.host_str()
        {
            skip_domains.push(host.trim_end_matches('.').to_ascii_lowercase());
        }
        let mut allow = Vec::new();
        for a in s
            .link_preview_allow_addresses
            .iter()
            .filter(|a| !a.trim().is_empty())
        {
            allow.push(
                ssrf::Cidr::parse(a).map_err(|e| format!("LINK_PREVIEW_ALLOW_ADDRESSES: {e}"))?,
            );
        }
        let mut site = public_url.clone();
        site.set_path("");
        site.set_query(None);
        Ok(Self {
            enabled: s.link_previews,
            policy: ssrf::Policy {
                ports,
                skip_domains,
                allow,
            },
            user_agent: format!(
                "MessagingLinkPreview/1.0 (+{})",
                site.as_str().trim_end_matches('/')
            ),
        })
    }
}

/// One message whose link needs a preview.
#[derive(Debug)]
struct Job {
    message_id: i64,
    url: String,
}

/// The handle the send and edit paths use (in `AppState`).
#[derive(Clone)]
pub struct LinkPreviews {
    tx: Option<mpsc::Sender<Job>>,
    finished: Arc<AtomicU64>,
}

/// The receiving end, turned into workers by `spawn`.
pub struct Queue {
    rx: mpsc::Receiver<Job>,
    finished: Arc<AtomicU64>,
}

impl LinkPreviews {
    /// A handle that queues nothing (previews off, or not started).
    pub fn disabled() -> Self {
        Self {
            tx: None,
            finished: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A handle and its queue; `disabled` when `enabled` is false.
    pub fn new(enabled: bool) -> (Self, Option<Queue>) {
        if !enabled {
            return (Self::disabled(), None);
        }
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let finished = Arc::new(AtomicU64::new(0));
        (
            Self {
                tx: Some(tx),
                finished: finished.clone(),
            },
            Some(Queue { rx, finished }),
        )
    }

    /// Queues a preview of the first link in `content` for the message (a
    /// stored, committed one). Never waits, never fails.
    pub fn enqueue(&self, message_id: i64, content: &str) {
        let Some(tx) = &self.tx else {
            return;
        };
        let Some(url) = render::first_link(content) else {
            return;
        };
        if let Err(e) = tx.try_send(Job { message_id, url }) {
            tracing::warn!(message_id, error = %e, "link preview dropped (queue full or stopped)");
        }
    }

    /// Jobs finished so far (whatever their outcome): tests wait on it.
    pub fn finished(&self) -> u64 {
        self.finished.load(Ordering::SeqCst)
    }
}

/// Per-URL locks of this instance, so concurrent jobs for one link wait
/// for one fetch and then read the cache.
type InFlight = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

struct Worker {
    state: AppState,
    fetcher: fetch::Fetcher,
    in_flight: InFlight,
}

/// Starts the dispatcher: at most `WORKERS` jobs run at a time.
pub fn spawn(state: AppState, config: &Config, queue: Queue) -> Result<(), String> {
    let fetcher = fetch::Fetcher::new(Arc::new(config.policy.clone()), &config.user_agent)?;
    let worker = Arc::new(Worker {
        state,
        fetcher,
        in_flight: Mutex::new(HashMap::new()),
    });
    let Queue { mut rx, finished } = queue;
    let slots = Arc::new(Semaphore::new(WORKERS));
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let worker = worker.clone();
            let finished = finished.clone();
            let span = tracing::info_span!(
                "link_preview",
                message_id = job.message_id,
                url = %job.url
            );
            tokio::spawn(
                async move {
                    worker.run(&job).await;
                    finished.fetch_add(1, Ordering::SeqCst);
                    drop(permit);
                }
                .instrument(span),
            );
        }
    });
    Ok(())
}

impl Worker {
    async fn run(&self, job: &Job) {
        let preview = match self.preview_of(&job.url).await {
            Ok(Some(p)) => p,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "link preview cache unavailable");
                return;
            }
        };
        match crate::domain::messages::apply_link_preview(
            &self.state,
            job.message_id,
            &job.url,
            &preview,
        )
        .await
        {
            Ok(applied) => tracing::debug!(applied, "link preview done"),
            Err(e) => tracing::warn!(error = %e, "link preview not stored"),
        }
    }

    /// The cached preview of `url`, fetching it when the cache has none.
    async fn preview_of(&self, url: &str) -> Result<Option<LinkPreview>, sea_orm::DbErr> {
        let key = url_hash(url);
        if let Some(hit) = self.cached(&key).await? {
            return Ok(hit);
        }
        let lock = {
            let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.clone()).or_default().clone()
        };
        let result = {
            let _guard = lock.lock().await;
            // Another job may have fetched it while this one waited.
            match self.cached(&key).await {
                Ok(Some(hit)) => Ok(hit),
                Ok(None) => {
                    let fetched = self.fetch(url).await;
                    if let Err(e) = self.store(&key, url, &fetched).await {
                        tracing::warn!(error = %e, "link preview not cached");
                    }
                    Ok(fetched.ok())
                }
                Err(e) => Err(e),
            }
        };
        {
            let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            // Only the map and this job hold it: nobody else waits.
            if Arc::strong_count(&lock) <= 2 {
                map.remove(&key);
            }
        }
        result
    }

    /// `Some(hit)` when the cache has a fresh entry (`hit` is `None` for a
    /// cached failure).
    async fn cached(&self, key: &str) -> Result<Option<Option<LinkPreview>>, sea_orm::DbErr> {
        let row = cache::Entity::find_by_id(key.to_owned())
            .filter(cache::Column::FetchedAt.gt(Utc::now() - CACHE_TTL))
            .one(&self.state.db)
            .await?;
        Ok(row.map(|r| r.preview.and_then(|v| serde_json::from_value(v).ok())))
    }

    async fn fetch(&self, url: &str) -> Result<LinkPreview, String> {
        let parsed = Url::parse(url).map_err(|e| e.to_string())?;
        match self.fetcher.fetch(&parsed).await {
            Ok(meta) => Ok(LinkPreview {
                url: url.to_owned(),
                title: meta.title,
                description: meta.description,
                image: meta.image,
                site_name: meta.site_name,
            }),
            Err(e) => {
                tracing::info!(error = %e, "no link preview");
                Err(e.to_string())
            }
        }
    }

    async fn store(
        &self,
        key: &str,
        url: &str,
        fetched: &Result<LinkPreview, String>,
    ) -> Result<(), sea_orm::DbErr> {
        let now = Utc::now();
        let (preview, error) = match fetched {
            Ok(p) => (serde_json::to_value(p).ok(), None),
            Err(e) => (None, Some(e.clone())),
        };
        cache::Entity::insert(cache::ActiveModel {
            url_hash: Set(key.to_owned()),
            url: Set(url.to_owned()),
            preview: Set(preview),
            error: Set(error),
            fetched_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(cache::Column::UrlHash)
                .update_columns([
                    cache::Column::Url,
                    cache::Column::Preview,
                    cache::Column::Error,
                    cache::Column::FetchedAt,
                ])
                .to_owned(),
        )
        .exec(&self.state.db)
        .await?;
        // Fetches are rare next to reads: the expired rows go here.
        cache::Entity::delete_many()
            .filter(cache::Column::FetchedAt.lt(now - CACHE_TTL))
            .exec(&self.state.db)
            .await?;
        Ok(())
    }
}

/// The cache key of a URL.
pub fn url_hash(url: &str) -> String {
    hex::encode(Sha256::digest(url.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[&str]) -> Result<Config, String> {
        let mut args = vec![
            "serve",
            "--public-url",
            "https://Portal.Example.pl/wiadomosci",
        ];
        args.extend_from_slice(extra);
        let s = Settings::parse_from(args).map_err(|e| e.to_string())?;
        let public = Url::parse(&s.public_url).map_err(|e| e.to_string())?;
        Config::from_settings(&s, &public)
    }

    #[test]
    fn defaults_are_on_web_ports_and_the_public_host_skipped() {
        let c = config(&[]).unwrap();
        assert!(c.enabled);
        assert_eq!(c.policy.ports, vec![80, 443]);
        assert_eq!(c.policy.skip_domains, vec!["portal.example.pl"]);
        assert!(c.policy.allow.is_empty());
        assert_eq!(
            c.user_agent,
            "MessagingLinkPreview/1.0 (+https://portal.example.pl)"
        );
    }

    #[test]
    fn settings_are_parsed_and_checked() {
        for off in ["off", "false", "no", "0"] {
            assert!(!config(&["--link-previews", off]).unwrap().enabled, "{off}");
        }
        let c = config(&[
            "--link-preview-ports",
            "80,443,8080",
            "--link-preview-skip-domains",
            "Intranet.Example.PL.,portal.example.pl",
            "--link-preview-allow-addresses",
            "127.0.0.1,10.20.0.0/16",
        ])
        .unwrap();
        assert_eq!(c.policy.ports, vec![80, 443, 8080]);
        assert_eq!(
            c.policy.skip_domains,
            vec!["intranet.example.pl", "portal.example.pl"]
        );
        assert_eq!(c.policy.allow.len(), 2);
        let err = config(&["--link-preview-allow-addresses", "intranet"]).unwrap_err();
        assert!(err.starts_with("LINK_PREVIEW_ALLOW_ADDRESSES"), "{err}");
        let err = config(&["--link-preview-skip-domains", "https://x.pl/"]).unwrap_err();
        assert!(err.starts_with("LINK_PREVIEW_SKIP_DOMAINS"), "{err}");
        let err = config(&["--link-preview-ports", "0"]).unwrap_err();
        assert!(err.starts_with("LINK_PREVIEW_PORTS"), "{err}");
        assert!(config(&["--link-preview-ports", "http"]).is_err());
        assert!(config(&["--link-previews", "maybe"]).is_err());
    }

    #[test]
    fn cache_keys_are_fixed_size() {
        assert_eq!(url_hash("https://example.pl/").len(), 64);
        assert_ne!(
            url_hash("https://example.pl/"),
            url_hash("https://example.pl/a")
        );
    }
}
