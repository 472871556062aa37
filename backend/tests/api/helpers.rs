//! `spawn_app` and the helpers the tests share (zero-to-production's
//! `tests/api/helpers.rs` shape).

use std::sync::atomic::{AtomicU32, Ordering};

use backend::config::Settings;
use backend::startup::{Application, FirstAdmin};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::Value;
use shared::Problem;

/// Where the tests find PostgreSQL (trust auth on these machines).
pub fn pg_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The origin the test server trusts, sent by `TestApp::client` like a browser.
pub const ORIGIN: &str = "http://localhost:8080";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Postgres,
    Sqlite,
}

/// Runs one async test body on PostgreSQL and on SQLite, as two tests.
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $app = $crate::helpers::spawn_app($crate::helpers::Db::Postgres).await;
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::helpers::spawn_app($crate::helpers::Db::Sqlite).await;
                $body
            }
        }
    };
}

/// Runs one behaviour three ways: in-process real time on PostgreSQL and on
/// SQLite, and Redis real time (the shared Redis, a key prefix of its own).
#[macro_export]
macro_rules! rt_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $app = $crate::helpers::spawn_app($crate::helpers::Db::Postgres).await;
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::helpers::spawn_app($crate::helpers::Db::Sqlite).await;
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                let $app =
                    $crate::helpers::spawn_app_with_redis($crate::helpers::Db::Postgres).await;
                $body
            }
        }
    };
}

/// A database made for one test, dropped when the test ends (also when it
/// panics). PostgreSQL databases are named `msgt_<pid>_<n>`; ones left by a
/// killed run are dropped by the next run (their pid is gone).
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: tempfile::TempDir,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            // Drop runs outside any runtime guarantee: use a thread of our own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(db) = Database::connect(pg_admin_url()).await {
                        let _ = db.execute_unprepared(&sql).await;
                        let _ = db.close().await;
                    }
                });
            })
            .join();
        }
    }
}

impl TestDb {
    /// A private directory that lives as long as the database.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);
static STALE_SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

async fn pg_admin() -> DatabaseConnection {
    match Database::connect(pg_admin_url()).await {
        Ok(db) => db,
        Err(e) => panic!(
            "PostgreSQL is not reachable at {} ({e}); start it with: \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            pg_admin_url()
        ),
    }
}

/// Drops test databases whose process is gone (a run that was killed).
async fn sweep_stale(db: &DatabaseConnection) {
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'msgt\\_%'",
        ))
        .await
        .unwrap_or_default();
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let pid = name.split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
            let _ = db
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
}

/// A fresh, empty database of the given kind.
pub async fn fresh_db(kind: Db) -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    match kind {
        Db::Sqlite => TestDb {
            url: format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
            pg_name: None,
            _dir: dir,
        },
        Db::Postgres => {
            let admin = pg_admin().await;
            STALE_SWEPT.get_or_init(|| sweep_stale(&admin)).await;
            let name = format!(
                "msgt_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst),
                rand_suffix()
            );
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            let _ = admin.close().await;
            let base = pg_admin_url();
            let url = match base.rfind('/') {
                Some(i) => format!("{}/{name}", &base[..i]),
                None => panic!("TEST_POSTGRES_URL needs a database path"),
            };
            TestDb {
                url,
                pg_name: Some(name),
                _dir: dir,
            }
        }
    }
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{n:x}")
}

pub struct TestApp {
    pub address: String,
    /// A connection of the test's own, to look at and arrange the database.
    pub db: DatabaseConnection,
    /// Keeps cookies and sends the allowed Origin, like the SPA in a browser.
    pub client: reqwest::Client,
    pub admin: FirstAdmin,
    /// The server's state (event bus, statement counter).
    pub state: backend::state::AppState,
    pub test_db: TestDb,
    /// The `serve` flags it was started with (a peer reuses them).
    pub args: Vec<String>,
    /// The test's Redis key prefix, when real time runs through Redis.
    pub redis: Option<TestRedis>,
}

/// Where the tests find the shared Redis.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A Redis key prefix of one test; its keys are deleted when it is dropped.
pub struct TestRedis {
    pub url: String,
    pub prefix: String,
}

impl TestRedis {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            prefix: format!(
                "msgt:{}:{}:{}:",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst),
                rand_suffix()
            ),
        }
    }

    /// The `serve` flags that select this Redis and prefix.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--redis-url".into(),
            self.url.clone(),
            "--redis-key-prefix".into(),
            self.prefix.clone(),
        ]
    }

    /// Deletes every key under the prefix (also run on drop).
    pub fn clean(&self) {
        let _ = std::process::Command::new("redis-cli")
            .args(["-u", &self.url, "EVAL"])
            .arg(
                "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do \
                 n = n + redis.call('DEL', k) end return n",
            )
            .args(["0", &format!("{}*", self.prefix)])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.clean();
    }
}

