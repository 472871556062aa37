//! `make bench`: the API measured over real HTTP against PostgreSQL.
//!
//! Creates its own database `msgbench_<pid>`, migrates it, seeds it with
//! set-based SQL (10,000 users, 1,000 conversations of the main user, one
//! million messages, skewed), starts the real server in-process on port 0,
//! logs in over HTTP and times the requests a client makes most: the
//! conversation list, a page of messages (newest and deep), sending with ten
//! concurrent senders, a conversation's details (unread count) and search.
//! It also prints the plans of the search and unread-count statements, the
//! SQL statements and CPU time each request cost, and the machine.
//!
//! Speed is measured and printed next to its target, never asserted: the
//! figures depend on the machine and on what else it is running. The
//! database is dropped at the end, also when the bench fails (a guard), and
//! ones left by a killed run are dropped by the next run.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;

use anyhow::{Context, anyhow, bail, ensure};
use backend::config::Settings;
use backend::startup::Application;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use shared::dto::conversations::{ConversationDetail, ConversationPage};
use shared::dto::messages::MessagePage;

use common::{BenchDb, exec, loadavg, machine};

/// The origin the bench server trusts; cookie requests that change state
/// must carry it, as the SPA's do.
const ORIGIN: &str = "http://localhost:8080";
const PASSWORD: &str = "haslo-bench-1";

const USERS: i64 = 10_000;
/// Conversations 1..=900 are 1:1 of the main user (id 1) with user c+1.
const ONE_TO_ONE: i64 = 900;
/// Conversations 901..=1000 are groups of 5–20 members owned by the main user.
const GROUPS: i64 = 100;
const MESSAGES: i64 = 1_000_000;
/// The big conversations: half of all messages, ~100k each.
const BIG: [i64; 5] = [1, 2, 3, 901, 902];
/// The conversation the message pages are read from.
const PAGED: i64 = 1;
/// Ten senders, each the other member of its own 1:1 (conversations 11..=20).
const SENDERS: i64 = 10;
const FIRST_SENDER_CONVERSATION: i64 = 11;

const WARMUP: usize = 50;
const READS: usize = 1_000;
const SEARCHES: usize = 200;
const SENDS_PER_SENDER: usize = 2000;
const SEND_WARMUP_PER_SENDER: usize = 20;
/// Sends of the single-sender comparison (latency without contention).
const SINGLE_SENDS: usize = 500;

async fn scalar(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| anyhow!("no row from {sql}"))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

async fn text_rows(db: &DatabaseConnection, sql: &str) -> anyhow::Result<Vec<String>> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .with_context(|| format!("query failed:\n{sql}"))?;
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).map_err(Into::into))
        .collect()
}

