//! `make bench`, real time: a load generator that opens SSE streams and
//! sends through the API, against the release `messaging` binary running as
//! separate processes on PostgreSQL and Redis, and prints one JSON report
//! per scenario:
//!
//! - `fanout`: a 50-member group, every member connected, 200 messages/s
//!   for 30 s (open loop: sends start on a clock, not when the previous one
//!   answered). Fan-out latency is POST start → event parsed by a
//!   recipient, over every recipient of every message; lost and duplicated
//!   deliveries are counted per recipient.
//! - `fanout_two_instances`: the same with two instances behind the same
//!   Redis; streams and sends alternate between them.
//! - `idle_streams`: 10,000 idle streams of 10,000 users on one instance;
//!   the server's RSS before and after, per stream.
//!
//! Figures are printed next to their targets, never asserted. Sizes can be
//! changed for a quick run: RT_MEMBERS, RT_RATE, RT_SECONDS, RT_IDLE.
//!
//! `--soak` runs the soak instead (`make soak`, and a bounded form in
//! `make test`): RT_SOAK_USERS users (1,000), every one connected, in
//! groups of RT_SOAK_GROUP (10), RT_SOAK_RATE messages/s (20) for
//! RT_SOAK_SECONDS (600), the server's RSS sampled every
//! RT_SOAK_SAMPLE_SECS (5). It reports errors, lost, duplicated and stray
//! deliveries and memory growth (mean RSS of the last third of the samples
//! against the first third), and exits non-zero on any error, any lost,
//! duplicated or stray delivery, or growth beyond RT_SOAK_MAX_GROWTH_PCT
//! (25 %) of the first third — a generous bound: the allocator keeps
//! what it has used, so noise is a few MiB, while a leak of even one
//! event per delivery grows without end.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use futures_util::StreamExt;
use sea_orm::DatabaseConnection;
use serde_json::json;

use common::{BenchDb, exec, loadavg, machine};

const ORIGIN: &str = "http://localhost:8080";
const PASSWORD: &str = "haslo-bench-1";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One `messaging serve` process; killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(db_url: &str, redis_prefix: &str, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let redis =
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let mut child = Command::new(env!("CARGO_BIN_EXE_messaging"))
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--public-url",
                ORIGIN,
                "--database-url",
                db_url,
                "--redis-url",
                &redis,
                "--redis-key-prefix",
                redis_prefix,
                "--data-dir",
                &data_dir.display().to_string(),
                "--static-dir",
                &data_dir.display().to_string(),
                "--database-max-connections",
                "20",
                // The load generator sends far faster than a person.
                "--messages-per-minute",
                "1000000",
                "--messages-burst",
                "1000000",
            ])
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("start messaging serve")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("Messaging is running") => break,
                Some(Ok(_)) => continue,
                _ => bail!("the server exited before it was ready"),
            }
        }
        // Keep draining so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    }
}

/// Users 1..=n (user 1 made properly, the rest with a copy of its argon2
/// hash) and one session each, written straight into the database; the
/// cookie values come back in user order.
async fn seed_users(db: &DatabaseConnection, n: usize) -> anyhow::Result<Vec<(i64, String)>> {
    let first = backend::domain::users::create(
        db,
        backend::domain::users::NewUser {
            email: "u1@bench.pl".into(),
            name: "Użytkownik 1".into(),
            password: PASSWORD.into(),
            is_admin: false,
        },
    )
    .await
    .map_err(|e| anyhow!("create user 1: {e}"))?;
    exec(
        db,
        &format!(
            "INSERT INTO users (email, name, password_hash, is_admin, is_active, \
             notify_email_messages, language, created_at, updated_at) \
             SELECT 'u' || n || '@bench.pl', 'Użytkownik ' || n, u.password_hash, false, true, \
             false, 'pl', now(), now() FROM generate_series(2, {n}) n, users u WHERE u.id = {}",
            first.id
        ),
    )
    .await?;
    exec(db, "UPDATE users SET notify_email_messages = false").await?;
    let mut sessions = Vec::with_capacity(n);
    let ids: Vec<i64> = {
        use backend::db::entities::users;
        use sea_orm::{EntityTrait, QueryOrder, QuerySelect};
        users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .order_by_asc(users::Column::Id)
            .into_tuple()
            .all(db)
            .await?
    };
    ensure!(ids.len() == n, "seeded {} users, wanted {n}", ids.len());
    for chunk in ids.chunks(1_000) {
        let mut values = Vec::with_capacity(chunk.len());
        for id in chunk {
            let cookie = backend::auth::token::generate("").map_err(|e| anyhow!("{e}"))?;
            values.push(format!(
                "({id}, '{}', now(), now(), now() + interval '1 day')",
                backend::auth::token::hash(&cookie)
            ));
            sessions.push((*id, cookie));
        }
        exec(
            db,
            &format!(
                "INSERT INTO sessions (user_id, token_hash, created_at, last_used_at, expires_at) \
                 VALUES {}",
                values.join(",")
            ),
        )
        .await?;
    }
    Ok(sessions)
}

