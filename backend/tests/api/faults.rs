//! Faults while clients send and listen: PostgreSQL dropping the server's
//! connections and then refusing new ones, Redis killed and restarted, and
//! SIGTERM to a real `messaging serve` process. During a database outage
//! the API answers 503 problem+json (no hang, no 500); afterwards, without
//! a restart, every message that got a 2xx is stored and reached every
//! recipient's stream — live, by `Last-Event-ID` replay, or (Redis away:
//! its events were never published) through `resync` and a refetch.
//!
//! The clients behave like the SPA: a sender retries a failed send with
//! the same `client_id`; a listener reconnects with `Last-Event-ID`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::helpers::{
    Db, ORIGIN, TestApp, TestDb, TestRedis, fresh_db, pg_admin_url, redis_url, spawn_app_with,
};
use crate::redis::{RedisServer, app_on};
use crate::sse;

/// A client request that takes longer than this is a hang: far above the
/// database acquire timeout the tests configure (2 s).
const HANG: Duration = Duration::from_secs(20);

/// A cookie client like the SPA's, which gives up on a hung request.
fn client() -> reqwest::Client {
    backend::tls::install_crypto_provider();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ORIGIN,
        reqwest::header::HeaderValue::from_static(ORIGIN),
    );
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .expect("client")
}

/// Creates a user in the database and logs a fresh client in over HTTP.
async fn member(
    db: &sea_orm::DatabaseConnection,
    base: &str,
    name: &str,
) -> (i64, reqwest::Client) {
    let email = format!("{}@firma.pl", name.to_lowercase());
    let id = backend::domain::users::create(
        db,
        backend::domain::users::NewUser {
            email: email.clone(),
            name: name.into(),
            password: "haslo-testowe-1".into(),
            is_admin: false,
        },
    )
    .await
    .expect("create user")
    .id;
    let c = client();
    let r = c
        .post(format!("{base}/api/auth/login"))
        .json(&json!({ "email": email, "password": "haslo-testowe-1" }))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200, "login {email}");
    (id, c)
}

async fn group(base: &str, owner: &reqwest::Client, members: &[i64]) -> i64 {
    let r = owner
        .post(format!("{base}/api/conversations"))
        .json(&json!({ "member_ids": members, "name": "Awaria" }))
        .send()
        .await
        .expect("create group");
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id")
}

/// Checks a refusal: 503 problem+json `service_unavailable`; anything else
/// is described for the failure report.
async fn refusal(r: reqwest::Response) -> Result<(), String> {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = r.text().await.unwrap_or_default();
    let code = serde_json::from_str::<Value>(&body).unwrap_or_default()["code"].clone();
    if status == 503 && ct == "application/problem+json" && code == "service_unavailable" {
        Ok(())
    } else {
        Err(format!("{status} {ct} {body}"))
    }
}

/// What one sender did.
#[derive(Debug, Default)]
struct Sent {
    /// Messages that got a 2xx.
    ok: Vec<i64>,
    /// 503 problem+json answers (each retried with the same client_id).
    unavailable: usize,
    /// Requests that reached no server (it was stopping or gone).
    unreachable: usize,
    /// Anything else: a 500, a wrong body, a hang.
    wrong: Vec<String>,
}

