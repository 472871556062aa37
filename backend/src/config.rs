//! One `Settings` struct, read once from flags and environment variables and
//! validated at start. Every setting has a default that works on a fresh
//! machine (the embedded default: SQLite under ./data, in-process bus, mail
//! to the log). Invalid settings end the process with one clear line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};
use url::Url;

/// The window of the login limits.
pub const LOGIN_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// Where the data lives; shared by every subcommand that touches the database.
#[derive(Debug, Clone, Args)]
pub struct DbSettings {
    /// Database URL: postgres://user@host/db or sqlite://path?mode=rwc.
    /// Default: an SQLite file `messaging.db` in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Directory for the embedded database, attachments and the mail outbox.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Longest wait in seconds for a database connection (from the pool, or
    /// a new one): past it a request gets 503 instead of hanging while the
    /// database is unreachable (1–60).
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub database_acquire_timeout_secs: u64,
}

impl DbSettings {
    /// The effective database URL (the SQLite default resolved).
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(u) if !u.trim().is_empty() => u.trim().to_owned(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("messaging.db").display()
            ),
        }
    }

    /// DATABASE_ACQUIRE_TIMEOUT_SECS as a duration.
    pub fn acquire_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.database_acquire_timeout_secs)
    }

    /// Checks the URL and creates the data directory for SQLite.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=60).contains(&self.database_acquire_timeout_secs) {
            return Err("DATABASE_ACQUIRE_TIMEOUT_SECS must be 1 to 60".into());
        }
        let url = self.url();
        match crate::db::DbKind::from_url(&url) {
            Some(crate::db::DbKind::Sqlite) => {
                std::fs::create_dir_all(&self.data_dir).map_err(|e| {
                    format!(
                        "DATA_DIR {} cannot be created: {e}",
                        self.data_dir.display()
                    )
                })?;
                Ok(())
            }
            Some(crate::db::DbKind::Postgres) => Url::parse(&url)
                .map(|_| ())
                .map_err(|e| format!("DATABASE_URL is not a valid URL: {e}")),
            None => Err(format!(
                "DATABASE_URL must start with postgres:// or sqlite: (got {:?})",
                redact(&url)
            )),
        }
    }
}

/// Log settings, shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct LogSettings {
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `backend=debug,info`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    pub log_level: String,

    /// Log format.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
}