/// Runs one timed seeding step and says how long it took.
async fn step(db: &DatabaseConnection, what: &str, sql: &str) -> anyhow::Result<()> {
    let t = Instant::now();
    exec(db, sql).await?;
    println!("  {what:<58} {:>7.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// Fills the database with set-based SQL: one statement per table, not one
/// per row. Ids are explicit so that the shape below is easy to reason about.
async fn seed(db: &DatabaseConnection) -> anyhow::Result<()> {
    let total = Instant::now();
    println!("seeding:");
    // One user made properly, so that its argon2 hash is valid; everyone
    // else gets a copy of it (same password) without paying for argon2.
    let main = backend::domain::users::create(
        db,
        backend::domain::users::NewUser {
            email: "u1@bench.pl".into(),
            name: "Użytkownik 1".into(),
            password: PASSWORD.into(),
            is_admin: false,
        },
    )
    .await
    .map_err(|e| anyhow!("create the main user: {e}"))?;
    ensure!(
        main.id == 1,
        "the main user should be id 1 in a fresh database"
    );
    // Bulk loading: more memory for the index builds of this session.
    exec(db, "SET maintenance_work_mem = '256MB'").await?;
    step(
        db,
        &format!("{} users (hash copied from user 1)", USERS - 1),
        &format!(
            "INSERT INTO users (id, email, name, password_hash, is_admin, is_active, \
             notify_email_messages, language, created_at, updated_at) \
             SELECT n, 'u' || n || '@bench.pl', 'Użytkownik ' || n, \
                    (SELECT password_hash FROM users WHERE id = 1), \
                    false, true, true, 'pl', now(), now() \
             FROM generate_series(2, {USERS}) AS n"
        ),
    )
    .await?;
    step(
        db,
        &format!("{ONE_TO_ONE} 1:1 + {GROUPS} group conversations"),
        &format!(
            "INSERT INTO conversations (id, name, description, is_group, owner_id, direct_key, \
             last_message_id, created_at, updated_at) \
             SELECT n, CASE WHEN n > {ONE_TO_ONE} THEN 'Grupa ' || n END, NULL, n > {ONE_TO_ONE}, \
                    CASE WHEN n > {ONE_TO_ONE} THEN 1 END, \
                    CASE WHEN n <= {ONE_TO_ONE} THEN '1:' || (n + 1) END, NULL, \
                    now() - interval '30 days', now() - interval '30 days' \
             FROM generate_series(1, {}) AS n",
            ONE_TO_ONE + GROUPS
        ),
    )
    .await?;
    // Members with a position 0..k-1 in their conversation: the message
    // generator below picks the sender by position.
    step(
        db,
        "members (1:1: the pair; groups: 5–20)",
        &format!(
            "CREATE TEMP TABLE bench_member AS \
             SELECT c AS conversation_id, 0 AS idx, 1::bigint AS user_id \
               FROM generate_series(1, {all}) AS c \
             UNION ALL \
             SELECT c, 1, c + 1 FROM generate_series(1, {ONE_TO_ONE}) AS c \
             UNION ALL \
             SELECT c, j, 1000 + (c - {first_group}) * 20 + j \
               FROM generate_series({first_group}, {all}) AS c, \
                    generate_series(1, 4 + c % 16) AS j; \
             INSERT INTO conversation_members (conversation_id, user_id, role, is_muted, \
                    is_archived, joined_at, added_by_id) \
             SELECT m.conversation_id, m.user_id, \
                    CASE WHEN c.is_group AND m.user_id = 1 THEN 'owner' ELSE 'member' END, \
                    false, false, c.created_at, \
                    CASE WHEN c.is_group AND m.user_id <> 1 THEN 1 END \
             FROM bench_member m JOIN conversations c ON c.id = m.conversation_id",
            all = ONE_TO_ONE + GROUPS,
            first_group = ONE_TO_ONE + 1,
        ),
    )
    .await?;
    // Slots -1..-5 are the big conversations (every even id, round robin,
    // so they are active until the end); slots 0..n-1 the rest (odd ids),
    // picked with a squared pseudo-random number so that low slots get far
    // more messages (~16k down to ~250).
    let big = BIG.map(|b| b.to_string()).join(", ");
    let small = ONE_TO_ONE + GROUPS - BIG.len() as i64;
    step(
        db,
        "conversation slots",
        &format!(
            "CREATE TEMP TABLE bench_slot AS \
             SELECT -(ord::int) AS slot, id AS conversation_id \
               FROM unnest(ARRAY[{big}]::bigint[]) WITH ORDINALITY AS b(id, ord) \
             UNION ALL \
             SELECT (row_number() OVER (ORDER BY id))::int - 1, id FROM conversations \
               WHERE id NOT IN ({big}); \
             ALTER TABLE bench_slot ADD COLUMN members int; \
             UPDATE bench_slot s SET members = \
               (SELECT count(*) FROM bench_member m WHERE m.conversation_id = s.conversation_id); \
             ANALYZE bench_slot; ANALYZE bench_member"
        ),
    )
    .await?;
    // The trigram index is built once after the load: maintaining it row by
    // row for a million inserts is what makes bulk loads slow. It is
    // recreated exactly as the migration defines it.
    exec(db, "DROP INDEX idx_conv_messages_search").await?;
    step(
        db,
        &format!("{MESSAGES} messages"),
        &format!(
            "INSERT INTO conv_messages (id, conversation_id, sender_id, content, content_html, \
             content_search, is_deleted, created_at) \
             SELECT p.n, s.conversation_id, m.user_id, \
                    'Wiadomość ' || p.n, '<p>Wiadomość ' || p.n || '</p>', 'wiadomość ' || p.n, \
                    false, now() - ({MESSAGES} + 1 - p.n) * interval '1 second' \
             FROM (SELECT n, CASE WHEN n % 2 = 0 THEN -1 - ((n / 2) % {nbig})::int \
                         ELSE floor({small} * power(((n * 7919) % 100003) / 100003.0, 2))::int \
                         END AS slot \
                   FROM generate_series(1::bigint, {MESSAGES}) AS n) AS p \
             JOIN bench_slot s ON s.slot = p.slot \
             JOIN bench_member m ON m.conversation_id = s.conversation_id \
                                AND m.idx = (p.n / 10) % s.members",
            nbig = BIG.len(),
        ),
    )
    .await?;
    step(
        db,
        "trigram index idx_conv_messages_search",
        "CREATE INDEX idx_conv_messages_search ON conv_messages \
         USING gin (content_search gin_trgm_ops)",
    )
    .await?;
    step(
        db,
        "last_message_id / updated_at of each conversation",
        "ANALYZE conv_messages; \
         UPDATE conversations c SET last_message_id = \
           (SELECT max(id) FROM conv_messages m WHERE m.conversation_id = c.id); \
         UPDATE conversations c SET updated_at = m.created_at \
           FROM conv_messages m WHERE m.id = c.last_message_id",
    )
    .await?;
    // Everyone has read everything, except the main user: the last ~100
    // messages of the big conversations, some in three quarters of the rest.
    step(
        db,
        "read positions (main user: unread in 3/4 of conversations)",
        &format!(
            "UPDATE conversation_members m SET last_read_at = c.updated_at, \
               last_read_message_id = CASE \
                 WHEN m.user_id <> 1 OR c.id % 4 = 0 THEN c.last_message_id \
                 WHEN c.id IN ({big}) THEN c.last_message_id - 1000 \
                 ELSE c.last_message_id - (c.id % 50 + 1) * 500 END \
             FROM conversations c WHERE c.id = m.conversation_id"
        ),
    )
    .await?;
    step(
        db,
        "sequences past the explicit ids",
        "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users)); \
         SELECT setval(pg_get_serial_sequence('conversations', 'id'), \
                       (SELECT max(id) FROM conversations)); \
         SELECT setval(pg_get_serial_sequence('conv_messages', 'id'), \
                       (SELECT max(id) FROM conv_messages))",
    )
    .await?;
    step(db, "ANALYZE", "ANALYZE").await?;
    println!(
        "  {:<58} {:>7.1} s",
        "seeding in total",
        total.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Busy and total jiffies of the whole machine (every process, not only
/// this one), from the first line of /proc/stat.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    if fields.len() < 5 {
        return None;
    }
    let total: u64 = fields.iter().sum();
    let idle = fields[3] + fields[4];
    Some((total - idle, total))
}

/// The bench database's name, to tell its PostgreSQL backends from those of
/// other clients of the same server.
static DB_NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// CPU time (user + system, in clock ticks) of this process and of the
/// PostgreSQL backends connected to the bench database (their process
/// title names it), from /proc/<pid>/stat. Parallel workers exit with their
/// query, so their time is not counted.
fn process_ticks() -> (u64, u64) {
    fn ticks(stat: &str) -> Option<(&str, u64)> {
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let comm = stat.get(open + 1..close)?;
        let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
        // Fields 14 and 15 of stat(5); `rest` starts at field 3.
        let utime: u64 = rest.get(11)?.parse().ok()?;
        let stime: u64 = rest.get(12)?.parse().ok()?;
        Some((comm, utime + stime))
    }
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| ticks(&s).map(|(_, t)| t))
        .unwrap_or(0);
    let mut postgres = 0;
    let Some(db) = DB_NAME.get().map(|n| format!(" {n} ")) else {
        return (own, postgres);
    };
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let ours = std::fs::read(entry.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&db))
                .unwrap_or(false);
            if ours
                && let Ok(s) = std::fs::read_to_string(entry.path().join("stat"))
                && let Some(("postgres", t)) = ticks(&s)
            {
                postgres += t;
            }
        }
    }
    (own, postgres)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// What is read when a measured stretch starts, to compare at its end.
