//! Real time over SSE: framing and headers, delivery, replay by
//! Last-Event-ID, resync, typing throttle, presence, membership changes —
//! the same behaviour in-process and through Redis.

use std::time::Duration;

use serde_json::json;
use shared::dto::users::PresenceDto;

use crate::helpers::{TestApp, TestUser, assert_problem, bare_client};
use crate::rt_test;
use crate::sse::{self, SseStream};

pub async fn stream(app: &TestApp, who: &TestUser, last_id: Option<&str>) -> SseStream {
    let mut req = who.client.get(app.url("/api/messages/stream"));
    if let Some(id) = last_id {
        req = req.header("Last-Event-ID", id);
    }
    let mut s = sse::open(req).await;
    assert_eq!(s.status, 200);
    let first = s.next().await;
    assert_eq!(first.retry, Some(3000), "retry hint first: {first:?}");
    let connected = s.next_event().await;
    assert_eq!(connected.event.as_deref(), Some("connected"));
    assert_eq!(connected.json()["user_id"], who.id);
    s
}

rt_test!(stream_frames_headers_and_delivery, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let eve = app.user("Ewa").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let mut js = stream(&app, &jan, None).await;
    assert_eq!(js.headers["content-type"], "text/event-stream");
    assert_eq!(js.headers["cache-control"], "no-cache");
    assert_eq!(js.headers["x-accel-buffering"], "no");
    let mut es = stream(&app, &eve, None).await;
    let m = app.send(&anna, c.id, "na żywo").await;
    let f = js.next_non_presence().await;
    assert_eq!(f.event.as_deref(), Some("new_message"));
    assert!(f.id.is_some());
    let data = f.json();
    assert_eq!(data["type"], "new_message");
    assert_eq!(data["message"]["id"], m.id);
    assert_eq!(data["message"]["content"], "na żywo");
    // Someone outside the conversation hears nothing of it.
    es.assert_quiet(Duration::from_millis(500)).await;
});

rt_test!(stream_needs_authentication_and_takes_bearer_tokens, |app| {
    let r = bare_client()
        .get(app.url("/api/messages/stream"))
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, "unauthenticated").await;
    let (_, token) = app.token_for(&app.admin.email).await;
    let mut s = sse::open(
        bare_client()
            .get(app.url("/api/messages/stream"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(s.status, 200);
    assert_eq!(s.next_event().await.event.as_deref(), Some("connected"));
});

rt_test!(
    reconnect_with_last_event_id_replays_without_gap_or_duplicate,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let mut js = stream(&app, &jan, None).await;
        app.send(&anna, c.id, "jeden").await;
        let first = js.next_event().await;
        let last_id = first.id.clone().unwrap();
        drop(js);
        // Sent while Jan is away.
        let m2 = app.send(&anna, c.id, "dwa").await;
        let m3 = app.send(&anna, c.id, "trzy").await;
        let mut js = stream(&app, &jan, Some(&last_id)).await;
        let a = js.next_event().await;
        let b = js.next_event().await;
        assert_eq!(a.json()["message"]["id"], m2.id);
        assert_eq!(b.json()["message"]["id"], m3.id);
        let m4 = app.send(&anna, c.id, "cztery").await;
        let d = js.next_non_presence().await;
        assert_eq!(
            d.json()["message"]["id"],
            m4.id,
            "then live, nothing repeated"
        );
        js.assert_quiet(Duration::from_millis(300)).await;
        // The same through the query parameter.
        let mut q = sse::open(jan.client.get(app.url(&format!(
            "/api/messages/stream?last_event_id={}",
            b.id.clone().unwrap()
        ))))
        .await;
        assert_eq!(q.next_event().await.event.as_deref(), Some("connected"));
        assert_eq!(q.next_non_presence().await.json()["message"]["id"], m4.id);
    }
);

rt_test!(unknown_or_too_old_last_event_id_gets_resync, |app| {
    let jan = app.user("Jan").await;
    let mut js = stream(&app, &jan, Some("not-an-id")).await;
    assert_eq!(js.next_event().await.event.as_deref(), Some("resync"));
});

rt_test!(typing_reaches_the_others_once_per_two_seconds, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let mut js = stream(&app, &jan, None).await;
    let mut anna_s = stream(&app, &anna, None).await;
    let path = format!("/api/conversations/{}/typing", c.id);
    for _ in 0..3 {
        let r = app.post(&anna, &path, json!({})).await;
        assert_eq!(r.status(), 204);
    }
    let f = js.next_non_presence().await;
    assert_eq!(f.event.as_deref(), Some("typing"));
    assert_eq!(
        f.json(),
        json!({ "type": "typing", "conversation_id": c.id, "user_id": anna.id, "user_name": "Anna" })
    );
    js.assert_quiet(Duration::from_millis(500)).await;
    // The typist does not hear herself (presence of Jan may arrive: skip it).
    anna_s.assert_quiet(Duration::from_millis(300)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(app.post(&anna, &path, json!({})).await.status(), 204);
    assert_eq!(
        js.next_non_presence().await.event.as_deref(),
        Some("typing")
    );
    // Strangers: 404.
    let eve = app.user("Ewa").await;
    assert_problem(app.post(&eve, &path, json!({})).await, 404, "not_found").await;
});

rt_test!(presence_online_offline_and_lookup, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let eve = app.user("Ewa").await;
    app.conversation(&anna, &[&jan], None).await;
    let mut anna_s = stream(&app, &anna, None).await;
    let mut eve_s = stream(&app, &eve, None).await;
    let js = stream(&app, &jan, None).await;
    let f = anna_s.next_event().await;
    assert_eq!(f.event.as_deref(), Some("presence"));
    assert_eq!(f.json()["user_id"], jan.id);
    assert_eq!(f.json()["online"], true);
    let ids = format!("/api/users/presence?ids={}&ids={}", jan.id, eve.id);
    let p: Vec<PresenceDto> = app.get(&anna, &ids).await.json().await.unwrap();
    // Ewa shares no conversation with Anna: left out, like an unknown id.
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].user_id, jan.id);
    assert!(p[0].online && p[0].last_seen.is_none());
    drop(js);
    // Offline after the grace period, with last_seen recorded.
    let f = anna_s.next_event().await;
    assert_eq!(f.event.as_deref(), Some("presence"));
    assert_eq!(f.json()["online"], false);
    assert!(f.json()["last_seen"].is_string());
    let p: Vec<PresenceDto> = app.get(&anna, &ids).await.json().await.unwrap();
    assert!(!p[0].online && p[0].last_seen.is_some());
    // Ewa shares no conversation with Jan: she heard nothing about him.
    while let Ok(f) = tokio::time::timeout(Duration::from_millis(200), eve_s.next_event()).await {
        assert_ne!(f.json()["user_id"], jan.id, "{f:?}");
    }
    // A heartbeat alone makes one online.
    assert_eq!(
        app.post(&jan, "/api/messages/heartbeat", json!({}))
            .await
            .status(),
        204
    );
    let p: Vec<PresenceDto> = app.get(&anna, &ids).await.json().await.unwrap();
    assert!(p[0].online);
    // 1–50 ids.
    let r = app.get(&anna, "/api/users/presence").await;
    assert_problem(r, 422, "validation_failed").await;
    let many: Vec<String> = (1..=51).map(|i| format!("ids={i}")).collect();
    let r = app
        .get(&anna, &format!("/api/users/presence?{}", many.join("&")))
        .await;
    assert_problem(r, 422, "validation_failed").await;
    let r = app.get(&anna, "/api/users/presence?ids=x").await;
    assert_problem(r, 422, "validation_failed").await;
});