/// Settings of `messaging serve`.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub db: DbSettings,

    /// Address and port to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// The URL members use to reach the service (scheme, host, port; behind
    /// nginx the public https URL). Used for links in e-mails, the cookie
    /// Secure flag and the default allowed origin.
    #[arg(long, env = "PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,

    /// Redis URL for the event bus, presence and rate limits across instances
    /// (redis://host:6379). Default: in-process (one instance). While Redis
    /// is away messages are still stored and sent; real-time events of that
    /// time are not replayed (clients are told to refetch).
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key and channel of this service, so several
    /// deployments (or test runs) can share one Redis.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "msg:")]
    pub redis_key_prefix: String,

    /// SMTP URL for e-mail notifications (smtp://user:pass@host:587 or
    /// smtps://…). Default: e-mails are written to the log.
    #[arg(long, env = "SMTP_URL")]
    pub smtp_url: Option<String>,

    /// Comma-separated origins allowed to make cookie-authenticated
    /// state-changing requests. Default: the origin of PUBLIC_URL.
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Directory with the built SPA (`trunk build` output).
    #[arg(long, env = "STATIC_DIR", default_value = "./dist")]
    pub static_dir: PathBuf,

    /// Database pool size.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,

    /// Session lifetime in days.
    #[arg(long, env = "SESSION_TTL_DAYS", default_value_t = 30)]
    pub session_ttl_days: u32,

    /// Trust X-Forwarded-For / Forwarded from the proxy in front (nginx)
    /// for the client IP used by rate limits. Only enable behind a proxy.
    #[arg(long, env = "TRUST_PROXY_HEADERS", default_value_t = false)]
    pub trust_proxy_headers: bool,

    /// E-mail of the administrator created on the first start.
    #[arg(long, env = "ADMIN_EMAIL", default_value = "admin@example.com")]
    pub admin_email: String,

    /// Failed logins allowed per account within 15 minutes.
    #[arg(long, env = "LOGIN_MAX_FAILURES_PER_ACCOUNT", default_value_t = 5)]
    pub login_max_failures_per_account: u32,

    /// Login attempts allowed per client IP within 15 minutes.
    #[arg(long, env = "LOGIN_MAX_ATTEMPTS_PER_IP", default_value_t = 30)]
    pub login_max_attempts_per_ip: u32,

    /// Largest JSON request body in bytes.
    #[arg(long, env = "MAX_JSON_BYTES", default_value_t = 64 * 1024)]
    pub max_json_bytes: usize,

    /// Seconds between keep-alive comments on event streams (also how soon
    /// a vanished client is noticed).
    #[arg(long, env = "SSE_KEEP_ALIVE_SECS", default_value_t = 20)]
    pub sse_keep_alive_secs: u64,

    /// Seconds a heartbeat keeps a user online; with Redis also how long an
    /// instance's sessions last unless renewed, so the users of a crashed
    /// instance are announced offline within about this time.
    #[arg(long, env = "PRESENCE_TTL_SECS", default_value_t = 60)]
    pub presence_ttl_secs: u64,

    /// Seconds a user whose last stream closed still counts as online, so a
    /// reconnect does not flap (announced offline only after it).
    #[arg(long, env = "PRESENCE_GRACE_SECS", default_value_t = 5)]
    pub presence_grace_secs: u64,

    /// Most members a group may have.
    #[arg(long, env = "MAX_GROUP_MEMBERS", default_value_t = 256)]
    pub max_group_members: usize,

    /// Messages (sent or forwarded) a user may send per minute, sustained;
    /// see MESSAGES_BURST. More get 429 with Retry-After.
    #[arg(long, env = "MESSAGES_PER_MINUTE", default_value_t = 120)]
    pub messages_per_minute: u32,

    /// Messages a user may send at once before MESSAGES_PER_MINUTE applies
    /// (the bucket refills at that rate).
    #[arg(long, env = "MESSAGES_BURST", default_value_t = 30)]
    pub messages_burst: u32,

    /// Conversations a user may create per hour (at most this many at once,
    /// then one per hour / this). More get 429 with Retry-After.
    #[arg(long, env = "CONVERSATIONS_PER_HOUR", default_value_t = 60)]
    pub conversations_per_hour: u32,

    /// Link previews: fetch the first http(s) link of each message in the
    /// background and attach its title, description and image (on/off).
    #[arg(
        long,
        env = "LINK_PREVIEWS",
        default_value = "on",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub link_previews: bool,

    /// Ports link previews may connect to (comma-separated).
    #[arg(long, env = "LINK_PREVIEW_PORTS", value_delimiter = ',', default_values_t = [80u16, 443])]
    pub link_preview_ports: Vec<u16>,

    /// Domains (with their subdomains) never fetched for previews,
    /// comma-separated. Default: the host of PUBLIC_URL.
    #[arg(long, env = "LINK_PREVIEW_SKIP_DOMAINS", value_delimiter = ',')]
    pub link_preview_skip_domains: Vec<String>,

    /// Addresses or CIDR ranges link previews may reach although they are
    /// private, loopback or link-local (tests, an intranet portal).
    /// Default: none — only public addresses.
    #[arg(long, env = "LINK_PREVIEW_ALLOW_ADDRESSES", value_delimiter = ',')]
    pub link_preview_allow_addresses: Vec<String>,
    /// Seconds a new-message e-mail waits, collecting further messages,
    /// before it is sent: a member gets at most one mail per conversation
    /// per window, and none if they read the conversation first.
    #[arg(long, env = "NOTIFY_BATCH_WINDOW_SECS", default_value_t = 300)]
    pub notify_batch_window_secs: u64,

    /// Sender of notification e-mails, `Name <address>` or an address.
    /// Default: `Wiadomości <no-reply@…>` with the host of PUBLIC_URL.
    #[arg(long, env = "MAIL_FROM")]
    pub mail_from: Option<String>,

    /// How often the mail worker looks for notifications that are due, in
    /// milliseconds.
    #[arg(long, env = "MAIL_POLL_INTERVAL_MS", default_value_t = 2000)]
    pub mail_poll_interval_ms: u64,

    /// SMTP timeout in seconds (connecting and each command).
    #[arg(long, env = "SMTP_TIMEOUT_SECS", default_value_t = 30)]
    pub smtp_timeout_secs: u64,

    /// Delay before the first retry of a mail that could not be sent; it
    /// doubles with every failed attempt up to MAIL_RETRY_MAX_SECS.
    #[arg(long, env = "MAIL_RETRY_MIN_SECS", default_value_t = 60)]
    pub mail_retry_min_secs: u64,

    /// Longest delay between retries of a mail that could not be sent.
    #[arg(long, env = "MAIL_RETRY_MAX_SECS", default_value_t = 3600)]
    pub mail_retry_max_secs: u64,

    /// Largest attachment file in bytes (each file of an upload; larger
    /// ones get 413).
    #[arg(long, env = "MAX_UPLOAD_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_upload_bytes: u64,

    /// How long an upload may stay unattached to a message before it is
    /// removed: `24h`, `30m`, `45s`, `2d` or a number of seconds.
    #[arg(long, env = "ATTACHMENT_RETENTION", default_value = "24h", value_parser = parse_duration)]
    pub attachment_retention: std::time::Duration,

    #[command(flatten)]
    pub storage: StorageSettings,

    /// Bearer token Prometheus must send to read `GET /metrics` (at least
    /// 16 characters). Unset: /metrics answers 404.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
}