struct Probe {
    start: Instant,
    statements: u64,
    cpu: Option<(u64, u64)>,
    ticks: (u64, u64),
}

impl Probe {
    fn start(counter: &AtomicU64) -> Self {
        Self {
            statements: counter.load(Ordering::SeqCst),
            cpu: cpu_jiffies(),
            ticks: process_ticks(),
            start: Instant::now(),
        }
    }

    fn finish(
        self,
        name: impl Into<String>,
        mut latencies: Vec<Duration>,
        warmup_max: Option<Duration>,
        counter: &AtomicU64,
    ) -> Samples {
        let wall = self.start.elapsed();
        let ticks = process_ticks();
        let statements = counter.load(Ordering::SeqCst) - self.statements;
        let cpu_busy = match (self.cpu, cpu_jiffies()) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                Some(100.0 * (b1 - b0) as f64 / (t1 - t0) as f64)
            }
            _ => None,
        };
        let per_request_ms =
            |t: u64| 1000.0 * t as f64 / ticks_per_second() / latencies.len().max(1) as f64;
        let cpu_ms = (
            per_request_ms(ticks.0.saturating_sub(self.ticks.0)),
            per_request_ms(ticks.1.saturating_sub(self.ticks.1)),
        );
        latencies.sort_unstable();
        let name = name.into();
        println!("  measured {name}");
        Samples {
            name,
            latencies,
            wall,
            warmup_max,
            statements,
            cpu_busy,
            cpu_ms,
        }
    }
}