/// Sends to `conversation` until `stop`, pacing `gap` between messages;
/// a failed send is retried with the same client_id, as the SPA does.
fn sender(
    base: String,
    c: reqwest::Client,
    conversation: i64,
    gap: Duration,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Sent> {
    tokio::spawn(async move {
        let mut out = Sent::default();
        let url = format!("{base}/api/conversations/{conversation}/messages");
        let mut n = 0;
        while !stop.load(Ordering::SeqCst) {
            n += 1;
            let client_id = uuid::Uuid::new_v4().to_string();
            let body = json!({ "content": format!("wiadomość {n}"), "client_id": client_id });
            while !stop.load(Ordering::SeqCst) {
                let sent = tokio::time::timeout(HANG, c.post(&url).json(&body).send()).await;
                match sent {
                    Err(_) => out
                        .wrong
                        .push(format!("send {n}: no answer within {HANG:?}")),
                    Ok(Err(_)) => out.unreachable += 1,
                    Ok(Ok(r)) if r.status().is_success() => {
                        let m: Value = r.json().await.expect("message json");
                        out.ok.push(m["id"].as_i64().expect("id"));
                        break;
                    }
                    Ok(Ok(r)) => match refusal(r).await {
                        Ok(()) => out.unavailable += 1,
                        Err(e) => {
                            out.wrong.push(format!("send {n}: {e}"));
                            break;
                        }
                    },
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            tokio::time::sleep(gap).await;
        }
        out
    })
}

/// What one listener received.
#[derive(Debug, Default)]
struct Heard {
    /// `new_message` ids, with how often each arrived.
    live: BTreeMap<i64, u32>,
    /// Ids found by refetching after a `resync`.
    refetched: BTreeSet<i64>,
    resyncs: usize,
    /// Streams opened (the first one before anything is sent).
    opened: usize,
    /// Stream requests refused with 503 problem+json.
    unavailable: usize,
    /// Anything else: a 500, a wrong body.
    wrong: Vec<String>,
}

/// Listens to a member's stream, reconnecting with Last-Event-ID whenever
/// it ends (and every `reconnect_every`, to exercise the replay); after a
/// `resync` it refetches the conversation, as the SPA does.
fn listener(
    base: String,
    c: reqwest::Client,
    conversation: i64,
    reconnect_every: Option<Duration>,
) -> (Arc<Mutex<Heard>>, JoinHandle<()>) {
    let heard = Arc::new(Mutex::new(Heard::default()));
    let h = heard.clone();
    let task = tokio::spawn(async move {
        let mut last: Option<String> = None;
        loop {
            let mut req = c.get(format!("{base}/api/messages/stream"));
            if let Some(id) = &last {
                req = req.header("Last-Event-ID", id.as_str());
            }
            let opened = tokio::time::timeout(HANG, sse::try_open(req)).await;
            let mut s = match opened {
                Err(_) => {
                    h.lock().unwrap().wrong.push("stream: no answer".into());
                    continue;
                }
                Ok(Err(_)) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Ok(Ok(s)) => s,
            };
            if s.status != 200 {
                let e = if s.status == 503 {
                    h.lock().unwrap().unavailable += 1;
                    None
                } else {
                    Some(format!("stream: {}", s.status))
                };
                if let Some(e) = e {
                    h.lock().unwrap().wrong.push(e);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            h.lock().unwrap().opened += 1;
            let until = reconnect_every.map(|d| tokio::time::Instant::now() + d);
            loop {
                let next = match until {
                    Some(t) => match tokio::time::timeout_at(t, s.recv()).await {
                        Ok(f) => f,
                        Err(_) => break,
                    },
                    None => s.recv().await,
                };
                let Some(f) = next else { break };
                if f.id.as_deref().is_some_and(|id| !id.is_empty()) {
                    last = f.id.clone();
                }
                match f.event.as_deref() {
                    Some("new_message") => {
                        let id = f.json()["message"]["id"].as_i64().expect("message id");
                        *h.lock().unwrap().live.entry(id).or_default() += 1;
                    }
                    Some("resync") => {
                        h.lock().unwrap().resyncs += 1;
                        let ids = refetch(&base, &c, conversation).await;
                        h.lock().unwrap().refetched.extend(ids);
                    }
                    _ => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    (heard, task)
}

/// Waits until every listener has its stream open: a message sent before
/// would be missed legitimately (no Last-Event-ID yet).
async fn until_listening(listeners: &[&Arc<Mutex<Heard>>]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while listeners.iter().any(|h| h.lock().unwrap().opened == 0) {
        assert!(Instant::now() < deadline, "the streams open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every message id of the conversation, through the API (retried until
/// the server answers).
async fn refetch(base: &str, c: &reqwest::Client, conversation: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut after = 0;
    loop {
        let url =
            format!("{base}/api/conversations/{conversation}/messages?after_id={after}&limit=100");
        let page = match c.get(&url).send().await {
            Ok(r) if r.status() == 200 => r.json::<Value>().await.expect("page"),
            _ => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let items = page["items"].as_array().cloned().unwrap_or_default();
        ids.extend(items.iter().filter_map(|m| m["id"].as_i64()));
        match (page["has_more"].as_bool(), ids.iter().max()) {
            (Some(true), Some(max)) => after = *max,
            _ => return ids,
        }
    }
}

/// The message ids stored in a conversation.
async fn stored(db: &sea_orm::DatabaseConnection, conversation: i64) -> BTreeSet<i64> {
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT id FROM conv_messages WHERE conversation_id = {conversation}"),
        ))
        .await
        .expect("query messages");
    rows.iter()
        .map(|r| r.try_get_by_index::<i64>(0).expect("id"))
        .collect()
}

/// Waits until every listener has every sent message (live, replayed or
/// refetched), then checks what each one saw.
async fn assert_delivered(
    sent: &[i64],
    listeners: &[(&str, &Arc<Mutex<Heard>>)],
    allow_resync: bool,
) {
    let want: BTreeSet<i64> = sent.iter().copied().collect();
    let missing = |h: &Heard| -> Vec<i64> {
        want.iter()
            .filter(|id| !h.live.contains_key(id) && !h.refetched.contains(id))
            .copied()
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = listeners
            .iter()
            .all(|(_, h)| missing(&h.lock().unwrap()).is_empty());
        if all || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (who, h) in listeners {
        let h = h.lock().unwrap();
        assert!(h.wrong.is_empty(), "{who}'s stream: {:?}", h.wrong);
        let gone = missing(&h);
        assert!(
            gone.is_empty(),
            "{who} never received {} of {} messages that got a 2xx: {gone:?} \
             (resyncs {}, live {}, refetched {})",
            gone.len(),
            want.len(),
            h.resyncs,
            h.live.len(),
            h.refetched.len()
        );
        if !allow_resync {
            assert_eq!(h.resyncs, 0, "{who}: nothing was beyond the replay window");
        }
    }
}

/// `ALTER DATABASE … ALLOW_CONNECTIONS`; restored to true on drop (also
/// when the test fails) so the database can be dropped.
struct Gate {
    db: String,
}

async fn pg_exec(sql: &str) {
    let admin = Database::connect(pg_admin_url()).await.expect("admin");
    admin.execute_unprepared(sql).await.expect(sql);
    let _ = admin.close().await;
}

impl Gate {
    async fn close(db: &str) -> Self {
        pg_exec(&format!("ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS false")).await;
        Self { db: db.to_owned() }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let sql = format!("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS true", self.db);
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(pg_exec(&sql));
        })
        .join();
    }
}

/// Ends every connection to `db` but the caller's own.
async fn terminate(admin: &sea_orm::DatabaseConnection, db: &str) {
    admin
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{db}' AND pid <> pg_backend_pid()"
        ))
        .await
        .expect("terminate");
}

fn db_name(app: &TestApp) -> String {
    app.test_db
        .url
        .rsplit('/')
        .next()
        .expect("database name")
        .to_owned()
}

/// The traffic of an outage test: Anna, Jan and Ewa in a group; Jan keeps
/// his stream, Ewa reconnects every 700 ms (so some of her reconnects fall
/// into the outage and resume by Last-Event-ID); Anna and Jan send every
/// 40 ms. It has run for a second when `start` returns.
struct Traffic {
    anna: reqwest::Client,
    conversation: i64,
    jan_heard: Arc<Mutex<Heard>>,
    ewa_heard: Arc<Mutex<Heard>>,
    listeners: [JoinHandle<()>; 2],
    stop: Arc<AtomicBool>,
    senders: Vec<JoinHandle<Sent>>,
}

impl Traffic {
    async fn start(db: &sea_orm::DatabaseConnection, base: &str) -> Self {
        let (_, anna) = member(db, base, "Anna").await;
        let (jan_id, jan) = member(db, base, "Jan").await;
        let (ewa_id, ewa) = member(db, base, "Ewa").await;
        let c = group(base, &anna, &[jan_id, ewa_id]).await;
        let (jan_heard, jan_task) = listener(base.to_owned(), jan.clone(), c, None);
        let (ewa_heard, ewa_task) =
            listener(base.to_owned(), ewa, c, Some(Duration::from_millis(700)));
        until_listening(&[&jan_heard, &ewa_heard]).await;
        let stop = Arc::new(AtomicBool::new(false));
        let gap = Duration::from_millis(40);
        let senders = vec![
            sender(base.to_owned(), anna.clone(), c, gap, stop.clone()),
            sender(base.to_owned(), jan, c, gap, stop.clone()),
        ];
        tokio::time::sleep(Duration::from_secs(1)).await;
        Self {
            anna,
            conversation: c,
            jan_heard,
            ewa_heard,
            listeners: [jan_task, ewa_task],
            stop,
            senders,
        }
    }

    /// Stops the senders; what each of them got.
    async fn stop(&mut self) -> Vec<Sent> {
        self.stop.store(true, Ordering::SeqCst);
        let mut sent = Vec::new();
        for s in std::mem::take(&mut self.senders) {
            sent.push(s.await.expect("sender"));
        }
        sent
    }

    /// Every 2xx message is stored and reached Jan and Ewa exactly once
    /// (live or by replay; with `allow_resync`, also by refetching).
    async fn assert_stored_and_delivered(
        &self,
        db: &sea_orm::DatabaseConnection,
        sent: &[Sent],
        allow_resync: bool,
    ) {
        let ok: Vec<i64> = sent.iter().flat_map(|s| s.ok.iter().copied()).collect();
        let in_db = stored(db, self.conversation).await;
        let lost: Vec<_> = ok.iter().filter(|id| !in_db.contains(id)).collect();
        assert!(lost.is_empty(), "2xx but not stored: {lost:?}");
        let heard = [("Jan", &self.jan_heard), ("Ewa", &self.ewa_heard)];
        assert_delivered(&ok, &heard, allow_resync).await;
        for l in &self.listeners {
            l.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dropping_connections_gives_503_and_loses_no_message() {
    let app = spawn_app_with(Db::Postgres, &["--database-acquire-timeout-secs", "2"]).await;
    let base = app.address.clone();
    let mut t = Traffic::start(&app.db, &base).await;
    let anna = t.anna.clone();

    let name = db_name(&app);
    let admin = Database::connect(pg_admin_url()).await.expect("admin");
    // Connections dropped again and again: each request either works on a
    // fresh connection or is refused with 503.
    let flapping = Instant::now();
    while flapping.elapsed() < Duration::from_secs(3) {
        terminate(&admin, &name).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Then no connection at all for 3 s: every request that needs the
    // database is refused, none hangs.
    let gate = Gate::close(&name).await;
    terminate(&admin, &name).await;
    let probe = anna.get(format!("{base}/api/conversations")).send();
    let probe = tokio::time::timeout(HANG, probe)
        .await
        .expect("an answer during the outage")
        .expect("the server answers");
    refusal(probe)
        .await
        .expect("503 problem+json while the database is away");
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(gate);
    let _ = admin.close().await;

    // Recovery without a restart.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = anna.get(format!("{base}/api/conversations")).send().await;
        if r.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "the API recovers by itself");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent = t.stop().await;
    let mut unavailable = 0;
    for s in &sent {
        assert!(
            s.wrong.is_empty(),
            "answers other than 2xx or 503: {:?}",
            s.wrong
        );
        assert_eq!(s.unreachable, 0, "the server stayed up");
        unavailable += s.unavailable;
    }
    assert!(unavailable > 0, "some sends fell into the outage");
    t.assert_stored_and_delivered(&app.db, &sent, false).await;
    assert!(
        t.ewa_heard.lock().unwrap().unavailable > 0,
        "a reconnect was refused with 503"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_while_sending_loses_no_message() {
    let mut server = RedisServer::started();
    let app = app_on(&server.url()).await;
    let base = app.address.clone();
    let mut t = Traffic::start(&app.db, &base).await;
    server.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.start();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sent = t.stop().await;
    for s in &sent {
        // Sending never depends on Redis.
        assert!(s.wrong.is_empty(), "{:?}", s.wrong);
        assert_eq!((s.unavailable, s.unreachable), (0, 0), "every send stored");
    }
    t.assert_stored_and_delivered(&app.db, &sent, true).await;
    // What was published while Redis was away is never replayed: the open
    // streams were told to refetch.
    assert!(
        t.jan_heard.lock().unwrap().resyncs > 0,
        "Jan was told to resync"
    );
}

/// A real `messaging serve` process.
struct Serve {
    child: Child,
}

impl Serve {
    /// Starts it on `port` with the database and Redis prefix of the test;
    /// returns once it listens.
    fn start(port: u16, test_db: &TestDb, redis: &TestRedis) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_messaging"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--public-url", ORIGIN, "--database-url", &test_db.url])
            .args(redis.args())
            .args([
                "--link-previews",
                "off",
                "--mail-poll-interval-ms",
                "600000",
            ])
            .args(["--sse-keep-alive-secs", "1"])
            // The senders are faster than a person; limits.rs tests limits.
            .args([
                "--messages-per-minute",
                "100000",
                "--messages-burst",
                "100000",
            ])
            .env("DATA_DIR", test_db.dir().join("data"))
            .env("STATIC_DIR", test_db.dir().join("dist"))
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn messaging serve");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        for line in stdout.lines() {
            if line
                .expect("stdout line")
                .starts_with("Messaging is running")
            {
                break;
            }
        }
        Self { child }
    }

    fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_sending_loses_no_acknowledged_message() {
    let test_db = fresh_db(Db::Postgres).await;
    let redis = TestRedis::new(&redis_url());
    let port = RedisServer::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut first = Serve::start(port, &test_db, &redis);
    let db = backend::db::connect(&test_db.url, 2).await.expect("db");
    let (_, anna) = member(&db, &base, "Anna").await;
    let (jan_id, jan) = member(&db, &base, "Jan").await;
    let (ewa_id, ewa) = member(&db, &base, "Ewa").await;
    let c = group(&base, &anna, &[jan_id, ewa_id]).await;
    let (jan_heard, jan_task) = listener(base.clone(), jan.clone(), c, None);
    let (ewa_heard, ewa_task) = listener(base.clone(), ewa, c, None);
    until_listening(&[&jan_heard, &ewa_heard]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let gap = Duration::from_millis(20);
    let senders = [
        sender(base.clone(), anna.clone(), c, gap, stop.clone()),
        sender(base.clone(), anna.clone(), c, gap, stop.clone()),
        sender(base.clone(), jan.clone(), c, gap, stop.clone()),
    ];
    tokio::time::sleep(Duration::from_secs(2)).await;
    first.sigterm();
    let status = tokio::task::spawn_blocking(move || {
        let s = first.child.wait().expect("wait");
        drop(first);
        s
    })
    .await
    .expect("join");
    assert!(status.success(), "a clean exit: {status:?}");
    // The clients retry (sends with the same client_id, streams with
    // Last-Event-ID) until the next process is up on the same address.
    let second = Serve::start(port, &test_db, &redis);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    let mut ok = Vec::new();
    let mut unreachable = 0;
    for s in senders {
        let s = s.await.expect("sender");
        assert!(s.wrong.is_empty(), "{:?}", s.wrong);
        unreachable += s.unreachable;
        ok.extend(s.ok);
    }
    assert!(unreachable > 0, "some sends met the stopped server");
    let in_db = stored(&db, c).await;
    let lost: Vec<_> = ok.iter().filter(|id| !in_db.contains(id)).collect();
    assert!(lost.is_empty(), "2xx but not stored: {lost:?}");
    // Redis keeps the replay log across the restart: no resync needed.
    assert_delivered(&ok, &[("Jan", &jan_heard), ("Ewa", &ewa_heard)], false).await;
    jan_task.abort();
    ewa_task.abort();
    drop(second);
    let _ = db.close().await;
}

crate::db_test!(
    a_retried_send_is_announced_even_if_the_first_never_was,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let mut js = crate::stream::stream(&app, &jan, None).await;
        // What a send whose connection broke right after COMMIT leaves: the
        // row, no event, and a client that got no answer and retries.
        let client_id = "4f0c1d0e-8c5b-4c1e-9a57-2f1f0b8b6a11";
        app.exec(&format!(
            "INSERT INTO conv_messages (conversation_id, sender_id, content, content_html, \
         content_search, client_id, is_deleted, created_at) \
         VALUES ({}, {}, 'raz', '<p>raz</p>', 'raz', '{client_id}', false, CURRENT_TIMESTAMP)",
            c.id, anna.id
        ))
        .await;
        let id = app.scalar_i64("SELECT MAX(id) FROM conv_messages").await;
        let r = app
            .post(
                &anna,
                &format!("/api/conversations/{}/messages", c.id),
                json!({ "content": "raz", "client_id": client_id }),
            )
            .await;
        assert_eq!(r.status(), 200, "the first message");
        assert_eq!(r.json::<Value>().await.unwrap()["id"], id);
        let f = js.next_non_presence().await;
        assert_eq!(f.event.as_deref(), Some("new_message"));
        assert_eq!(f.json()["message"]["id"], id, "announced on the retry");
    }
);