impl Settings {
    /// NOTIFY_BATCH_WINDOW_SECS as a duration.
    pub fn notify_batch_window(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.notify_batch_window_secs).unwrap_or(i64::MAX))
    }
}

#[derive(Parser)]
#[command(name = "messaging-serve", args_override_self = true)]
struct SettingsOnly {
    #[command(flatten)]
    settings: Settings,
}

impl Settings {
    /// Parses settings from flags (and the environment), as `serve` does;
    /// for tests and tools that build an `Application` directly.
    pub fn parse_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        SettingsOnly::try_parse_from(args).map(|s| s.settings)
    }
}

/// What `Settings::validate` derives and checks once at start.
#[derive(Debug, Clone)]
pub struct Validated {
    pub bind: SocketAddr,
    pub public_url: Url,
    pub allowed_origins: Vec<String>,
    pub secure_cookies: bool,
    pub link_preview: crate::jobs::link_preview::Config,
    /// The sender of notification e-mails (MAIL_FROM or its default).
    pub mail_from: lettre::message::Mailbox,
}

impl Settings {
    /// MESSAGES_PER_MINUTE with MESSAGES_BURST.
    pub fn message_rate(&self) -> crate::rate_limit::Rate {
        crate::rate_limit::Rate::per_minute(self.messages_per_minute, self.messages_burst)
    }

    /// CONVERSATIONS_PER_HOUR.
    pub fn conversation_rate(&self) -> crate::rate_limit::Rate {
        crate::rate_limit::Rate::per(
            self.conversations_per_hour,
            std::time::Duration::from_secs(3600),
        )
    }

    /// Failed logins per account: LOGIN_MAX_FAILURES_PER_ACCOUNT per 15 min.
    pub fn login_account_rate(&self) -> crate::rate_limit::Rate {
        crate::rate_limit::Rate::per(self.login_max_failures_per_account, LOGIN_WINDOW)
    }

    /// Login attempts per client IP: LOGIN_MAX_ATTEMPTS_PER_IP per 15 min.
    pub fn login_ip_rate(&self) -> crate::rate_limit::Rate {
        crate::rate_limit::Rate::per(self.login_max_attempts_per_ip, LOGIN_WINDOW)
    }

    /// Heartbeats that refresh presence: one per user per sixth of
    /// PRESENCE_TTL_SECS (10 s by default), so a user stays online however
    /// the heartbeats of their tabs fall; the others are accepted and ignored.
    pub fn heartbeat_rate(&self) -> crate::rate_limit::Rate {
        crate::rate_limit::Rate {
            burst: 1,
            every: std::time::Duration::from_secs(self.presence_ttl_secs) / 6,
        }
    }

    pub fn presence_times(&self) -> crate::realtime::presence::PresenceTimes {
        crate::realtime::presence::PresenceTimes {
            ttl: std::time::Duration::from_secs(self.presence_ttl_secs),
            grace: std::time::Duration::from_secs(self.presence_grace_secs),
        }
    }

