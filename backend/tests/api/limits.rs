//! Limits: body sizes, message length, group size, search length, uploads,
//! and the rate limits (messages, new conversations, logins, typing and
//! heartbeats) — in-process on both databases, and shared by two instances
//! through Redis. Every refusal is problem+json and changes nothing.
//! Small limits are configured so the tests stay fast.

use std::process::Command;
use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::helpers::{
    Db, TestApp, TestRedis, TestUser, assert_problem, spawn_app_with, spawn_app_with_redis_and,
};
use crate::stream::stream;

/// Runs a test on both databases with extra `serve` flags.
macro_rules! limits_test {
    ($name:ident, $args:expr, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $app = spawn_app_with(Db::Postgres, &$args).await;
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = spawn_app_with(Db::Sqlite, &$args).await;
                $body
            }
        }
    };
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.scalar_i64(&format!("SELECT COUNT(*) FROM {table}"))
        .await
}

/// The `Retry-After` of a 429, in seconds, checked to be within `1..=max`.
fn retry_after(r: &reqwest::Response, max: u64) -> u64 {
    let secs: u64 = r
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("whole seconds");
    assert!(
        (1..=max).contains(&secs),
        "Retry-After {secs} not in 1..={max}"
    );
    secs
}

async fn send_raw(app: &TestApp, who: &TestUser, cid: i64, content: &str) -> reqwest::Response {
    app.post(
        who,
        &format!("/api/conversations/{cid}/messages"),
        json!({ "content": content }),
    )
    .await
}

async fn create_group(app: &TestApp, who: &TestUser, ids: &[i64], name: &str) -> reqwest::Response {
    app.post(
        who,
        "/api/conversations",
        json!({ "member_ids": ids, "name": name }),
    )
    .await
}

limits_test!(
    json_bodies_over_max_json_bytes_get_413_and_change_nothing,
    ["--max-json-bytes", "2048"],
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        // Well under 10,000 characters, but over 2 KiB as JSON.
        let r = send_raw(&app, &anna, c.id, &"x".repeat(3000)).await;
        let p = assert_problem(r, 413, "payload_too_large").await;
        assert!(p.detail.unwrap_or_default().contains("2048"));
        // The same without Content-Length (chunked): counted while reading.
        let body = format!(r#"{{"content":"{}"}}"#, "y".repeat(3000));
        let chunks = futures_util::stream::iter(
            body.into_bytes()
                .chunks(500)
                .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                .collect::<Vec<_>>(),
        );
        let r = anna
            .client
            .post(app.url(&format!("/api/conversations/{}/messages", c.id)))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .unwrap();
        assert_problem(r, 413, "payload_too_large").await;
        let r = create_group(&app, &anna, &[jan.id], &"n".repeat(3000)).await;
        assert_problem(r, 413, "payload_too_large").await;
        assert_eq!(count(&app, "conv_messages").await, 0);
        assert_eq!(count(&app, "conversations").await, 1);
        // Under the limit: fine.
        assert_eq!(send_raw(&app, &anna, c.id, "krótko").await.status(), 201);
    }
);

limits_test!(
    message_content_over_10000_characters_gets_422,
    [] as [&str; 0],
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        // Characters, not bytes: "ą" is two bytes in UTF-8.
        let r = send_raw(&app, &anna, c.id, &"ą".repeat(10_001)).await;
        let p = assert_problem(r, 422, "validation_failed").await;
        assert_eq!(p.errors[0].field, "content");
        let m = app.send(&anna, c.id, "krótka").await;
        let r = app
            .patch(
                &anna,
                &format!("/api/messages/{}", m.id),
                json!({ "content": "ą".repeat(10_001) }),
            )
            .await;
        assert_problem(r, 422, "validation_failed").await;
        assert_eq!(count(&app, "conv_messages").await, 1);
        let r = send_raw(&app, &anna, c.id, &"ą".repeat(10_000)).await;
        assert_eq!(r.status(), 201);
    }
);