/// The server with default test settings.
pub async fn spawn_app(kind: Db) -> TestApp {
    spawn_app_with(kind, &[]).await
}

/// The server with real time through the shared Redis, under a key prefix
/// of the test's own (deleted when the app is dropped).
pub async fn spawn_app_with_redis(kind: Db) -> TestApp {
    spawn_app_with_redis_and(kind, &[]).await
}

/// `spawn_app_with_redis` with extra `serve` flags.
pub async fn spawn_app_with_redis_and(kind: Db, extra: &[&str]) -> TestApp {
    let redis = TestRedis::new(&redis_url());
    let mut args = redis.args();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut app = spawn_app_with(kind, &args).await;
    app.redis = Some(redis);
    app
}

/// The server with extra `serve` flags (e.g. `["--login-max-attempts-per-ip", "3"]`).
pub async fn spawn_app_with(kind: Db, extra: &[&str]) -> TestApp {
    let test_db = fresh_db(kind).await;
    let data_dir = test_db._dir.path().join("data");
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--bind".into(),
        "127.0.0.1:0".into(),
        "--public-url".into(),
        ORIGIN.into(),
        "--database-url".into(),
        test_db.url.clone(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--static-dir".into(),
        test_db._dir.path().join("dist").display().to_string(),
        "--database-max-connections".into(),
        "4".into(),
        // Vanished stream clients are noticed at the next keep-alive.
        "--sse-keep-alive-secs".into(),
        "1".into(),
        // Tests never reach out to the internet; link_previews.rs turns
        // previews on against its own local pages.
        "--link-previews".into(),
        "off".into(),
        // The e-mail worker polls only at start: its statements would
        // otherwise land in the N+1 guard's counts (notifications.rs polls
        // fast).
        "--mail-poll-interval-ms".into(),
        "600000".into(),
        // Tests send and create in bursts; limits.rs sets small limits.
        "--messages-per-minute".into(),
        "100000".into(),
        "--messages-burst".into(),
        "100000".into(),
        "--conversations-per-hour".into(),
        "100000".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let (port, admin, state) = start_server(&args).await;
    let admin = admin.expect("first admin created");
    let db = backend::db::connect(&test_db.url, 2)
        .await
        .expect("test connection");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        db,
        client: browser_client(),
        admin,
        state,
        test_db,
        args,
        redis: None,
    }
}

async fn start_server(args: &[String]) -> (u16, Option<FirstAdmin>, backend::state::AppState) {
    let settings = Settings::parse_from(args).expect("test settings parse");
    let app = Application::build(settings).await.expect("build app");
    let port = app.port();
    let admin = app.first_admin.clone();
    let state = app.state.clone();
    tokio::spawn(app.run_until_stopped());
    (port, admin, state)
}

impl TestApp {
    /// A second instance of the same service: same database, same Redis
    /// and prefix, its own port (the first instance owns the cleanup).
    pub async fn spawn_peer(&self) -> TestApp {
        let (port, _, state) = start_server(&self.args).await;
        let db = backend::db::connect(&self.test_db.url, 2)
            .await
            .expect("test connection");
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            db,
            client: browser_client(),
            admin: self.admin.clone(),
            state,
            test_db: TestDb {
                url: self.test_db.url.clone(),
                pg_name: None,
                _dir: tempfile::tempdir().expect("tempdir"),
            },
            args: self.args.clone(),
            redis: None,
        }
    }
}

/// A cookie-keeping client that sends the allowed Origin, like the SPA.
pub fn browser_client() -> reqwest::Client {
    backend::tls::install_crypto_provider();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ORIGIN,
        reqwest::header::HeaderValue::from_static(ORIGIN),
    );
    reqwest::Client::builder()
        // A server that stops answering fails the test instead of hanging
        // it (streams get keep-alives every second in tests).
        .connect_timeout(std::time::Duration::from_secs(5))
        .read_timeout(std::time::Duration::from_secs(30))
        .cookie_store(true)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A client with no cookies and no Origin (curl, a script).