/// Latencies of one measured operation and what it cost.
struct Samples {
    name: String,
    /// Sorted.
    latencies: Vec<Duration>,
    wall: Duration,
    /// The slowest warm-up call: cold caches, and the first (custom) plans
    /// of each pooled connection's prepared statements.
    warmup_max: Option<Duration>,
    /// SQL statements the server ran while measuring.
    statements: u64,
    /// Busy share of the machine's CPUs while measuring, in percent.
    cpu_busy: Option<f64>,
    /// CPU milliseconds per request of this process (HTTP client and
    /// server) and of PostgreSQL.
    cpu_ms: (f64, f64),
}

impl Samples {
    fn pct(&self, p: f64) -> Duration {
        let n = self.latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.latencies[rank.clamp(1, n) - 1]
    }

    fn mean(&self) -> Duration {
        let n = self.latencies.len().max(1) as u32;
        self.latencies.iter().sum::<Duration>() / n
    }

    fn per_sec(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64().max(f64::EPSILON)
    }

    fn statements_per_request(&self) -> f64 {
        self.statements as f64 / self.latencies.len().max(1) as f64
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A target to print next to a result; `None` fields are not targeted.
#[derive(Clone, Copy, Default)]
struct Target {
    p50_ms: Option<f64>,
    per_sec: Option<f64>,
}

impl Target {
    fn p50(ms: f64) -> Self {
        Self {
            p50_ms: Some(ms),
            per_sec: None,
        }
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.p50_ms {
            parts.push(format!("p50 ≤ {p} ms"));
        }
        if let Some(r) = self.per_sec {
            parts.push(format!("≥ {r} /s"));
        }
        if parts.is_empty() {
            "—".into()
        } else {
            parts.join(", ")
        }
    }

    fn verdict(&self, s: &Samples) -> &'static str {
        if self.p50_ms.is_none() && self.per_sec.is_none() {
            return "—";
        }
        let p50_ok = self.p50_ms.is_none_or(|t| ms(s.pct(50.0)) <= t);
        let rate_ok = self.per_sec.is_none_or(|t| s.per_sec() >= t);
        if p50_ok && rate_ok { "met" } else { "MISSED" }
    }
}

/// `warmup` untimed calls (the slowest is reported), then `n` timed ones,
/// one after another.
async fn sequential<F, Fut>(
    name: &str,
    counter: &AtomicU64,
    warmup: usize,
    n: usize,
    mut call: F,
) -> anyhow::Result<Samples>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut warmup_max = None;
    for i in 0..warmup {
        let t = Instant::now();
        call(i).await.with_context(|| format!("{name} (warm-up)"))?;
        warmup_max = warmup_max.max(Some(t.elapsed()));
    }
    let mut latencies = Vec::with_capacity(n);
    let probe = Probe::start(counter);
    for i in 0..n {
        let t = Instant::now();
        call(warmup + i).await.with_context(|| name.to_owned())?;
        latencies.push(t.elapsed());
    }
    Ok(probe.finish(name, latencies, warmup_max, counter))
}

