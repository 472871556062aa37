//! The `messaging` binary as an operator uses it: user and token commands,
//! and configuration errors that end in one clear line.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::helpers::{Db, assert_problem, bare_client, fresh_db, spawn_app};

fn messaging(args: &[&str], db_url: &str, stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_messaging"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn messaging");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("wait")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn users_and_tokens_from_the_cli(kind: Db) {
    let app = spawn_app(kind).await;
    let url = app.test_db.url.clone();
    let out = messaging(
        &[
            "user",
            "add",
            "--email",
            "Ewa@Firma.pl",
            "--name",
            "Ewa Zając",
            "--password-stdin",
        ],
        &url,
        Some("bardzo-tajne-1\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = messaging(&["user", "list"], &url, None);
    let list = text(&out.stdout);
    assert!(
        list.contains("ewa@firma.pl") && list.contains("Ewa Zając"),
        "{list}"
    );

    // The password from stdin works on the running server.
    let r = app
        .login_with(&bare_client(), "ewa@firma.pl", "bardzo-tajne-1")
        .await;
    assert_eq!(r.status(), 200);

    // A token printed once on stdout works as a bearer token.
    let out = messaging(
        &[
            "token",
            "create",
            "--email",
            "ewa@firma.pl",
            "--name",
            "CRM",
        ],
        &url,
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    assert!(token.starts_with("msgp_"), "{token}");
    let me = bare_client()
        .get(app.url("/api/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let out = messaging(&["token", "list", "--email", "ewa@firma.pl"], &url, None);
    let listing = text(&out.stdout);
    assert!(
        listing.contains("CRM") && listing.contains("active"),
        "{listing}"
    );
    assert!(
        !listing.contains(&token),
        "the full token is never shown again"
    );
    let id = app
        .scalar_i64("SELECT id FROM api_tokens")
        .await
        .to_string();
    let out = messaging(
        &["token", "revoke", "--email", "ewa@firma.pl", "--id", &id],
        &url,
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let me = bare_client()
        .get(app.url("/api/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_problem(me, 401, "unauthenticated").await;

    // set-password and deactivate.
    let out = messaging(
        &[
            "user",
            "set-password",
            "--email",
            "ewa@firma.pl",
            "--password-stdin",
        ],
        &url,
        Some("inne-haslo-22\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r = app
        .login_with(&bare_client(), "ewa@firma.pl", "inne-haslo-22")
        .await;
    assert_eq!(r.status(), 200);
    let out = messaging(
        &["user", "deactivate", "--email", "ewa@firma.pl"],
        &url,
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r = app
        .login_with(&bare_client(), "ewa@firma.pl", "inne-haslo-22")
        .await;
    assert_problem(r, 401, "invalid_credentials").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_tokens_from_the_cli_on_postgres() {
    users_and_tokens_from_the_cli(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_tokens_from_the_cli_on_sqlite() {
    users_and_tokens_from_the_cli(Db::Sqlite).await;
}

#[tokio::test]
async fn cli_errors_are_one_line_and_change_nothing() {
    let t = fresh_db(Db::Sqlite).await;
    let url = t.url.clone();
    // Too short a password.
    let out = messaging(
        &[
            "user",
            "add",
            "--email",
            "x@firma.pl",
            "--name",
            "X",
            "--password-stdin",
        ],
        &url,
        Some("short\n"),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("password"), "{err}");
    // No terminal and no --password-stdin.
    let out = messaging(
        &["user", "add", "--email", "x@firma.pl", "--name", "X"],
        &url,
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--password-stdin"));
    let out = messaging(&["user", "list"], &url, None);
    assert!(!text(&out.stdout).contains("x@firma.pl"));
    // Unknown user.
    let out = messaging(
        &[
            "token",
            "create",
            "--email",
            "nobody@firma.pl",
            "--name",
            "t",
        ],
        &url,
        None,
    );
    assert!(!out.status.success());
    assert_eq!(text(&out.stderr).trim().lines().count(), 1);
}

#[test]
fn bad_configuration_fails_at_start_with_one_line() {
    let cases: [(&[&str], &str); 5] = [
        (&["serve", "--bind", "nonsense"], "BIND"),
        (
            &[
                "serve",
                "--public-url",
                "not a url",
                "--bind",
                "127.0.0.1:0",
            ],
            "PUBLIC_URL",
        ),
        (
            &["serve", "--redis-url", "http://x", "--bind", "127.0.0.1:0"],
            "REDIS_URL",
        ),
        (
            &["serve", "--smtp-url", "ftp://x", "--bind", "127.0.0.1:0"],
            "SMTP_URL",
        ),
        (
            &["serve", "--allowed-origins", "::", "--bind", "127.0.0.1:0"],
            "ALLOWED_ORIGINS",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    for (args, needle) in cases {
        let out = messaging(args, &url, None);
        assert!(!out.status.success(), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = messaging(&["serve", "--bind", "127.0.0.1:0"], "mysql://x/y", None);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("DATABASE_URL"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // An unreachable database is one line too (not a hang).
    let out = messaging(
        &["serve", "--bind", "127.0.0.1:0"],
        "postgres://postgres@127.0.0.1:1/none",
        None,
    );
    let err = text(&out.stderr);
    assert!(!out.status.success() && err.contains("database"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_and_stops_within_seconds() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_messaging"))
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--public-url",
            &origin,
        ])
        .env("DATA_DIR", dir.path())
        .env("STATIC_DIR", dir.path())
        .env("LOG_LEVEL", "warn")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut email, mut password) = (String::new(), String::new());
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(v) = line.trim().strip_prefix("e-mail:") {
            email = v.trim().to_owned();
        }
        if let Some(v) = line.trim().strip_prefix("password:") {
            password = v.trim().to_owned();
        }
        if line.starts_with("Messaging is running") {
            break;
        }
    }
    backend::tls::install_crypto_provider();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = client
        .post(format!("{origin}/api/auth/login"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut stream = crate::sse::open(client.get(format!("{origin}/api/messages/stream"))).await;
    assert_eq!(
        stream.next_event().await.event.as_deref(),
        Some("connected")
    );

    let started = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // The stream ends (the client would reconnect elsewhere) …
    stream.assert_closed(Duration::from_secs(5)).await;
    // … and the process exits cleanly within seconds, not at the 10 s limit.
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(8), "still running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
