//! `GET /metrics`: hidden without METRICS_TOKEN, 401 without the bearer
//! token, and series that move exactly with what clients do — requests by
//! route pattern (never the raw path) and status, latency histogram counts,
//! open streams, events published and delivered, SQL statements, the pool,
//! and the outbox depth (sampled at most every 5 s).

use std::time::{Duration, Instant};

use crate::helpers::{Db, TestApp, assert_problem, bare_client, spawn_app, spawn_app_with};
use crate::sse;

const TOKEN: &str = "metrics-token-0123456789";

async fn metrics_app(kind: Db) -> TestApp {
    spawn_app_with(kind, &["--metrics-token", TOKEN]).await
}

async fn scrape(app: &TestApp) -> String {
    let r = bare_client()
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("scrape");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    r.text().await.expect("body")
}

/// The value of one series (`name{labels}` exactly as exposed); 0 if absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0)
}

fn requests(method: &str, route: &str, status: u16) -> String {
    format!(
        "messaging_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
    )
}

fn latency_count(method: &str, route: &str) -> String {
    format!(
        "messaging_http_request_duration_seconds_count{{method=\"{method}\",route=\"{route}\"}}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_do_not_exist_without_a_token_setting() {
    let app = spawn_app(Db::Sqlite).await;
    let r = bare_client()
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_problem(r, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_bearer_token() {
    let app = metrics_app(Db::Sqlite).await;
    let r = bare_client().get(app.url("/metrics")).send().await.unwrap();
    assert_problem(r, 401, "unauthenticated").await;
    let r = bare_client()
        .get(app.url("/metrics"))
        .bearer_auth("metrics-token-0123456788")
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, "unauthenticated").await;
    // A session is not enough either: only the token opens it.
    app.login_admin().await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_problem(r, 401, "unauthenticated").await;
}

async fn series_follow(kind: Db) {
    let app = metrics_app(kind).await;
    let before = scrape(&app).await;
    let ala = app.user("Ala").await;
    let bob = app.user("Bob").await;
    let conv = app.conversation(&ala, &[&bob], None).await;
    let msgs_route = "/api/conversations/{id}/messages";

    let mut stream = sse::open(ala.client.get(app.url("/api/messages/stream"))).await;
    assert_eq!(stream.status, 200);
    assert_eq!(
        stream.next_event().await.event.as_deref(),
        Some("connected")
    );
    let open = scrape(&app).await;
    assert_eq!(value(&open, "messaging_sse_streams_open"), 1.0, "{open}");

    app.send(&bob, conv.id, "Cześć!").await;
    let got = stream.next_non_presence().await;
    assert_eq!(got.event.as_deref(), Some("new_message"));
    for _ in 0..3 {
        let r = app
            .get(&ala, &format!("/api/conversations/{}/messages", conv.id))
            .await;
        assert_eq!(r.status(), 200);
    }
    let r = app.get(&ala, "/api/no-such-endpoint/7").await;
    assert_eq!(r.status(), 404);

    let after = scrape(&app).await;
    let delta = |series: &str| value(&after, series) - value(&before, series);
    assert_eq!(delta(&requests("POST", msgs_route, 201)), 1.0, "{after}");
    assert_eq!(delta(&requests("GET", msgs_route, 200)), 3.0, "{after}");
    assert_eq!(delta(&latency_count("POST", msgs_route)), 1.0, "{after}");
    assert_eq!(delta(&latency_count("GET", msgs_route)), 3.0, "{after}");
    assert_eq!(
        delta(&requests("GET", "/api/messages/stream", 200)),
        1.0,
        "{after}"
    );
    assert_eq!(delta(&requests("GET", "unmatched", 404)), 1.0, "{after}");
    assert_eq!(
        delta(&requests("POST", "/api/auth/login", 200)),
        2.0,
        "{after}"
    );
    // Route patterns only: ids never become label values.
    assert!(
        !after.contains(&format!("/api/conversations/{}", conv.id)),
        "{after}"
    );
    assert_eq!(
        delta("messaging_events_published_total{kind=\"new_message\"}"),
        1.0,
        "{after}"
    );
    assert!(
        delta("messaging_events_delivered_total{via=\"live\"}") >= 1.0,
        "{after}"
    );
    assert!(delta("messaging_db_statements_total") > 0.0, "{after}");
    assert_eq!(
        value(&after, "messaging_db_pool_max_connections"),
        4.0,
        "{after}"
    );
    assert!(
        value(&after, "messaging_db_pool_connections{state=\"idle\"}")
            + value(&after, "messaging_db_pool_connections{state=\"in_use\"}")
            >= 1.0,
        "{after}"
    );
    assert_eq!(
        value(
            &after,
            "messaging_events_dropped_total{reason=\"slow_client\"}"
        ),
        0.0
    );

    // The stream goes away: the gauge follows (the server notices at the
    // next keep-alive, every second in tests).
    let last_id = got.id.clone().expect("event id");
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = scrape(&app).await;
        if value(&now, "messaging_sse_streams_open") == 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "stream still counted: {now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A reconnect replays what was missed, counted as replayed.
    app.send(&bob, conv.id, "Jesteś?").await;
    let replay_before = value(
        &scrape(&app).await,
        "messaging_events_delivered_total{via=\"replay\"}",
    );
    let mut again = sse::open(
        ala.client
            .get(app.url("/api/messages/stream"))
            .header("Last-Event-ID", last_id),
    )
    .await;
    assert_eq!(again.next_event().await.event.as_deref(), Some("connected"));
    assert_eq!(
        again.next_non_presence().await.event.as_deref(),
        Some("new_message")
    );
    let replayed = value(
        &scrape(&app).await,
        "messaging_events_delivered_total{via=\"replay\"}",
    );
    assert!(
        replayed - replay_before >= 1.0,
        "{replay_before} -> {replayed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_follow_requests_streams_and_events_postgres() {
    series_follow(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_follow_requests_streams_and_events_sqlite() {
    series_follow(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_depth_is_sampled_at_most_every_five_seconds() {
    let app = metrics_app(Db::Postgres).await;
    let ala = app.user("Ala").await;
    let first = scrape(&app).await;
    let sampled_at = Instant::now();
    let depth = value(&first, "messaging_email_outbox_depth");
    assert_eq!(depth, 0.0, "{first}");
    // Due far in the future, so no mail worker takes it meanwhile.
    app.exec(&format!(
        "INSERT INTO email_outbox (user_id, conversation_id, kind, payload, not_before, attempts, created_at) \
         VALUES ({}, NULL, 'metrics_test', '{{}}', '2999-01-01 00:00:00+00:00', 0, CURRENT_TIMESTAMP)",
        ala.id
    ))
    .await;
    let soon = scrape(&app).await;
    assert!(
        sampled_at.elapsed() < Duration::from_secs(5),
        "test too slow"
    );
    assert_eq!(value(&soon, "messaging_email_outbox_depth"), 0.0, "cached");
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(sampled_at.elapsed())).await;
    let later = scrape(&app).await;
    assert_eq!(
        value(&later, "messaging_email_outbox_depth"),
        1.0,
        "{later}"
    );
}