    /// Checks every setting; the error is one line naming the setting.
    pub fn validate(&self) -> Result<Validated, String> {
        self.db.validate()?;
        let bind: SocketAddr = self.bind.parse().map_err(|_| {
            format!(
                "BIND must be an address:port like 127.0.0.1:8080 (got {:?})",
                self.bind
            )
        })?;
        let public_url = Url::parse(&self.public_url)
            .map_err(|e| format!("PUBLIC_URL is not a valid URL ({e}): {:?}", self.public_url))?;
        if !matches!(public_url.scheme(), "http" | "https") || public_url.host().is_none() {
            return Err(format!(
                "PUBLIC_URL must be an http(s) URL with a host (got {:?})",
                self.public_url
            ));
        }
        if let Some(r) = self.redis_url.as_deref().filter(|s| !s.is_empty()) {
            let u = Url::parse(r).map_err(|e| format!("REDIS_URL is not a valid URL: {e}"))?;
            if u.scheme() == "rediss" {
                return Err(
                    "REDIS_URL: rediss:// (TLS) is not supported; use redis:// on a \
                     private network or through a TLS tunnel"
                        .into(),
                );
            }
            if u.scheme() != "redis" {
                return Err(format!(
                    "REDIS_URL must start with redis:// (got {:?})",
                    redact(r)
                ));
            }
        }
        if self.redis_key_prefix.len() > 64
            || self
                .redis_key_prefix
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err("REDIS_KEY_PREFIX must be at most 64 characters without spaces".into());
        }
        if let Some(s) = self.smtp_url.as_deref().filter(|s| !s.is_empty()) {
            let u = Url::parse(s).map_err(|e| format!("SMTP_URL is not a valid URL: {e}"))?;
            if !matches!(u.scheme(), "smtp" | "smtps") {
                return Err(format!(
                    "SMTP_URL must start with smtp:// or smtps:// (got {:?})",
                    redact(s)
                ));
            }
            if u.host_str().is_none_or(str::is_empty) {
                return Err(format!("SMTP_URL needs a host (got {:?})", redact(s)));
            }
            for (k, v) in u.query_pairs() {
                let ok = k == "tls"
                    && u.scheme() == "smtp"
                    && matches!(&*v, "none" | "opportunistic" | "required");
                if !ok {
                    return Err(format!(
                        "SMTP_URL: unknown parameter {k}={v}; smtp:// takes \
                         ?tls=required|opportunistic|none, smtps:// none"
                    ));
                }
            }
        }
        if !(1..=86_400).contains(&self.notify_batch_window_secs) {
            return Err("NOTIFY_BATCH_WINDOW_SECS must be 1 to 86400".into());
        }
        if !(10..=600_000).contains(&self.mail_poll_interval_ms) {
            return Err("MAIL_POLL_INTERVAL_MS must be 10 to 600000".into());
        }
        if !(1..=600).contains(&self.smtp_timeout_secs) {
            return Err("SMTP_TIMEOUT_SECS must be 1 to 600".into());
        }
        if self.mail_retry_min_secs == 0 || self.mail_retry_max_secs < self.mail_retry_min_secs {
            return Err(
                "MAIL_RETRY_MIN_SECS must be at least 1 and MAIL_RETRY_MAX_SECS at least as large"
                    .into(),
            );
        }
        let mail_from = crate::jobs::notify::mail::sender(self.mail_from.as_deref(), &public_url)?;
        let mut allowed_origins = Vec::new();
        for o in self
            .allowed_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
        {
            let u = Url::parse(o).map_err(|_| {
                format!("ALLOWED_ORIGINS: {o:?} is not an origin like https://example.pl")
            })?;
            allowed_origins.push(u.origin().ascii_serialization());
        }
        if allowed_origins.is_empty() {
            allowed_origins.push(public_url.origin().ascii_serialization());
            // On a developer machine 127.0.0.1 and localhost are the same place.
            if let Some(host) = public_url
                .host_str()
                .filter(|h| *h == "127.0.0.1" || *h == "localhost")
            {
                let mut alt = public_url.clone();
                let other = if host == "localhost" {
                    "127.0.0.1"
                } else {
                    "localhost"
                };
                if alt.set_host(Some(other)).is_ok() {
                    allowed_origins.push(alt.origin().ascii_serialization());
                }
            }
        }
        if !crate::domain::users::is_valid_email(&self.admin_email) {
            return Err(format!(
                "ADMIN_EMAIL is not a valid e-mail address: {:?}",
                self.admin_email
            ));
        }
        if !(1..=25).contains(&self.sse_keep_alive_secs) {
            return Err("SSE_KEEP_ALIVE_SECS must be 1 to 25".into());
        }
        if !(2..=3600).contains(&self.presence_ttl_secs) {
            return Err("PRESENCE_TTL_SECS must be 2 to 3600".into());
        }
        if self.presence_grace_secs > 300 {
            return Err("PRESENCE_GRACE_SECS must be 0 to 300".into());
        }
        let rate_ok = |n: u32| (1..=1_000_000).contains(&n);
        if !rate_ok(self.messages_per_minute) || !rate_ok(self.messages_burst) {
            return Err("MESSAGES_PER_MINUTE and MESSAGES_BURST must be 1 to 1000000".into());
        }
        if !rate_ok(self.conversations_per_hour) {
            return Err("CONVERSATIONS_PER_HOUR must be 1 to 1000000".into());
        }
        if self.max_group_members < 2 {
            return Err("MAX_GROUP_MEMBERS must be at least 2".into());
        }
        if self.max_json_bytes < 1024 {
            return Err("MAX_JSON_BYTES must be at least 1024".into());
        }
        if self.session_ttl_days == 0 {
            return Err("SESSION_TTL_DAYS must be at least 1".into());
        }
        if self.database_max_connections == 0 {
            return Err("DATABASE_MAX_CONNECTIONS must be at least 1".into());
        }
        if let Some(t) = self.metrics_token.as_deref().filter(|t| !t.is_empty())
            && (t.len() < 16 || t.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err("METRICS_TOKEN must be at least 16 characters without spaces".into());
        }
        let link_preview = crate::jobs::link_preview::Config::from_settings(self, &public_url)?;
        if self.max_upload_bytes == 0 {
            return Err("MAX_UPLOAD_BYTES must be at least 1".into());
        }
        if self.attachment_retention.is_zero() {
            return Err("ATTACHMENT_RETENTION must be longer than 0 s".into());
        }
        self.storage.s3_config()?;
        Ok(Validated {
            bind,
            secure_cookies: public_url.scheme() == "https",
            link_preview,
            public_url,
            allowed_origins,
            mail_from,
        })
    }
}