rt_test!(a_removed_member_hears_the_removal_and_then_nothing, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let ola = app.user("Ola").await;
    let g = app.conversation(&anna, &[&jan, &ola], Some("Grupa")).await;
    let mut os = stream(&app, &ola, None).await;
    let r = app
        .delete(
            &anna,
            &format!("/api/conversations/{}/members/{}", g.id, ola.id),
        )
        .await;
    assert_eq!(r.status(), 204);
    let f = os.next_non_presence().await;
    assert_eq!(f.event.as_deref(), Some("member_removed"));
    assert_eq!(f.json()["user_id"], ola.id);
    app.send(&anna, g.id, "już bez Oli").await;
    os.assert_quiet(Duration::from_millis(500)).await;
});

rt_test!(
    a_hundred_missed_events_all_arrive_once_after_reconnect,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let mut js = stream(&app, &jan, None).await;
        app.send(&anna, c.id, "zero").await;
        let last_id = js.next_non_presence().await.id.unwrap();
        drop(js);
        let mut sent = Vec::new();
        for i in 0..100 {
            sent.push(app.send(&anna, c.id, &format!("nr {i}")).await.id);
        }
        let mut js = stream(&app, &jan, Some(&last_id)).await;
        let mut got = Vec::new();
        while got.len() < 100 {
            let f = js.next_non_presence().await;
            assert_eq!(f.event.as_deref(), Some("new_message"), "{f:?}");
            got.push(f.json()["message"]["id"].as_i64().unwrap());
        }
        assert_eq!(got, sent, "every missed message once, in order");
        js.assert_quiet(Duration::from_millis(300)).await;
    }
);

/// A client that does not read its stream is cut off once its bounded
/// queue overflows (memory never grows with it); others are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_disconnected_and_others_are_unaffected() {
    use futures_util::StreamExt;

    let app = crate::helpers::spawn_app(crate::helpers::Db::Sqlite).await;
    let slow = app.user("Wolny").await;
    let fast = app.user("Szybki").await;
    let mut fs = stream(&app, &fast, None).await;
    // The slow client gets its headers and then stops reading.
    let res = slow
        .client
        .get(app.url("/api/messages/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A burst far beyond the queue (and the socket buffers): 2,000 events
    // of ~8 KB each.
    let big = "x".repeat(8 * 1024);
    for i in 0..2_000 {
        app.state
            .bus
            .publish(
                &[slow.id],
                shared::Event::Typing {
                    conversation_id: i,
                    user_id: fast.id,
                    user_name: big.clone(),
                },
            )
            .await;
    }
    // The fast client still gets its events.
    app.state
        .bus
        .publish(
            &[fast.id],
            shared::Event::ConversationCreated { conversation_id: 7 },
        )
        .await;
    let f = fs.next_non_presence().await;
    assert_eq!(f.event.as_deref(), Some("conversation_created"));
    // The slow one, reading at last, finds its stream ended early: it got
    // what was buffered, not all 2,000 events, then the end of the body.
    let mut body = res.bytes_stream();
    let mut typing = 0usize;
    let read_all = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = String::new();
        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else { break };
            buf.push_str(&String::from_utf8_lossy(&chunk));
            typing += buf.matches("event: typing").count();
            if let Some(i) = buf.rfind("\n\n") {
                buf.drain(..i + 2);
            }
        }
    })
    .await;
    assert!(read_all.is_ok(), "the slow stream was not closed");
    assert!(
        typing < 2_000,
        "all {typing} events were queued for a client that did not read"
    );
}