pub fn bare_client() -> reqwest::Client {
    backend::tls::install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .read_timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POST /api/auth/login with `client`.
    pub async fn login_with(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        client
            .post(self.url("/api/auth/login"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("request")
    }

    /// Logs the app's browser client in as the first admin.
    pub async fn login_admin(&self) {
        let r = self
            .login_with(&self.client, &self.admin.email, &self.admin.password)
            .await;
        assert_eq!(r.status(), 200, "admin login");
    }

    /// Creates a user through the domain layer (as `messaging user add`).
    pub async fn create_user(&self, email: &str, name: &str, password: &str) -> i64 {
        backend::domain::users::create(
            &self.db,
            backend::domain::users::NewUser {
                email: email.into(),
                name: name.into(),
                password: password.into(),
                is_admin: false,
            },
        )
        .await
        .expect("create user")
        .id
    }

    /// A personal API token for the user with this e-mail.
    pub async fn token_for(&self, email: &str) -> (i64, String) {
        let user = backend::domain::users::get_by_email(&self.db, email)
            .await
            .expect("user");
        let (row, token) = backend::auth::api_tokens::create(&self.db, user.id, "test")
            .await
            .expect("token");
        (row.id, token)
    }

    pub async fn me(&self, client: &reqwest::Client) -> reqwest::Response {
        client
            .get(self.url("/api/auth/me"))
            .send()
            .await
            .expect("request")
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                sql,
            ))
            .await
            .expect("query")
            .expect("row");
        row.try_get_by_index::<i64>(0).expect("i64")
    }

    /// The test's private directory (data dir, static dir).
    pub fn test_db_dir(&self) -> std::path::PathBuf {
        self.test_db._dir.path().to_path_buf()
    }

    pub async fn exec(&self, sql: &str) {
        self.db.execute_unprepared(sql).await.expect("exec");
    }
}

/// The `msg_session=<value>` pair a login response set, as a Cookie header.
pub fn session_cookie(res: &reqwest::Response) -> String {
    res.headers()["set-cookie"]
        .to_str()
        .expect("ascii cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned()
}

/// Asserts a problem+json response with the status and code, returns it.
pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> Problem {
    assert_eq!(res.status().as_u16(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(ct, "application/problem+json", "content type");
    let body: Value = res.json().await.expect("json body");
    assert_eq!(body["code"], code, "code in {body}");
    assert_eq!(body["status"], status, "status in {body}");
    serde_json::from_value(body).expect("problem shape")
}

/// A signed-in member with their own browser-like client.
pub struct TestUser {
    pub id: i64,
    pub name: String,
    pub client: reqwest::Client,
}

impl TestApp {
    /// Creates a user and logs them in with a fresh browser client.
    pub async fn user(&self, name: &str) -> TestUser {
        // Letters outside ASCII become their code points, so "Łucja" and
        // "Lucja" get different addresses.
        let local: String = name
            .to_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_string()
                } else if c.is_alphanumeric() {
                    format!("u{:x}", c as u32)
                } else {
                    String::new()
                }
            })
            .collect();
        let email = format!("{local}@firma.pl");
        let id = self.create_user(&email, name, "haslo-testowe-1").await;
        let client = browser_client();
        let r = self.login_with(&client, &email, "haslo-testowe-1").await;
        assert_eq!(r.status(), 200, "login {email}");
        TestUser {
            id,
            name: name.to_owned(),
            client,
        }
    }

    pub async fn get(&self, who: &TestUser, path: &str) -> reqwest::Response {
        who.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, who: &TestUser, path: &str, body: Value) -> reqwest::Response {
        who.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch(&self, who: &TestUser, path: &str, body: Value) -> reqwest::Response {
        who.client
            .patch(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, who: &TestUser, path: &str) -> reqwest::Response {
        who.client
            .delete(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Creates a conversation with `members`; a name makes it a group.
    pub async fn conversation(
        &self,
        who: &TestUser,
        members: &[&TestUser],
        name: Option<&str>,
    ) -> shared::dto::conversations::ConversationDetail {
        let ids: Vec<i64> = members.iter().map(|m| m.id).collect();
        let r = self
            .post(
                who,
                "/api/conversations",
                serde_json::json!({ "member_ids": ids, "name": name }),
            )
            .await;
        assert!(
            r.status().is_success(),
            "create conversation: {}",
            r.status()
        );
        r.json().await.expect("conversation json")
    }

    /// Sends a message and returns it.
    pub async fn send(
        &self,
        who: &TestUser,
        conversation_id: i64,
        content: &str,
    ) -> shared::dto::messages::MessageDto {
        let r = self
            .post(
                who,
                &format!("/api/conversations/{conversation_id}/messages"),
                serde_json::json!({ "content": content }),
            )
            .await;
        assert_eq!(r.status(), 201, "send");
        r.json().await.expect("message json")
    }

    /// SQL statements the server ran while `f` ran (the N+1 guard).
    pub fn statements(&self) -> u64 {
        self.state
            .db_statements
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}