/// Where attachment files are kept; shared by `serve` and `import-legacy`.
#[derive(Debug, Clone, Args)]
pub struct StorageSettings {
    /// S3-compatible bucket for attachments (several instances share it).
    /// Default: files under DATA_DIR/attachments.
    #[arg(long, env = "ATTACHMENTS_S3_BUCKET")]
    pub attachments_s3_bucket: Option<String>,

    /// Endpoint of an S3-compatible server (MinIO, Ceph…), e.g.
    /// `https://s3.example.pl`; default: AWS.
    #[arg(long, env = "ATTACHMENTS_S3_ENDPOINT")]
    pub attachments_s3_endpoint: Option<String>,

    /// Region of the bucket.
    #[arg(long, env = "ATTACHMENTS_S3_REGION", default_value = "us-east-1")]
    pub attachments_s3_region: String,

    /// Access key id for the bucket (with ATTACHMENTS_S3_SECRET_ACCESS_KEY;
    /// without both, the instance's AWS role is used).
    #[arg(long, env = "ATTACHMENTS_S3_ACCESS_KEY_ID")]
    pub attachments_s3_access_key_id: Option<String>,

    /// Secret access key for the bucket.
    #[arg(long, env = "ATTACHMENTS_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub attachments_s3_secret_access_key: Option<Secret>,
}

impl StorageSettings {
    /// The attachment bucket, when ATTACHMENTS_S3_BUCKET is set; an error
    /// names the setting that is wrong or missing.
    pub fn s3_config(&self) -> Result<Option<crate::storage::S3Config>, String> {
        let set = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let bucket = set(&self.attachments_s3_bucket);
        let endpoint = set(&self.attachments_s3_endpoint);
        let key_id = set(&self.attachments_s3_access_key_id);
        let secret = self
            .attachments_s3_secret_access_key
            .as_ref()
            .map(|s| s.0.trim().to_owned())
            .filter(|s| !s.is_empty());
        let Some(bucket) = bucket else {
            if endpoint.is_some() || key_id.is_some() || secret.is_some() {
                return Err(
                    "ATTACHMENTS_S3_BUCKET is required when other ATTACHMENTS_S3_* settings are set"
                        .into(),
                );
            }
            return Ok(None);
        };
        // S3 bucket naming rules (also what MinIO accepts).
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !valid_bucket {
            return Err(format!(
                "ATTACHMENTS_S3_BUCKET must be a bucket name (3-63 lowercase letters, digits, '-' or '.'), got {bucket:?}"
            ));
        }
        if let Some(e) = &endpoint {
            let u = Url::parse(e)
                .map_err(|err| format!("ATTACHMENTS_S3_ENDPOINT is not a valid URL: {err}"))?;
            if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
                return Err(format!(
                    "ATTACHMENTS_S3_ENDPOINT must be an http(s) URL with a host (got {:?})",
                    redact(e)
                ));
            }
        }
        if key_id.is_some() != secret.is_some() {
            return Err(
                "ATTACHMENTS_S3_ACCESS_KEY_ID and ATTACHMENTS_S3_SECRET_ACCESS_KEY go together: set both or neither"
                    .into(),
            );
        }
        let region = self.attachments_s3_region.trim();
        if region.is_empty() || region.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("ATTACHMENTS_S3_REGION must be a region name like eu-central-1".into());
        }
        Ok(Some(crate::storage::S3Config {
            bucket,
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_owned()),
            region: region.to_owned(),
            access_key_id: key_id,
            secret_access_key: secret,
        }))
    }
}

