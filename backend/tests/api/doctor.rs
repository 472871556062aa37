//! `messaging doctor` as an operator runs it (the real binary): all checks
//! pass against the test PostgreSQL and Redis and a real SMTP dialogue; a
//! wrong Redis port, an unreachable database or a refusing mail server each
//! give one clear FAIL line and a non-zero exit; so does an S3 bucket that
//! refuses writes.

use std::process::{Command, Output};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::{Db, redis_url, spawn_app};

/// Runs `messaging doctor` with only these flags (no environment leaking in).
fn doctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_messaging"))
        .arg("doctor")
        .args(args)
        .env_clear()
        .env("LOG_LEVEL", "warn")
        .output()
        .expect("run messaging doctor")
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A mail server that greets with `greeting` and accepts EHLO.
async fn smtp_server(greeting: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                w.write_all(format!("{greeting}\r\n").as_bytes()).await.ok();
                let mut line = String::new();
                while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                    let reply = if line.starts_with("EHLO") {
                        "250-test.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                    } else if line.starts_with("QUIT") {
                        "221 bye\r\n"
                    } else {
                        "500 what?\r\n"
                    };
                    w.write_all(reply.as_bytes()).await.ok();
                    line.clear();
                }
            });
        }
    });
    port
}

struct Setup {
    _app: crate::helpers::TestApp,
    db_url: String,
    data_dir: String,
    static_dir: String,
}

/// A migrated PostgreSQL database and a data dir and a built-SPA dir.
async fn setup() -> Setup {
    let app = spawn_app(Db::Postgres).await;
    let dir = app.test_db_dir();
    let static_dir = dir.join("doctor-dist");
    std::fs::create_dir_all(&static_dir).unwrap();
    std::fs::write(static_dir.join("index.html"), "<!doctype html>").unwrap();
    Setup {
        db_url: app.test_db.url.clone(),
        data_dir: dir.join("doctor-data").display().to_string(),
        static_dir: static_dir.display().to_string(),
        _app: app,
    }
}

fn base_args(s: &Setup) -> Vec<String> {
    [
        "--database-url",
        &s.db_url,
        "--data-dir",
        &s.data_dir,
        "--static-dir",
        &s.static_dir,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

fn run(s: &Setup, extra: &[&str]) -> Output {
    let mut args = base_args(s);
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    doctor(&args)
}

fn line<'a>(lines: &'a [String], name: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.get(6..).is_some_and(|rest| rest.starts_with(name)))
        .unwrap_or_else(|| panic!("no {name} line in {lines:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_checks_pass_against_postgres_redis_and_smtp() {
    let s = setup().await;
    let smtp = smtp_server("220 test.example ESMTP ready").await;
    let smtp_url = format!("smtp://127.0.0.1:{smtp}");
    let redis = redis_url();
    let out = tokio::task::spawn_blocking({
        let args = base_args(&s);
        move || {
            let mut all: Vec<String> = args;
            all.extend(["--redis-url".into(), redis, "--smtp-url".into(), smtp_url]);
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            doctor(&all)
        }
    })
    .await
    .unwrap();
    let ls = lines(&out);
    assert!(
        out.status.success(),
        "{ls:#?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ls.len(), 6, "one line per check: {ls:#?}");
    for name in [
        "configuration",
        "database",
        "redis",
        "smtp",
        "storage",
        "web app",
    ] {
        let l = line(&ls, name);
        assert!(l.starts_with("ok    "), "{l}");
    }
    assert!(line(&ls, "database").contains("none pending"), "{ls:#?}");
    assert!(line(&ls, "redis").contains("PONG"), "{ls:#?}");
    assert!(
        line(&ls, "smtp").contains("test.example ESMTP ready"),
        "{ls:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_and_smtp_those_checks_are_skipped() {
    let s = setup().await;
    let out = tokio::task::spawn_blocking(move || run(&s, &[]))
        .await
        .unwrap();
    let ls = lines(&out);
    assert!(out.status.success(), "{ls:#?}");
    assert!(line(&ls, "redis").starts_with("skip  "), "{ls:#?}");
    assert!(line(&ls, "smtp").starts_with("skip  "), "{ls:#?}");
}

/// Exactly one FAIL line, for `name`; the exit code says it failed.
fn assert_one_failure(out: &Output, name: &str, mentions: &str) {
    let ls = lines(out);
    assert!(!out.status.success(), "{ls:#?}");
    let failed: Vec<&String> = ls.iter().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{ls:#?}");
    let l = line(&ls, name);
    assert!(l.starts_with("FAIL  "), "{l}");
    assert!(l.contains(mentions), "{l}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 of 6 checks failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_redis_port_is_one_failed_line() {
    let s = setup().await;
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let out = tokio::task::spawn_blocking(move || run(&s, &["--redis-url", &url]))
        .await
        .unwrap();
    assert_one_failure(&out, "redis", &format!("127.0.0.1:{port}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_one_failed_line() {
    let s = setup().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = tokio::task::spawn_blocking(move || {
        let url = format!("postgres://postgres:geheim@127.0.0.1:{port}/messaging");
        let args = [
            "--database-url",
            &url,
            "--data-dir",
            &s.data_dir,
            "--static-dir",
            &s.static_dir,
        ];
        doctor(&args)
    })
    .await
    .unwrap();
    assert_one_failure(&out, "database", &format!("127.0.0.1:{port}"));
    // The password is never printed.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("geheim"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_mail_server_is_one_failed_line() {
    let s = setup().await;
    let smtp = smtp_server("554 no service here").await;
    let url = format!("smtp://127.0.0.1:{smtp}");
    let out = tokio::task::spawn_blocking(move || run(&s, &["--smtp-url", &url]))
        .await
        .unwrap();
    assert_one_failure(&out, "smtp", "554 no service here");
}

/// An S3-compatible endpoint that refuses every request as AWS does
/// (403 AccessDenied) after reading it.
async fn refusing_s3() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                let mut line = String::new();
                let mut length = 0usize;
                while r.read_line(&mut line).await.unwrap_or(0) > 0 && line != "\r\n" {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0u8; length];
                tokio::io::AsyncReadExt::read_exact(&mut r, &mut body)
                    .await
                    .ok();
                let xml =
                    "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
                let reply = format!(
                    "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                    xml.len()
                );
                w.write_all(reply.as_bytes()).await.ok();
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_that_refuses_writes_is_one_failed_storage_line() {
    let s = setup().await;
    let port = refusing_s3().await;
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = tokio::task::spawn_blocking(move || {
        run(
            &s,
            &[
                "--attachments-s3-bucket",
                "zalaczniki",
                "--attachments-s3-endpoint",
                &endpoint,
                "--attachments-s3-access-key-id",
                "id",
                "--attachments-s3-secret-access-key",
                "sekret",
            ],
        )
    })
    .await
    .unwrap();
    assert_one_failure(&out, "storage", "S3 bucket zalaczniki");
    assert!(
        line(&lines(&out), "storage").contains("403"),
        "{:#?}",
        lines(&out)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("sekret"));
}