limits_test!(
    group_size_is_limited_on_creation_and_when_adding,
    ["--max-group-members", "3"],
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let ola = app.user("Ola").await;
        let ewa = app.user("Ewa").await;
        // Anna and three others: four members.
        let r = create_group(&app, &anna, &[jan.id, ola.id, ewa.id], "Za duża").await;
        let p = assert_problem(r, 422, "validation_failed").await;
        assert_eq!(p.errors[0].field, "member_ids");
        assert_eq!(count(&app, "conversations").await, 0);
        assert_eq!(count(&app, "conversation_members").await, 0);
        let r = create_group(&app, &anna, &[jan.id, ola.id], "W sam raz").await;
        assert_eq!(r.status(), 201);
        let g: shared::dto::conversations::ConversationDetail = r.json().await.unwrap();
        let r = app
            .post(
                &anna,
                &format!("/api/conversations/{}/members", g.id),
                json!({ "user_ids": [ewa.id] }),
            )
            .await;
        let p = assert_problem(r, 422, "validation_failed").await;
        assert_eq!(p.errors[0].field, "user_ids");
        assert_eq!(count(&app, "conversation_members").await, 3);
        // Room again after someone leaves.
        let r = app
            .delete(
                &jan,
                &format!("/api/conversations/{}/members/{}", g.id, jan.id),
            )
            .await;
        assert_eq!(r.status(), 204);
        let r = app
            .post(
                &anna,
                &format!("/api/conversations/{}/members", g.id),
                json!({ "user_ids": [ewa.id] }),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
);

limits_test!(
    search_queries_over_200_characters_get_422,
    [] as [&str; 0],
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let long = "ż".repeat(200);
        app.send(&anna, c.id, &long).await;
        let path = |q: &str| format!("/api/conversations/{}/messages/search?q={q}", c.id);
        let r = app.get(&anna, &path(&"ż".repeat(201))).await;
        let p = assert_problem(r, 422, "validation_failed").await;
        assert_eq!(p.errors[0].field, "q");
        let r = app.get(&anna, &path(&long)).await;
        assert_eq!(r.status(), 200);
        let page: shared::dto::messages::MessagePage = r.json().await.unwrap();
        assert_eq!(page.items.len(), 1);
        let r = app
            .get(&anna, &format!("/api/users?q={}", "a".repeat(101)))
            .await;
        assert_problem(r, 422, "validation_failed").await;
    }
);

limits_test!(
    uploads_over_max_upload_bytes_get_413_and_keep_nothing,
    ["--max-upload-bytes", "1000"],
    |app| {
        let anna = app.user("Anna").await;
        let part = |n: usize| {
            Form::new().part(
                "file",
                Part::bytes(vec![b'a'; n])
                    .file_name("plik.txt")
                    .mime_str("text/plain")
                    .unwrap(),
            )
        };
        let post = |form: Form| {
            anna.client
                .post(app.url("/api/attachments"))
                .multipart(form)
                .send()
        };
        let r = post(part(1001)).await.unwrap();
        assert_problem(r, 413, "payload_too_large").await;
        assert_eq!(count(&app, "message_attachments").await, 0);
        let r = post(part(1000)).await.unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(count(&app, "message_attachments").await, 1);
    }
);

limits_test!(
    messages_are_limited_per_user_after_a_burst,
    ["--messages-burst", "3", "--messages-per-minute", "1"],
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let ola = app.user("Ola").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let other = app.conversation(&anna, &[&ola], None).await;
        let mut sent = Vec::new();
        for i in 0..3 {
            sent.push(app.send(&anna, c.id, &format!("nr {i}")).await);
        }
        let r = send_raw(&app, &anna, c.id, "o jeden za dużo").await;
        // One message a minute after the burst: the next within 60 s.
        retry_after(&r, 60);
        let p = assert_problem(r, 429, "rate_limited").await;
        assert!(p.detail.unwrap_or_default().contains("retry in"));
        // Forwarding is sending too; an invalid message is still a 422.
        let r = app
            .post(
                &anna,
                &format!("/api/messages/{}/forward", sent[0].id),
                json!({ "conversation_id": other.id }),
            )
            .await;
        retry_after(&r, 60);
        assert_problem(r, 429, "rate_limited").await;
        let r = send_raw(&app, &anna, c.id, "   ").await;
        assert_problem(r, 422, "validation_failed").await;
        assert_eq!(count(&app, "conv_messages").await, 3, "nothing stored");
        // Per user: Jan still sends.
        app.send(&jan, c.id, "ja mogę").await;
    }
);

limits_test!(
    conversations_created_per_hour_are_limited,
    ["--conversations-per-hour", "2"],
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let ola = app.user("Ola").await;
        app.conversation(&anna, &[&jan], None).await;
        app.conversation(&anna, &[&jan, &ola], Some("Druga")).await;
        let r = create_group(&app, &anna, &[jan.id, ola.id], "Trzecia").await;
        // Two an hour: one every 30 minutes after the burst.
        retry_after(&r, 30 * 60);
        assert_problem(r, 429, "rate_limited").await;
        let r = app
            .post(
                &anna,
                "/api/conversations",
                json!({ "member_ids": [ola.id] }),
            )
            .await;
        assert_problem(r, 429, "rate_limited").await;
        assert_eq!(count(&app, "conversations").await, 2, "nothing created");
        assert_eq!(count(&app, "conversation_members").await, 5);
        // Opening the existing 1:1 again creates nothing and is not limited.
        let r = app
            .post(
                &anna,
                "/api/conversations",
                json!({ "member_ids": [jan.id] }),
            )
            .await;
        assert_eq!(r.status(), 200);
        // Per user.
        app.conversation(&jan, &[&ola], None).await;
    }
);