/// A setting that must not appear in logs or `Debug` output.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// `24h`, `30m`, `45s`, `2d`, or a number of seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 24h, 30m, 45s or 2d"))?;
    let secs = match unit.trim() {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .ok_or_else(|| format!("{s:?} is not a duration like 24h, 30m, 45s or 2d"))?;
    Ok(std::time::Duration::from_secs(secs))
}

/// Hides the password of a URL for messages.
pub(crate) fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod attachment_settings_tests {
    use super::*;

    fn settings(extra: &[&str]) -> Settings {
        // validate() creates the data directory: keep it out of the tree.
        let dir = std::env::temp_dir().join("messaging-config-tests");
        let dir = dir.display().to_string();
        let mut args = vec!["serve", "--data-dir", dir.as_str()];
        args.extend_from_slice(extra);
        Settings::parse_from(args).expect("parse")
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("24h"),
            Ok(std::time::Duration::from_secs(86_400))
        );
        assert_eq!(
            parse_duration("2d"),
            Ok(std::time::Duration::from_secs(172_800))
        );
        assert_eq!(
            parse_duration("30m"),
            Ok(std::time::Duration::from_secs(1_800))
        );
        assert_eq!(
            parse_duration("45s"),
            Ok(std::time::Duration::from_secs(45))
        );
        assert_eq!(parse_duration("90"), Ok(std::time::Duration::from_secs(90)));
        for bad in ["", "h", "1w", "-5s", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            settings(&[]).attachment_retention,
            std::time::Duration::from_secs(86_400)
        );
    }

    #[test]
    fn s3_settings_are_checked() {
        assert!(settings(&[]).storage.s3_config().unwrap().is_none());
        let s = settings(&[
            "--attachments-s3-bucket",
            "zalaczniki",
            "--attachments-s3-endpoint",
            "http://127.0.0.1:9000/",
            "--attachments-s3-access-key-id",
            "id",
            "--attachments-s3-secret-access-key",
            "sekret",
        ]);
        let c = s.storage.s3_config().unwrap().expect("s3");
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(c.region, "us-east-1");
        assert!(
            !format!("{s:?}").contains("sekret"),
            "the secret stays out of logs"
        );
        crate::storage::Storage::from_settings(&s.storage, &s.db.data_dir).expect("client built");

        for (args, needle) in [
            (
                vec!["--attachments-s3-endpoint", "http://x"],
                "ATTACHMENTS_S3_BUCKET is required",
            ),
            (
                vec!["--attachments-s3-bucket", "Zle_Imie"],
                "ATTACHMENTS_S3_BUCKET must",
            ),
            (
                vec![
                    "--attachments-s3-bucket",
                    "ok-bucket",
                    "--attachments-s3-endpoint",
                    "ftp://x",
                ],
                "ATTACHMENTS_S3_ENDPOINT",
            ),
            (
                vec![
                    "--attachments-s3-bucket",
                    "ok-bucket",
                    "--attachments-s3-access-key-id",
                    "id",
                ],
                "set both or neither",
            ),
            (vec!["--max-upload-bytes", "0"], "MAX_UPLOAD_BYTES"),
            (vec!["--attachment-retention", "0s"], "ATTACHMENT_RETENTION"),
        ] {
            let err = settings(&args).validate().expect_err(needle);
            assert!(err.contains(needle), "{err}");
        }
    }
}