/// A client that is `user` (session cookie) and passes the Origin check.
fn client_for(cookie: &str) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, ORIGIN.parse()?);
    headers.insert(
        reqwest::header::COOKIE,
        format!("{}={cookie}", backend::auth::SESSION_COOKIE).parse()?,
    );
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(64)
        .build()?)
}

/// Opens a stream and waits for its `connected` event; returns the rest of
/// the body.
async fn open_stream(
    req: reqwest::RequestBuilder,
) -> anyhow::Result<impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + use<>> {
    let res = req.send().await?;
    ensure!(res.status() == 200, "stream: {}", res.status());
    let mut body = res.bytes_stream();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("event: connected") {
        let chunk = body
            .next()
            .await
            .ok_or_else(|| anyhow!("stream ended before connected"))??;
        seen.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The sequence numbers of the bench messages in a chunk of SSE text
/// (`"content":"lg-<n>"` in `new_message` data lines).
fn sequence_numbers(text: &str, out: &mut Vec<usize>) {
    const MARK: &str = "\"content\":\"lg-";
    for line in text.lines() {
        if !line.starts_with("data:") || !line.contains("\"type\":\"new_message\"") {
            continue;
        }
        if let Some(i) = line.find(MARK) {
            let digits: String = line[i + MARK.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = digits.parse() {
                out.push(n);
            }
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct FanoutPlan {
    members: usize,
    rate: usize,
    seconds: usize,
}

/// The fan-out scenario over `servers` (streams and sends alternate).
async fn fanout(
    name: &str,
    db: &DatabaseConnection,
    servers: &[Server],
    users: &[(i64, String)],
    plan: &FanoutPlan,
) -> anyhow::Result<serde_json::Value> {
    let members = &users[..plan.members];
    let clients: Vec<reqwest::Client> = members
        .iter()
        .map(|(_, c)| client_for(c))
        .collect::<anyhow::Result<_>>()?;
    let owner = &clients[0];
    let res = owner
        .post(format!("{}/api/conversations", servers[0].base))
        .json(&json!({
            "member_ids": members[1..].iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            "name": format!("Bench {name}"),
        }))
        .send()
        .await?;
    ensure!(
        res.status().is_success(),
        "create the group: {}",
        res.status()
    );
    let conversation: serde_json::Value = res.json().await?;
    let conversation_id = conversation["id"]
        .as_i64()
        .ok_or_else(|| anyhow!("no conversation id"))?;

    let total = plan.rate * plan.seconds;
    let epoch = Instant::now();
    // When each message's POST started (ns since epoch; 0 = not sent).
    let started: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    // Deliveries per recipient and message.
    let counts: Arc<Vec<Vec<AtomicU8>>> = Arc::new(
        (0..plan.members)
            .map(|_| (0..total).map(|_| AtomicU8::new(0)).collect())
            .collect(),
    );
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<f64>::with_capacity(
        total * plan.members,
    )));
    let mut readers = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        let base = &servers[i % servers.len()].base;
        let mut body = open_stream(client.get(format!("{base}/api/messages/stream"))).await?;
        let (started, counts, latencies) = (started.clone(), counts.clone(), latencies.clone());
        readers.push(tokio::spawn(async move {
            let mut pending = String::new();
            let mut seqs = Vec::new();
            let mut mine = Vec::new();
            while let Some(Ok(chunk)) = body.next().await {
                pending.push_str(&String::from_utf8_lossy(&chunk));
                // Only whole events: the rest waits for the next chunk.
                let Some(end) = pending.rfind("\n\n") else {
                    continue;
                };
                let now = epoch.elapsed().as_nanos() as u64;
                sequence_numbers(&pending[..end], &mut seqs);
                pending.drain(..end + 2);
                for n in seqs.drain(..) {
                    if n >= total {
                        continue;
                    }
                    counts[i][n].fetch_add(1, Ordering::Relaxed);
                    let t0 = started[n].load(Ordering::Acquire);
                    if t0 > 0 {
                        mine.push((now.saturating_sub(t0)) as f64 / 1e6);
                    }
                }
                if mine.len() > 256 {
                    latencies
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .append(&mut mine);
                }
            }
            latencies
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .append(&mut mine);
        }));
    }
    // Let presence announcements of the new streams settle.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let failed = Arc::new(AtomicU64::new(0));
    let sent_at = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / plan.rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = Vec::with_capacity(total);
    for n in 0..total {
        tick.tick().await;
        let client = clients[n % plan.members].clone();
        let url = format!(
            "{}/api/conversations/{conversation_id}/messages",
            servers[n % servers.len()].base
        );
        let (started, failed) = (started.clone(), failed.clone());
        sends.push(tokio::spawn(async move {
            started[n].store(
                (epoch.elapsed().as_nanos() as u64).max(1),
                Ordering::Release,
            );
            let ok = client
                .post(url)
                .json(&json!({ "content": format!("lg-{n}"), "client_id": uuid::Uuid::new_v4() }))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if !ok {
                // Not stored: not expected anywhere.
                started[n].store(0, Ordering::Release);
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for s in sends {
        let _ = s.await;
    }
    let send_secs = sent_at.elapsed().as_secs_f64();
    // Stragglers.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for r in &readers {
        r.abort();
    }
    for r in readers {
        let _ = r.await;
    }

    let (mut lost, mut duplicated, mut delivered) = (0u64, 0u64, 0u64);
    for per_member in counts.iter() {
        for (n, c) in per_member.iter().enumerate() {
            let c = u64::from(c.load(Ordering::Relaxed));
            if started[n].load(Ordering::Relaxed) == 0 {
                continue;
            }
            delivered += c.min(1);
            if c == 0 {
                lost += 1;
            }
            duplicated += c.saturating_sub(1);
        }
    }
    let stored = backend_count(db, conversation_id).await?;
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap_or_else(|p| p.into_inner()));
    lat.sort_by(f64::total_cmp);
    let ok_sends = total as u64 - failed.load(Ordering::Relaxed);
    Ok(json!({
        "scenario": name,
        "instances": servers.len(),
        "members_connected": plan.members,
        "messages": total,
        "sends_ok": ok_sends,
        "sends_failed": failed.load(Ordering::Relaxed),
        "messages_stored": stored,
        "sends_per_s": (ok_sends as f64 / send_secs * 10.0).round() / 10.0,
        "deliveries_expected": ok_sends * plan.members as u64,
        "deliveries": delivered,
        "lost": lost,
        "duplicated": duplicated,
        "fanout_ms": {
            "p50": round2(percentile(&lat, 0.50)),
            "p99": round2(percentile(&lat, 0.99)),
            "max": round2(lat.last().copied().unwrap_or(f64::NAN)),
        },
        "server_rss_kib": servers.iter().map(Server::rss_kib).collect::<Vec<_>>(),
        "target": "p99 <= 50 ms, 0 lost, 0 duplicated at 200 messages/s to 50 members",
    }))
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

async fn backend_count(db: &DatabaseConnection, conversation_id: i64) -> anyhow::Result<u64> {
    use backend::db::entities::conv_messages;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    Ok(conv_messages::Entity::find()
        .filter(conv_messages::Column::ConversationId.eq(conversation_id))
        .count(db)
        .await?)
}

/// `n` idle streams of `n` users on one instance; RSS per stream.
async fn idle_streams(
    server: &Server,
    users: &[(i64, String)],
) -> anyhow::Result<serde_json::Value> {
    // Warm the server up (allocator arenas, pools) before the baseline.
    let warm = client_for(&users[0].1)?;
    for _ in 0..50 {
        warm.get(format!("{}/api/auth/me", server.base))
            .send()
            .await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.rss_kib();
    let opened = Instant::now();
    let mut bodies = Vec::with_capacity(users.len());
    let mut failures = 0usize;
    // One client, a connection per stream; many opening at a time, like a
    // crowd coming back after a deploy.
    let client = reqwest::Client::new();
    let url = format!("{}/api/messages/stream", server.base);
    let mut opening = futures_util::stream::iter(users.iter().map(|(_, cookie)| {
        open_stream(client.get(&url).header(
            reqwest::header::COOKIE,
            format!("{}={cookie}", backend::auth::SESSION_COOKIE),
        ))
    }))
    .buffer_unordered(200);
    while let Some(r) = opening.next().await {
        match r {
            Ok(b) => bodies.push(b),
            Err(_) => failures += 1,
        }
    }
    let open_secs = opened.elapsed().as_secs_f64();
    // Presence joins and announcements settle, and the server's periodic
    // allocator trim (every 10 s) has run: the steady state of idle streams.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let after = server.rss_kib();
    let n = bodies.len().max(1) as f64;
    let per_stream = (after.saturating_sub(before)) as f64 / n;
    let report = json!({
        "scenario": "idle_streams",
        "streams_open": bodies.len(),
        "streams_failed": failures,
        "open_seconds": round2(open_secs),
        "server_rss_kib_before": before,
        "server_rss_kib_after": after,
        "rss_kib_per_stream": round2(per_stream),
        "target": "<= 20 KiB per stream with 10,000 streams",
    });
    drop(bodies);
    Ok(report)
}

async fn run(bench_db: &BenchDb) -> anyhow::Result<()> {
    let db = backend::db::connect(&bench_db.url, 2)
        .await
        .context("connect to the bench database")?;
    backend::db::migrate(&db).await.context("migrate")?;
    let idle = env_usize("RT_IDLE", 10_000);
    let plan = FanoutPlan {
        members: env_usize("RT_MEMBERS", 50),
        rate: env_usize("RT_RATE", 200),
        seconds: env_usize("RT_SECONDS", 30),
    };
    let t = Instant::now();
    let users = seed_users(&db, idle.max(plan.members * 2)).await?;
    println!(
        "seeded {} users with sessions in {:.1} s",
        users.len(),
        t.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir()?;
    let prefix = format!("msgbench{}:", std::process::id());

    let mut reports = Vec::new();
    {
        let one = [Server::start(&bench_db.url, &prefix, dir.path())?];
        reports.push(fanout("fanout", &db, &one, &users[..plan.members], &plan).await?);
        println!(
            "{}",
            serde_json::to_string_pretty(reports.last().unwrap_or(&json!(null)))?
        );
    }
    {
        let two = [
            Server::start(&bench_db.url, &prefix, dir.path())?,
            Server::start(&bench_db.url, &prefix, dir.path())?,
        ];
        reports.push(
            fanout(
                "fanout_two_instances",
                &db,
                &two,
                &users[plan.members..plan.members * 2],
                &plan,
            )
            .await?,
        );
        println!(
            "{}",
            serde_json::to_string_pretty(reports.last().unwrap_or(&json!(null)))?
        );
    }
    {
        let server = Server::start(&bench_db.url, &prefix, dir.path())?;
        reports.push(idle_streams(&server, &users[..idle]).await?);
        println!(
            "{}",
            serde_json::to_string_pretty(reports.last().unwrap_or(&json!(null)))?
        );
    }
    clean_redis(&prefix).await;
    println!(
        "REALTIME_BENCH_JSON {}",
        serde_json::to_string(&json!({ "machine": machine(), "reports": reports }))?
    );
    Ok(())
}

/// Deletes the bench's Redis keys.
async fn clean_redis(prefix: &str) {
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let _ = Command::new("redis-cli")
        .args(["-u", &url, "--scan", "--pattern", &format!("{prefix}*")])
        .output()
        .map(|o| {
            let keys: Vec<String> = String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            for chunk in keys.chunks(500) {
                let _ = Command::new("redis-cli")
                    .args(["-u", &url, "DEL"])
                    .args(chunk)
                    .output();
            }
        });
}

struct SoakPlan {
    users: usize,
    group: usize,
    rate: usize,
    seconds: usize,
    sample_secs: usize,
    max_growth_pct: f64,
}

/// Deliveries of the soak: per message, per member of its group.
struct SoakCounts {
    /// `[n][i]`: how often message n reached the i-th member of its group.
    per_member: Vec<Vec<AtomicU8>>,
    /// Messages that reached a user outside their group (must stay 0).
    stray: AtomicU64,
    /// Streams that ended or failed before the end.
    stream_errors: AtomicU64,
}

/// The soak: every user connected, steady sends into groups, RSS sampled.
async fn soak(
    db: &DatabaseConnection,
    server: &Server,
    users: &[(i64, String)],
    plan: &SoakPlan,
) -> anyhow::Result<serde_json::Value> {
    ensure!(
        plan.group >= 2 && users.len() >= plan.group,
        "RT_SOAK_GROUP must be 2..=RT_SOAK_USERS"
    );
    let groups = users.len() / plan.group;
    let users = &users[..groups * plan.group];
    // One client; each request carries its user's cookie.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let cookie = |c: &str| format!("{}={c}", backend::auth::SESSION_COOKIE);
    let mut conversations = Vec::with_capacity(groups);
    for g in 0..groups {
        let members = &users[g * plan.group..(g + 1) * plan.group];
        let res = client
            .post(format!("{}/api/conversations", server.base))
            .header(reqwest::header::COOKIE, cookie(&members[0].1))
            .header(reqwest::header::ORIGIN, ORIGIN)
            .json(&json!({
                "member_ids": members[1..].iter().map(|(id, _)| *id).collect::<Vec<_>>(),
                "name": format!("Soak {g}"),
            }))
            .send()
            .await?;
        ensure!(
            res.status().is_success(),
            "create group {g}: {}",
            res.status()
        );
        let c: serde_json::Value = res.json().await?;
        conversations.push(
            c["id"]
                .as_i64()
                .ok_or_else(|| anyhow!("no conversation id"))?,
        );
    }

    let total = plan.rate * plan.seconds;
    let counts = Arc::new(SoakCounts {
        per_member: (0..total)
            .map(|_| (0..plan.group).map(|_| AtomicU8::new(0)).collect())
            .collect(),
        stray: AtomicU64::new(0),
        stream_errors: AtomicU64::new(0),
    });
    let sent_ok: Arc<Vec<std::sync::atomic::AtomicBool>> = Arc::new(
        (0..total)
            .map(|_| std::sync::atomic::AtomicBool::new(false))
            .collect(),
    );
    // Streams: user u is member u % group of group u / group.
    let url = format!("{}/api/messages/stream", server.base);
    let mut opening = futures_util::stream::iter(users.iter().enumerate().map(|(u, (_, c))| {
        let req = client.get(&url).header(reqwest::header::COOKIE, cookie(c));
        async move { (u, open_stream(req).await) }
    }))
    .buffer_unordered(100);
    let mut readers = Vec::with_capacity(users.len());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    while let Some((u, opened)) = opening.next().await {
        let mut body = opened.with_context(|| format!("open the stream of user {u}"))?;
        let (counts, done) = (counts.clone(), done.clone());
        let (group, index) = (u / plan.group, u % plan.group);
        readers.push(tokio::spawn(async move {
            let mut pending = String::new();
            let mut seqs = Vec::new();
            loop {
                match body.next().await {
                    Some(Ok(chunk)) => pending.push_str(&String::from_utf8_lossy(&chunk)),
                    _ => {
                        if !done.load(Ordering::Relaxed) {
                            counts.stream_errors.fetch_add(1, Ordering::Relaxed);
                        }
                        return;
                    }
                }
                let Some(end) = pending.rfind("\n\n") else {
                    continue;
                };
                sequence_numbers(&pending[..end], &mut seqs);
                pending.drain(..end + 2);
                for n in seqs.drain(..) {
                    if n >= total {
                        continue;
                    }
                    // Message n goes to group n % groups.
                    if n % groups != group {
                        counts.stray.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    counts.per_member[n][index].fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    drop(opening);
    // Let the presence announcements of the new streams settle.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let failed = Arc::new(AtomicU64::new(0));
    let retried = Arc::new(AtomicU64::new(0));
    let rss = Arc::new(std::sync::Mutex::new(vec![server.rss_kib()]));
    let sampler = {
        let (rss, pid, every) = (rss.clone(), server.child.id(), plan.sample_secs as u64);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(every.max(1)));
            tick.tick().await;
            loop {
                tick.tick().await;
                let kib = rss_of(pid);
                rss.lock().unwrap_or_else(|p| p.into_inner()).push(kib);
            }
        })
    };
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / plan.rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = Vec::with_capacity(total);
    for n in 0..total {
        tick.tick().await;
        let g = n % groups;
        // Members take turns sending into their group.
        let sender = &users[g * plan.group + (n / groups) % plan.group];
        let req = client
            .post(format!(
                "{}/api/conversations/{}/messages",
                server.base, conversations[g]
            ))
            .header(reqwest::header::COOKIE, cookie(&sender.1))
            .header(reqwest::header::ORIGIN, ORIGIN)
            .json(&json!({ "content": format!("lg-{n}"), "client_id": uuid::Uuid::new_v4() }));
        let (failed, sent_ok, retried) = (failed.clone(), sent_ok.clone(), retried.clone());
        sends.push(tokio::spawn(async move {
            // A request that never got an answer is retried with the same
            // client_id, as the SPA does: a pooled keep-alive connection
            // may be closed by the server just as it is reused.
            for attempt in 0..3 {
                let Some(req) = req.try_clone() else { break };
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        sent_ok[n].store(true, Ordering::Release);
                        return;
                    }
                    Ok(r) => {
                        eprintln!("soak: send {n} answered {}", r.status());
                        break;
                    }
                    Err(e) if attempt < 2 => {
                        eprintln!("soak: send {n} retried after: {e}");
                        retried.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => eprintln!("soak: send {n} failed: {e}"),
                }
            }
            failed.fetch_add(1, Ordering::Relaxed);
        }));
        if n > 0 && n.is_multiple_of(plan.rate * 60) {
            println!(
                "soak: {} s, {} sent, RSS {} KiB",
                n / plan.rate,
                n,
                server.rss_kib()
            );
        }
    }
    for s in sends {
        let _ = s.await;
    }
    let send_secs = started.elapsed().as_secs_f64();
    sampler.abort();
    // Stragglers: wait until everything arrived, at most 15 s.
    let expected = |counts: &SoakCounts| {
        (0..total)
            .filter(|n| sent_ok[*n].load(Ordering::Acquire))
            .all(|n| {
                counts.per_member[n]
                    .iter()
                    .all(|c| c.load(Ordering::Relaxed) > 0)
            })
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while !expected(&counts) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    done.store(true, Ordering::Relaxed);
    for r in &readers {
        r.abort();
    }

    let (mut lost, mut duplicated, mut delivered) = (0u64, 0u64, 0u64);
    for n in 0..total {
        if !sent_ok[n].load(Ordering::Acquire) {
            continue;
        }
        for c in &counts.per_member[n] {
            let c = u64::from(c.load(Ordering::Relaxed));
            delivered += c.min(1);
            lost += u64::from(c == 0);
            duplicated += c.saturating_sub(1);
        }
    }
    let ok_sends = total as u64 - failed.load(Ordering::Relaxed);
    let mut stored = 0;
    for c in &conversations {
        stored += backend_count(db, *c).await?;
    }
    let samples = rss.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let third = (samples.len() / 3).max(1);
    let mean = |s: &[u64]| s.iter().sum::<u64>() as f64 / s.len().max(1) as f64;
    let first = mean(&samples[..third.min(samples.len())]);
    let last = mean(&samples[samples.len().saturating_sub(third)..]);
    let growth_pct = if first > 0.0 {
        (last - first) / first * 100.0
    } else {
        f64::NAN
    };
    let stray = counts.stray.load(Ordering::Relaxed);
    let stream_errors = counts.stream_errors.load(Ordering::Relaxed);
    let sends_failed = failed.load(Ordering::Relaxed);
    let mut failures = Vec::new();
    if sends_failed > 0 {
        failures.push(format!("{sends_failed} sends failed"));
    }
    if stream_errors > 0 {
        failures.push(format!("{stream_errors} streams ended early"));
    }
    if stored != ok_sends {
        failures.push(format!("{ok_sends} sends got a 2xx, {stored} stored"));
    }
    for (what, v) in [("lost", lost), ("duplicated", duplicated), ("stray", stray)] {
        if v > 0 {
            failures.push(format!("{v} {what} deliveries"));
        }
    }
    if growth_pct.is_nan() || growth_pct > plan.max_growth_pct {
        failures.push(format!(
            "RSS grew {growth_pct:.1} % (first third {first:.0} KiB, last third {last:.0} KiB; allowed {} %)",
            plan.max_growth_pct
        ));
    }
    Ok(json!({
        "scenario": "soak",
        "users_connected": users.len(),
        "groups": groups,
        "group_size": plan.group,
        "rate_per_s": plan.rate,
        "seconds": plan.seconds,
        "messages": total,
        "sends_ok": ok_sends,
        "sends_failed": sends_failed,
        "sends_retried_without_answer": retried.load(Ordering::Relaxed),
        "messages_stored": stored,
        "sends_per_s": (ok_sends as f64 / send_secs * 10.0).round() / 10.0,
        "deliveries_expected": ok_sends * plan.group as u64,
        "deliveries": delivered,
        "lost": lost,
        "duplicated": duplicated,
        "stray": stray,
        "stream_errors": stream_errors,
        "rss_kib_samples": samples,
        "rss_kib_first_third_mean": first.round(),
        "rss_kib_last_third_mean": last.round(),
        "rss_growth_pct": round2(growth_pct),
        "max_growth_pct": plan.max_growth_pct,
        "failures": failures,
    }))
}

fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn run_soak(bench_db: &BenchDb) -> anyhow::Result<bool> {
    let db = backend::db::connect(&bench_db.url, 2)
        .await
        .context("connect to the bench database")?;
    backend::db::migrate(&db).await.context("migrate")?;
    let plan = SoakPlan {
        users: env_usize("RT_SOAK_USERS", 1_000),
        group: env_usize("RT_SOAK_GROUP", 10),
        rate: env_usize("RT_SOAK_RATE", 20).max(1),
        seconds: env_usize("RT_SOAK_SECONDS", 600).max(1),
        sample_secs: env_usize("RT_SOAK_SAMPLE_SECS", 5),
        max_growth_pct: std::env::var("RT_SOAK_MAX_GROWTH_PCT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(25.0),
    };
    let users = seed_users(&db, plan.users).await?;
    let dir = tempfile::tempdir()?;
    let prefix = format!("msgsoak{}:", std::process::id());
    let server = Server::start(&bench_db.url, &prefix, dir.path())?;
    let report = soak(&db, &server, &users, &plan).await;
    drop(server);
    clean_redis(&prefix).await;
    let report = report?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    println!(
        "REALTIME_SOAK_JSON {}",
        serde_json::to_string(&json!({ "machine": machine(), "report": report }))?
    );
    Ok(report["failures"].as_array().is_some_and(Vec::is_empty))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    backend::tls::install_crypto_provider();
    let soak_mode = std::env::args().any(|a| a == "--soak");
    println!("machine: {}", machine());
    println!("load average at the start: {}", loadavg());
    let bench_db = BenchDb::create().await?;
    println!("database {}", bench_db.name);
    if soak_mode {
        let passed = run_soak(&bench_db).await;
        drop(bench_db);
        ensure!(passed?, "the soak failed (see \"failures\" above)");
        return Ok(());
    }
    let result = run(&bench_db).await;
    drop(bench_db);
    result
}