/// A cookie-keeping client that sends the allowed Origin, like the SPA.
fn browser_client() -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ORIGIN,
        reqwest::header::HeaderValue::from_static(ORIGIN),
    );
    backend::tls::install_crypto_provider();
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .build()?)
}

async fn login(base: &str, user_id: i64) -> anyhow::Result<reqwest::Client> {
    let client = browser_client()?;
    let res = client
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({ "email": format!("u{user_id}@bench.pl"), "password": PASSWORD }))
        .send()
        .await?;
    ensure!(
        res.status() == 200,
        "login as user {user_id}: {}",
        res.status()
    );
    Ok(client)
}

/// GET that must succeed; the body is read in full (a client waits for it).
async fn get(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let res = client.get(url).send().await?;
    let status = res.status();
    let body = res.bytes().await?;
    if !status.is_success() {
        bail!("GET {url}: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
) -> anyhow::Result<T> {
    let res = client.get(url).send().await?;
    let status = res.status();
    ensure!(status.is_success(), "GET {url}: {status}");
    Ok(res.json().await?)
}

async fn send(client: &reqwest::Client, url: &str, content: String) -> anyhow::Result<()> {
    let res = client
        .post(url)
        .json(&serde_json::json!({ "content": content }))
        .send()
        .await?;
    let status = res.status();
    let body = res.bytes().await?;
    if status != 201 {
        bail!("POST {url}: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

/// `senders` users, each the other member of its own 1:1 (conversations
/// `first_conversation`…), sending at once: per-request latency and the
/// total rate over all of them.
async fn concurrent_sends(
    base: &str,
    counter: &AtomicU64,
    senders: i64,
    first_conversation: i64,
    per_sender: usize,
) -> anyhow::Result<Samples> {
    let mut clients = Vec::new();
    for k in 0..senders {
        let conversation = first_conversation + k;
        // In 1:1 conversation c the other member is user c + 1.
        let client = login(base, conversation + 1).await?;
        clients.push((
            client,
            format!("{base}/api/conversations/{conversation}/messages"),
        ));
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len() + 1));
    let mut tasks = tokio::task::JoinSet::new();
    for (k, (client, url)) in clients.into_iter().enumerate() {
        let barrier = barrier.clone();
        tasks.spawn(async move {
            let mut warmup_max = None;
            for i in 0..SEND_WARMUP_PER_SENDER {
                let t = Instant::now();
                send(&client, &url, format!("Rozgrzewka {k}/{i}")).await?;
                warmup_max = warmup_max.max(Some(t.elapsed()));
            }
            barrier.wait().await;
            let mut latencies = Vec::with_capacity(per_sender);
            for i in 0..per_sender {
                let t = Instant::now();
                send(
                    &client,
                    &url,
                    format!("Wiadomość testowa nr {i} od nadawcy {k}, **pogrubiona** część."),
                )
                .await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok((warmup_max, latencies))
        });
    }
    barrier.wait().await;
    let probe = Probe::start(counter);
    let mut latencies = Vec::new();
    let mut warmup_max = None;
    while let Some(done) = tasks.join_next().await {
        let (w, l) = done.context("a sender task panicked")??;
        warmup_max = warmup_max.max(w);
        latencies.extend(l);
    }
    let name = if senders == 1 {
        "send message, 1 sender (no concurrency)".to_owned()
    } else {
        format!("send message, {senders} concurrent senders")
    };
    Ok(probe.finish(name, latencies, warmup_max, counter))
}

fn print_plan(plan: &[String]) {
    for line in plan {
        println!("    {line}");
    }
}

/// EXPLAIN ANALYZE of the search query shape in one conversation, and
/// which access path it takes on conv_messages.
async fn explain_search(db: &DatabaseConnection, conversation_id: i64) -> anyhow::Result<()> {
    let sql = format!(
        "SELECT id, conversation_id, sender_id, content, content_html, created_at \
         FROM conv_messages WHERE conversation_id = {conversation_id} AND is_deleted = false \
         AND content_search LIKE '%wiadomość 12%' ESCAPE '\\' ORDER BY id DESC LIMIT 51"
    );
    let messages = scalar(
        db,
        &format!("SELECT count(*) FROM conv_messages WHERE conversation_id = {conversation_id}"),
    )
    .await?;
    let plan = text_rows(db, &format!("EXPLAIN (ANALYZE, BUFFERS) {sql}")).await?;
    println!("\nEXPLAIN search in conversation {conversation_id} ({messages} messages):\n{sql}");
    print_plan(&plan);
    let text = plan.join("\n");
    let path = match (
        text.contains("idx_conv_messages_search"),
        text.contains("idx_conv_messages_conversation_id"),
    ) {
        (true, true) => "both the trigram index and the (conversation_id, id) index",
        (true, false) => "the trigram GIN index idx_conv_messages_search",
        (false, true) => "the (conversation_id, id) index idx_conv_messages_conversation_id",
        (false, false) => "neither index",
    };
    let seq = text.contains("Seq Scan on conv_messages");
    println!(
        "  => uses {path}; {}",
        if seq {
            "a Seq Scan on conv_messages (BAD)"
        } else {
            "no Seq Scan on conv_messages"
        }
    );
    Ok(())
}

/// EXPLAIN ANALYZE of the unread-count statement (its shape as
/// `domain::conversations::unread_counts` builds it, for user 1) twice: as
/// a custom plan (the values known to the planner, what PostgreSQL does for
/// the first five executions of a prepared statement on a connection) and
/// as the generic plan it may switch to afterwards (sqlx prepares and
/// caches every statement per connection).
async fn explain_unread(db: &DatabaseConnection, what: &str, ids: &[i64]) -> anyhow::Result<()> {
    let n = ids.len();
    let shape = |list: &str, last_read: &str, deleted: &str, user: &str, sender: &str| {
        format!(
            "SELECT mem.conversation_id, (SELECT COUNT(msg.id) FROM conv_messages AS msg \
             WHERE msg.conversation_id = mem.conversation_id \
             AND msg.id > COALESCE(mem.last_read_message_id, {last_read}) \
             AND msg.is_deleted = {deleted} \
             AND (msg.sender_id <> {sender} OR msg.sender_id IS NULL)) AS unread \
             FROM conversation_members AS mem \
             WHERE mem.user_id = {user} AND mem.conversation_id IN ({list})"
        )
    };
    let values = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let custom = shape(&values, "0", "false", "1", "1");
    let plan = text_rows(db, &format!("EXPLAIN (ANALYZE, BUFFERS) {custom}")).await?;
    println!("\nEXPLAIN unread counts of {what} ({n} conversations), custom plan:\n{custom}");
    print_plan(&plan);

    let params = (2..n + 2)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let generic = shape(
        &params,
        &format!("${}", n + 2),
        &format!("${}", n + 3),
        "$1",
        &format!("${}", n + 4),
    );
    let types = format!("{}, boolean, bigint", vec!["bigint"; n + 2].join(", "));
    exec(
        db,
        &format!(
            "SET plan_cache_mode = force_generic_plan; \
             PREPARE bench_unread ({types}) AS {generic}"
        ),
    )
    .await?;
    let plan = text_rows(
        db,
        &format!("EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_unread (1, {values}, 0, false, 1)"),
    )
    .await;
    exec(db, "DEALLOCATE bench_unread; RESET plan_cache_mode").await?;
    println!("\nthe same, generic plan (as a prepared statement after five executions):");
    print_plan(&plan?);
    Ok(())
}

fn print_results(rows: &[(Samples, Target)]) {
    println!(
        "\n| operation | n | p50 ms | p99 ms | mean ms | warm-up max ms | req/s | SQL/req | CPU busy | CPU ms/req bench+pg | target | met |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
    );
    for (s, t) in rows {
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {} | {:.0} | {:.1} | {} | {:.2} + {:.2} | {} | {} |",
            s.name,
            s.latencies.len(),
            ms(s.pct(50.0)),
            ms(s.pct(99.0)),
            ms(s.mean()),
            s.warmup_max
                .map(|d| format!("{:.1}", ms(d)))
                .unwrap_or_else(|| "—".into()),
            s.per_sec(),
            s.statements_per_request(),
            s.cpu_busy
                .map(|c| format!("{c:.0}%"))
                .unwrap_or_else(|| "—".into()),
            s.cpu_ms.0,
            s.cpu_ms.1,
            t.describe(),
            t.verdict(s)
        );
    }
}

/// `BENCH_SYNCHRONOUS_COMMIT=off` (a diagnostic, not the default): the
/// server's connections skip waiting for the WAL flush at commit, which
/// shows how much of sending is the disk.
async fn apply_synchronous_commit(db: &DatabaseConnection, name: &str) -> anyhow::Result<()> {
    if let Ok(v) = std::env::var("BENCH_SYNCHRONOUS_COMMIT") {
        ensure!(
            ["on", "off", "local", "remote_write", "remote_apply"].contains(&v.as_str()),
            "BENCH_SYNCHRONOUS_COMMIT must be on, off, local, remote_write or remote_apply"
        );
        exec(
            db,
            &format!("ALTER DATABASE \"{name}\" SET synchronous_commit = {v}"),
        )
        .await?;
        println!("synchronous_commit = {v} for the server (BENCH_SYNCHRONOUS_COMMIT)");
    }
    Ok(())
}

async fn run(bench_db: &BenchDb) -> anyhow::Result<()> {
    let _ = DB_NAME.set(bench_db.name.clone());
    let db = backend::db::connect(&bench_db.url, 1)
        .await
        .context("connect to the bench database")?;
    backend::db::migrate(&db).await.context("migrate")?;
    seed(&db).await?;
    apply_synchronous_commit(&db, &bench_db.name).await?;

    let dir = tempfile::tempdir()?;
    let settings = Settings::parse_from([
        "bench",
        "--bind",
        "127.0.0.1:0",
        "--public-url",
        ORIGIN,
        "--database-url",
        &bench_db.url,
        "--data-dir",
        &dir.path().join("data").display().to_string(),
        "--static-dir",
        &dir.path().join("dist").display().to_string(),
        "--database-max-connections",
        "20",
        "--login-max-attempts-per-ip",
        "100000",
        // The bench sends far faster than a person.
        "--messages-per-minute",
        "1000000",
        "--messages-burst",
        "1000000",
    ])?;
    let app = Application::build(settings).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let counter = app.state.db_statements.clone();
    tokio::spawn(app.run_until_stopped());
    let main = login(&base, 1).await?;
    println!("server at {base}, logged in as u1@bench.pl\n\nmeasuring:");

    // Check what is measured before measuring it.
    let list_url = format!("{base}/api/conversations");
    let first: ConversationPage = get_json(&main, &list_url).await?;
    ensure!(first.items.len() == 50, "the first page should hold 50");
    let with_unread = first.items.iter().filter(|c| c.unread_count > 0).count();
    let page_url = format!("{base}/api/conversations/{PAGED}/messages?limit=50");
    let newest: MessagePage = get_json(&main, &page_url).await?;
    ensure!(newest.items.len() == 50 && newest.has_more, "a full page");
    // Deep pages: `before_id`s among the oldest tenth of the conversation.
    let deep_ids = text_rows(
        &db,
        &format!(
            "SELECT id::text FROM conv_messages WHERE conversation_id = {PAGED} \
             ORDER BY id LIMIT 100 OFFSET 5000"
        ),
    )
    .await?
    .into_iter()
    .map(|s| s.parse::<i64>())
    .collect::<Result<Vec<_>, _>>()?;
    ensure!(!deep_ids.is_empty(), "deep message ids");
    let detail_url = format!("{base}/api/conversations/{}", BIG[3]);
    let detail: ConversationDetail = get_json(&main, &detail_url).await?;
    println!(
        "  first page: {with_unread}/50 conversations with unread; \
         group {} has {} members and {} unread for the main user",
        BIG[3],
        detail.members.len(),
        detail.unread_count
    );

    let mut rows = Vec::new();
    let list = sequential(
        "list conversations (first 50, unread counts)",
        &counter,
        WARMUP,
        READS,
        |_| get(&main, &list_url),
    )
    .await?;
    rows.push((list, Target::p50(10.0)));
    let page = sequential(
        "messages page, newest 50 (conversation of ~100k)",
        &counter,
        WARMUP,
        READS,
        |_| get(&main, &page_url),
    )
    .await?;
    rows.push((page, Target::p50(5.0)));
    let deep = sequential(
        "messages page, deep (before_id ~95k back)",
        &counter,
        WARMUP,
        READS,
        |i| {
            let url = format!("{page_url}&before_id={}", deep_ids[i % deep_ids.len()]);
            let main = &main;
            async move { get(main, &url).await }
        },
    )
    .await?;
    rows.push((deep, Target::p50(5.0)));
    let detail = sequential(
        &format!(
            "conversation details + unread_count (group of ~100k, {} unread)",
            detail.unread_count
        ),
        &counter,
        WARMUP,
        READS,
        |_| get(&main, &detail_url),
    )
    .await?;
    rows.push((detail, Target::default()));
    let q: String = url::form_urlencoded::byte_serialize("Wiadomość 12".as_bytes()).collect();
    let search_url = format!("{base}/api/conversations/{PAGED}/messages/search?q={q}");
    let search = sequential(
        "search 'Wiadomość 12' (conversation of ~100k)",
        &counter,
        10,
        SEARCHES,
        |_| get(&main, &search_url),
    )
    .await?;
    rows.push((search, Target::default()));
    let sends = concurrent_sends(
        &base,
        &counter,
        SENDERS,
        FIRST_SENDER_CONVERSATION,
        SENDS_PER_SENDER,
    )
    .await?;
    rows.push((
        sends,
        Target {
            p50_ms: Some(5.0),
            per_sec: Some(1500.0),
        },
    ));
    let single = concurrent_sends(
        &base,
        &counter,
        1,
        FIRST_SENDER_CONVERSATION + SENDERS,
        SINGLE_SENDS,
    )
    .await?;
    rows.push((single, Target::default()));

    explain_search(&db, PAGED).await?;
    explain_search(&db, FIRST_SENDER_CONVERSATION + SENDERS + 100).await?;
    let ids: Vec<i64> = first.items.iter().map(|c| c.id).collect();
    explain_unread(&db, "the list's first page", &ids).await?;
    explain_unread(&db, "the details of a big group", &[BIG[3]]).await?;

    let settings = text_rows(
        &db,
        "SELECT name || ' ' || current_setting(name) FROM pg_settings \
         WHERE name IN ('server_version', 'shared_buffers', 'synchronous_commit', \
                        'plan_cache_mode', 'max_parallel_workers_per_gather') \
         UNION ALL SELECT 'TLS ' || CASE WHEN ssl THEN 'on' ELSE 'off' END \
         FROM pg_stat_ssl WHERE pid = pg_backend_pid() ORDER BY 1",
    )
    .await?;
    println!("\nmachine: {}", machine());
    println!("PostgreSQL (the bench's session): {}", settings.join(", "));
    println!(
        "date {}, load average at the end {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        loadavg()
    );
    println!(
        "data: {USERS} users, {} conversations of the main user, {MESSAGES} messages; \
         CPU busy = the whole machine, every process; CPU ms/req = this process \
         (HTTP client + server) + the PostgreSQL backends of the bench database",
        ONE_TO_ONE + GROUPS
    );
    print_results(&rows);
    let _ = db.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!("load average at the start: {}", loadavg());
    let bench_db = BenchDb::create().await?;
    println!("database {}", bench_db.name);
    let result = run(&bench_db).await;
    // The guard drops the database here, whether `run` succeeded or not.
    drop(bench_db);
    result
}