limits_test!(
    typing_and_heartbeats_are_throttled_without_errors,
    [] as [&str; 0],
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let mut js = stream(&app, &jan, None).await;
        let path = format!("/api/conversations/{}/typing", c.id);
        for _ in 0..3 {
            assert_eq!(app.post(&anna, &path, json!({})).await.status(), 204);
        }
        assert_eq!(
            js.next_non_presence().await.event.as_deref(),
            Some("typing")
        );
        js.assert_quiet(Duration::from_millis(500)).await;
        // Heartbeats: every one is answered 204; only the first within the
        // throttle window refreshes presence.
        for _ in 0..3 {
            let r = app.post(&anna, "/api/messages/heartbeat", json!({})).await;
            assert_eq!(r.status(), 204);
        }
        let key = format!("heartbeat:{}", anna.id);
        let throttled = app
            .state
            .limiter
            .check(&key, app.state.settings.heartbeat_rate())
            .await;
        assert!(throttled.is_err(), "the heartbeat throttle is in force");
    }
);

/// `redis-cli -u url args…`, its output.
fn redis_cli(url: &str, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-u")
        .arg(url)
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_shared_by_instances_through_redis() {
    let a = spawn_app_with_redis_and(
        Db::Postgres,
        &[
            "--messages-burst",
            "3",
            "--messages-per-minute",
            "1",
            "--conversations-per-hour",
            "2",
            "--login-max-failures-per-account",
            "2",
        ],
    )
    .await;
    let b = a.spawn_peer().await;
    let anna = a.user("Anna").await;
    let jan = a.user("Jan").await;
    let ola = a.user("Ola").await;

    // Conversations: one on A, one on B, the third refused on either.
    let c = a.conversation(&anna, &[&jan], None).await;
    b.conversation(&anna, &[&jan, &ola], Some("Grupa")).await;
    for app in [&a, &b] {
        let r = create_group(app, &anna, &[jan.id, ola.id], "Trzecia").await;
        retry_after(&r, 30 * 60);
        assert_problem(r, 429, "rate_limited").await;
    }
    assert_eq!(count(&a, "conversations").await, 2);

    // Messages: a burst of three across both instances, then refused on both.
    for app in [&a, &b, &a] {
        assert_eq!(send_raw(app, &anna, c.id, "z serii").await.status(), 201);
    }
    for app in [&b, &a] {
        let r = send_raw(app, &anna, c.id, "za dużo").await;
        retry_after(&r, 60);
        assert_problem(r, 429, "rate_limited").await;
    }
    assert_eq!(count(&a, "conv_messages").await, 3, "nothing stored");
    assert_eq!(send_raw(&b, &jan, c.id, "Jan może").await.status(), 201);

    // Failed logins of one account, counted across the instances.
    let client = crate::helpers::bare_client();
    for app in [&a, &b] {
        let r = app.login_with(&client, "ola@firma.pl", "zle-haslo-1").await;
        assert_eq!(r.status(), 401);
    }
    let r = a
        .login_with(&client, "ola@firma.pl", "haslo-testowe-1")
        .await;
    retry_after(&r, 15 * 60);
    assert_problem(r, 429, "rate_limited").await;

    // The state is in Redis under the deployment's prefix.
    let redis = a.redis.as_ref().unwrap();
    let key = format!("{}rl:send:{}", redis.prefix, anna.id);
    assert!(
        redis_cli(&redis.url, &["PTTL", &key])
            .parse::<i64>()
            .unwrap()
            > 0
    );

    // Heartbeats: the throttle holds across instances (the heartbeat
    // session's expiry does not move on the second one).
    let sessions = format!("{}presence:{}:sessions", redis.prefix, jan.id);
    let hb = "/api/messages/heartbeat";
    assert_eq!(a.post(&jan, hb, json!({})).await.status(), 204);
    let first = redis_cli(&redis.url, &["ZSCORE", &sessions, "hb"]);
    assert!(!first.is_empty(), "the heartbeat was recorded");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(b.post(&jan, hb, json!({})).await.status(), 204);
    assert_eq!(
        redis_cli(&redis.url, &["ZSCORE", &sessions, "hb"]),
        first,
        "the second heartbeat, on the other instance, changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_the_limits_fall_back_to_each_instance() {
    let mut server = crate::redis::RedisServer::started();
    let redis = TestRedis::new(&server.url());
    let mut args = redis.args();
    args.extend(
        ["--messages-burst", "2", "--messages-per-minute", "1"]
            .iter()
            .map(|s| s.to_string()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let app = spawn_app_with(Db::Postgres, &args).await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    server.stop();
    // Sending works while Redis is away, and the limit still holds here.
    for _ in 0..2 {
        assert_eq!(
            send_raw(&app, &anna, c.id, "bez redisa").await.status(),
            201
        );
    }
    let r = send_raw(&app, &anna, c.id, "za dużo").await;
    retry_after(&r, 60);
    assert_problem(r, 429, "rate_limited").await;
    assert_eq!(count(&app, "conv_messages").await, 2);
}