/// Short presence times, so expiry is seen within a test.
const SHORT_PRESENCE: [&str; 4] = ["--presence-ttl-secs", "2", "--presence-grace-secs", "1"];

/// A heartbeat alone keeps a user online for the TTL; then the contacts
/// hear "offline" and lookups agree, with last_seen recorded.
async fn a_heartbeat_expires_after_the_ttl(app: TestApp) {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    app.conversation(&anna, &[&jan], None).await;
    let mut anna_s = stream(&app, &anna, None).await;
    let r = app.post(&jan, "/api/messages/heartbeat", json!({})).await;
    assert_eq!(r.status(), 204);
    let f = anna_s.next_event().await;
    assert_eq!(f.event.as_deref(), Some("presence"));
    assert_eq!(f.json()["user_id"], jan.id);
    assert_eq!(f.json()["online"], true);
    let ids = format!("/api/users/presence?ids={}", jan.id);
    let p: Vec<PresenceDto> = app.get(&anna, &ids).await.json().await.unwrap();
    assert!(p[0].online);
    // No further heartbeat: offline once the 2 s TTL and the grace passed.
    let f = anna_s.next_event().await;
    assert_eq!(f.event.as_deref(), Some("presence"), "{f:?}");
    assert_eq!(f.json()["user_id"], jan.id);
    assert_eq!(f.json()["online"], false);
    let p: Vec<PresenceDto> = app.get(&anna, &ids).await.json().await.unwrap();
    assert!(!p[0].online, "{p:?}");
    assert!(p[0].last_seen.is_some());
    // Announced once.
    anna_s.assert_no_presence(Duration::from_secs(3)).await;
}

mod presence_ttl_expiry {
    use super::*;
    use crate::helpers::{Db, spawn_app_with, spawn_app_with_redis_and};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        a_heartbeat_expires_after_the_ttl(spawn_app_with(Db::Postgres, &SHORT_PRESENCE).await)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        a_heartbeat_expires_after_the_ttl(spawn_app_with(Db::Sqlite, &SHORT_PRESENCE).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis() {
        a_heartbeat_expires_after_the_ttl(
            spawn_app_with_redis_and(Db::Postgres, &SHORT_PRESENCE).await,
        )
        .await;
    }
}

/// An instance that dies without saying goodbye (SIGKILL) cannot announce
/// that its users left; another instance does, once their sessions expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_of_a_crashed_instance_are_announced_offline() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let app =
        crate::helpers::spawn_app_with_redis_and(crate::helpers::Db::Postgres, &SHORT_PRESENCE)
            .await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    app.conversation(&anna, &[&jan], None).await;
    let mut anna_s = stream(&app, &anna, None).await;

    // A second instance as a real process: same database, Redis and prefix.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut args = app.args.clone();
    let bind = args.iter().position(|a| a == "--bind").unwrap() + 1;
    args[bind] = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_messaging"))
        .args(&args)
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        if line.unwrap().starts_with("Messaging is running") {
            break;
        }
    }
    // Jan's stream on the doomed instance (his cookie is for 127.0.0.1).
    let mut js = sse::open(
        jan.client
            .get(format!("http://127.0.0.1:{port}/api/messages/stream")),
    )
    .await;
    assert_eq!(js.status, 200);
    let f = anna_s.next_event().await;
    assert_eq!(f.event.as_deref(), Some("presence"));
    assert_eq!(f.json()["user_id"], jan.id);
    assert_eq!(f.json()["online"], true);

    child.kill().unwrap();
    child.wait().unwrap();
    js.assert_closed(Duration::from_secs(5)).await;
    // Nobody renews Jan's session: within the TTL (plus a reap) the
    // surviving instance tells Anna, and lookups agree.
    let f = anna_s.next_event().await;
    assert_eq!(f.event.as_deref(), Some("presence"), "{f:?}");
    assert_eq!(f.json()["user_id"], jan.id);
    assert_eq!(f.json()["online"], false);
    let ids = format!("/api/users/presence?ids={}", jan.id);
    let p: Vec<PresenceDto> = app.get(&anna, &ids).await.json().await.unwrap();
    assert!(!p[0].online, "{p:?}");
    anna_s.assert_no_presence(Duration::from_secs(3)).await;
}
