//! Real time through Redis across several app instances: fan-out from one
//! instance to streams on another, replay by Last-Event-ID wherever the
//! client reconnects, no gap and no duplicate under load, the typing
//! throttle and presence across instances, one round trip per publish, one
//! subscription per locally connected user, and Redis going away and coming
//! back (on a redis-server of the test's own).
//!
//! The shared Redis (127.0.0.1:6379, or TEST_REDIS_URL) is used with a key
//! prefix per test, deleted at the end.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use shared::Event;
use shared::dto::messages::MessagePage;
use shared::dto::users::PresenceDto;

use crate::helpers::{Db, TestApp, TestRedis, spawn_app_with, spawn_app_with_redis};
use crate::sse::{Frame, SseStream};
use crate::stream::stream;

/// `redis-cli -u url args…`, its output.
fn cli(url: &str, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-u")
        .arg(url)
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Subscribers of a channel (PUBSUB NUMSUB).
fn numsub(url: &str, channel: &str) -> i64 {
    let out = cli(url, &["PUBSUB", "NUMSUB", channel]);
    out.lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(-1)
}

/// `calls` of one command in INFO commandstats.
fn calls(stats: &str, cmd: &str) -> u64 {
    let needle = format!("cmdstat_{cmd}:calls=");
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A redis-server of the test's own, so it can be stopped and restarted.
pub(crate) struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port")
    }

    /// Not started yet: `start` brings it up on `port`.
    pub fn on(port: u16) -> Self {
        Self { port, child: None }
    }

    pub(crate) fn started() -> Self {
        let mut s = Self::on(Self::free_port());
        s.start();
        s
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn start(&mut self) {
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while cli(&self.url(), &["PING"]).trim() != "PONG" {
            assert!(Instant::now() < deadline, "redis-server on {port} answers");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub async fn app_on(server_url: &str) -> TestApp {
    let redis = TestRedis::new(server_url);
    let args = redis.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut app = spawn_app_with(Db::Postgres, &args).await;
    app.redis = Some(redis);
    app
}

/// The next frame that is not presence (a resync included).
async fn next_content_or_resync(s: &mut SseStream) -> Frame {
    s.next_non_presence().await
}

/// The next frame that is neither presence nor a bus-level resync.
async fn next_content(s: &mut SseStream) -> Frame {
    loop {
        let f = s.next_non_presence().await;
        if f.event.as_deref() != Some("resync") {
            return f;
        }
    }
}

/// Waits (up to `wait`) for an event named `name`.
async fn wait_for(s: &mut SseStream, name: &str, wait: Duration) -> Frame {
    tokio::time::timeout(wait, async {
        loop {
            let f = s.next_event().await;
            if f.event.as_deref() == Some(name) {
                return f;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("a {name} event within {wait:?}"))
}

fn seq(f: &Frame) -> i64 {
    assert_eq!(f.event.as_deref(), Some("conversation_created"), "{f:?}");
    f.json()["conversation_id"]
        .as_i64()
        .expect("a sequence number")
}

fn ev(n: i64) -> Event {
    Event::ConversationCreated { conversation_id: n }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_on_one_instance_receives_a_message_sent_through_another() {
    let a = spawn_app_with_redis(Db::Postgres).await;
    let b = a.spawn_peer().await;
    let anna = a.user("Anna").await;
    let jan = a.user("Jan").await;
    let ewa = a.user("Ewa").await;
    let c = a.conversation(&anna, &[&jan], None).await;
    let mut on_b = stream(&b, &jan, None).await;
    let mut ewa_on_b = stream(&b, &ewa, None).await;
    let mut on_a = stream(&a, &jan, None).await;
    let m = a.send(&anna, c.id, "z A do B").await;
    for s in [&mut on_b, &mut on_a] {
        let f = s.next_non_presence().await;
        assert_eq!(f.event.as_deref(), Some("new_message"));
        assert_eq!(f.json()["message"]["id"], m.id);
    }
    // The same id on both instances: it is the Redis stream entry id.
    let m2 = b.send(&anna, c.id, "z B").await;
    let x = on_a.next_non_presence().await;
    let y = on_b.next_non_presence().await;
    assert_eq!(x.json()["message"]["id"], m2.id);
    assert_eq!(x.id, y.id);
    ewa_on_b.assert_quiet(Duration::from_millis(300)).await;
    on_b.assert_quiet(Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_to_another_instance_replays_what_was_missed() {
    let a = spawn_app_with_redis(Db::Postgres).await;
    let b = a.spawn_peer().await;
    let anna = a.user("Anna").await;
    let jan = a.user("Jan").await;
    let c = a.conversation(&anna, &[&jan], None).await;
    let mut js = stream(&b, &jan, None).await;
    a.send(&anna, c.id, "jeden").await;
    let last = js.next_non_presence().await.id.expect("an id");
    drop(js);
    // Published on A while Jan is away from B.
    let m2 = a.send(&anna, c.id, "dwa").await;
    let m3 = a.send(&anna, c.id, "trzy").await;
    let mut js = stream(&b, &jan, Some(&last)).await;
    assert_eq!(js.next_non_presence().await.json()["message"]["id"], m2.id);
    let f3 = js.next_non_presence().await;
    assert_eq!(f3.json()["message"]["id"], m3.id);
    let m4 = a.send(&anna, c.id, "cztery").await;
    assert_eq!(js.next_non_presence().await.json()["message"]["id"], m4.id);
    js.assert_quiet(Duration::from_millis(300)).await;
    // And back on A from the same point.
    let mut ja = stream(&a, &jan, f3.id.as_deref()).await;
    assert_eq!(ja.next_non_presence().await.json()["message"]["id"], m4.id);
    ja.assert_quiet(Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_and_live_meet_without_gap_or_duplicate_under_load() {
    let app = spawn_app_with_redis(Db::Postgres).await;
    let peer = app.spawn_peer().await;
    let jan = app.user("Jan").await;
    let total = 600;
    let bus = app.state.bus.clone();
    let peer_bus = peer.state.bus.clone();
    let uid = jan.id;
    // Two instances publish alternately to the same user.
    let publisher = tokio::spawn(async move {
        for n in 1..=total {
            let b = if n % 2 == 0 { &bus } else { &peer_bus };
            b.publish(&[uid], ev(n)).await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let mut got: Vec<i64> = Vec::new();
    let mut last: Option<String> = None;
    // Reconnect every 10 events, alternating instances, while publishing goes on.
    for round in 0.. {
        let on = if round % 2 == 0 { &app } else { &peer };
        let mut s = stream(on, &jan, last.as_deref()).await;
        for _ in 0..10 {
            let f = s.next_event().await;
            assert_ne!(f.event.as_deref(), Some("resync"), "within the window");
            got.push(seq(&f));
            last = f.id.clone();
            if *got.last().unwrap() == total {
                break;
            }
        }
        if *got.last().unwrap_or(&0) == total {
            break;
        }
    }
    publisher.await.unwrap();
    let first = got[0];
    let want: Vec<i64> = (first..=total).collect();
    assert_eq!(got, want, "contiguous, each once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_event_id_trimmed_from_the_window_gets_resync() {
    let app = spawn_app_with_redis(Db::Postgres).await;
    let jan = app.user("Jan").await;
    let bus = app.state.bus.clone();
    let mut s = stream(&app, &jan, None).await;
    bus.publish(&[jan.id], ev(1)).await;
    let oldest = s.next_event().await.id.expect("id");
    drop(s);
    for n in 2..1190 {
        bus.publish(&[jan.id], ev(n)).await;
    }
    let mut s = stream(&app, &jan, None).await;
    bus.publish(&[jan.id], ev(1190)).await;
    let recent = s.next_event().await.id.expect("id");
    drop(s);
    for n in 1191..=1200 {
        bus.publish(&[jan.id], ev(n)).await;
    }
    let mut s = stream(&app, &jan, Some(&recent)).await;
    for n in 1191..=1200 {
        assert_eq!(seq(&s.next_event().await), n);
    }
    let mut s = stream(&app, &jan, Some(&oldest)).await;
    assert_eq!(s.next_event().await.event.as_deref(), Some("resync"));
    // A well-formed id of a stream that does not exist (never had events,
    // or lost in a Redis restart): resync too.
    let ola = app.user("Ola").await;
    let mut s = stream(&app, &ola, Some(&recent)).await;
    assert_eq!(s.next_event().await.event.as_deref(), Some("resync"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_is_throttled_across_instances() {
    let a = spawn_app_with_redis(Db::Postgres).await;
    let b = a.spawn_peer().await;
    let anna = a.user("Anna").await;
    let jan = a.user("Jan").await;
    let c = a.conversation(&anna, &[&jan], None).await;
    let mut js = stream(&a, &jan, None).await;
    let path = format!("/api/conversations/{}/typing", c.id);
    for app in [&a, &b, &a, &b] {
        assert_eq!(app.post(&anna, &path, json!({})).await.status(), 204);
    }
    assert_eq!(
        js.next_non_presence().await.event.as_deref(),
        Some("typing")
    );
    js.assert_quiet(Duration::from_millis(700)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(b.post(&anna, &path, json!({})).await.status(), 204);
    assert_eq!(
        js.next_non_presence().await.event.as_deref(),
        Some("typing")
    );
}

async fn presence_of(app: &TestApp, who: &crate::helpers::TestUser, id: i64) -> PresenceDto {
    let r = app.get(who, &format!("/api/users/presence?ids={id}")).await;
    assert_eq!(r.status(), 200);
    let mut v: Vec<PresenceDto> = r.json().await.unwrap();
    v.pop().expect("one entry")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_shared_by_the_instances_and_does_not_flap() {
    let a = spawn_app_with_redis(Db::Postgres).await;
    let b = a.spawn_peer().await;
    let anna = a.user("Anna").await;
    let jan = a.user("Jan").await;
    a.conversation(&anna, &[&jan], None).await;
    let mut jan_on_b = stream(&b, &jan, None).await;
    assert!(!presence_of(&b, &jan, anna.id).await.online);
    let anna_on_a = stream(&a, &anna, None).await;
    let f = wait_for(&mut jan_on_b, "presence", Duration::from_secs(5)).await;
    assert_eq!(f.json()["user_id"], anna.id);
    assert_eq!(f.json()["online"], true);
    assert!(
        presence_of(&b, &jan, anna.id).await.online,
        "online on A, seen from B"
    );
    // A second tab on B that closes: Anna still has A, nobody hears "offline".
    let anna_on_b = stream(&b, &anna, None).await;
    drop(anna_on_b);
    let quiet_until = Instant::now() + Duration::from_secs(8);
    while let Ok(f) = tokio::time::timeout_at(quiet_until.into(), jan_on_b.next_event()).await {
        assert_ne!(f.event.as_deref(), Some("presence"), "no flapping: {f:?}");
    }
    assert!(presence_of(&b, &jan, anna.id).await.online);
    assert!(presence_of(&a, &jan, anna.id).await.online);
    // Her last stream closes: one "offline", with last_seen, seen everywhere.
    drop(anna_on_a);
    let f = wait_for(&mut jan_on_b, "presence", Duration::from_secs(15)).await;
    assert_eq!(f.json()["online"], false);
    assert!(f.json()["last_seen"].is_string());
    let p = presence_of(&b, &jan, anna.id).await;
    assert!(!p.online && p.last_seen.is_some());
    while let Ok(f) = tokio::time::timeout(Duration::from_millis(1500), jan_on_b.next_event()).await
    {
        assert_ne!(
            f.event.as_deref(),
            Some("presence"),
            "announced once: {f:?}"
        );
    }
    // A heartbeat through B makes her online for A too.
    let r = b.post(&anna, "/api/messages/heartbeat", json!({})).await;
    assert_eq!(r.status(), 204);
    assert!(presence_of(&a, &jan, anna.id).await.online);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_subscription_per_locally_connected_user() {
    let app = spawn_app_with_redis(Db::Postgres).await;
    let jan = app.user("Jan").await;
    let redis = app.redis.as_ref().unwrap();
    let channel = format!("{}user:{}:events", redis.prefix, jan.id);
    assert_eq!(numsub(&redis.url, &channel), 0);
    let one = stream(&app, &jan, None).await;
    let two = stream(&app, &jan, None).await;
    assert_eq!(
        numsub(&redis.url, &channel),
        1,
        "one connection for both tabs"
    );
    drop(one);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(numsub(&redis.url, &channel), 1, "a tab is still open");
    drop(two);
    let deadline = Instant::now() + Duration::from_secs(10);
    while numsub(&redis.url, &channel) != 0 {
        assert!(
            Instant::now() < deadline,
            "unsubscribed after the last stream"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_to_many_recipients_is_one_round_trip() {
    // A server of its own: commandstats count every client's commands.
    let server = RedisServer::started();
    let app = app_on(&server.url()).await;
    let bus = app.state.bus.clone();
    // Loads the script (EVALSHA fails with NOSCRIPT, then EVAL).
    bus.publish(&[1], ev(0)).await;
    let recipients: Vec<i64> = (100..130).collect();
    let before = cli(&server.url(), &["INFO", "commandstats"]);
    bus.publish(&recipients, ev(1)).await;
    let after = cli(&server.url(), &["INFO", "commandstats"]);
    let delta = |cmd: &str| calls(&after, cmd) - calls(&before, cmd);
    assert_eq!(
        delta("evalsha") + delta("eval"),
        1,
        "one call for 30 recipients"
    );
    assert_eq!(delta("xadd"), 30, "one stream entry each");
    assert_eq!(delta("publish"), 30, "one channel message each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_keeps_sending_and_streams_recover() {
    let mut server = RedisServer::started();
    let app = app_on(&server.url()).await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let mut js = stream(&app, &jan, None).await;
    app.send(&anna, c.id, "przed").await;
    let before = next_content(&mut js).await.id.expect("id");

    server.stop();
    // Sending is stored and answered quickly; so are the other signals.
    let t = Instant::now();
    let during = app.send(&anna, c.id, "podczas awarii").await;
    let path = format!("/api/conversations/{}/typing", c.id);
    assert_eq!(app.post(&anna, &path, json!({})).await.status(), 204);
    assert_eq!(
        app.post(&anna, "/api/messages/heartbeat", json!({}))
            .await
            .status(),
        204
    );
    let r = app
        .get(&anna, &format!("/api/users/presence?ids={}", jan.id))
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "requests never hang on redis: {:?}",
        t.elapsed()
    );
    let page: MessagePage = app
        .get(&jan, &format!("/api/conversations/{}/messages", c.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page.items[0].id, during.id, "stored");

    server.start();
    // The open stream is told to refetch once Redis is back …
    wait_for(&mut js, "resync", Duration::from_secs(15)).await;
    // … and gets live events again.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let m = app.send(&anna, c.id, "po").await;
        let f = tokio::time::timeout(Duration::from_secs(2), next_content(&mut js)).await;
        if let Ok(f) = f {
            assert_eq!(f.json()["message"]["id"], m.id);
            break f;
        }
        assert!(Instant::now() < deadline, "live again after the restart");
    };
    assert!(after.id.is_some());
    // A client resuming from before the outage is told to resync: what was
    // published meanwhile never reached Redis (the message is in the database).
    let mut again = stream(&app, &jan, Some(&before)).await;
    assert_eq!(again.next_event().await.event.as_deref(), Some("resync"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_starts_without_redis_and_catches_up() {
    let mut server = RedisServer::on(RedisServer::free_port());
    let app = app_on(&server.url()).await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let t = Instant::now();
    let mut js = stream(&app, &jan, None).await;
    app.send(&anna, c.id, "bez redisa").await;
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    server.start();
    // Subscribed once Redis answers, and told it may have missed events.
    wait_for(&mut js, "resync", Duration::from_secs(15)).await;
    // Live delivery comes back by itself. The subscriber may reconnect once
    // more while Redis settles (then the stream says `resync` again, and a
    // real client refetches): try a few messages until one arrives live.
    let mut delivered = false;
    let mut sent = Vec::new();
    for attempt in 0..5 {
        sent.push(
            app.send(&anna, c.id, &format!("z redisem {attempt}"))
                .await
                .id,
        );
        let f = next_content_or_resync(&mut js).await;
        if f.event.as_deref() == Some("new_message") {
            let id = f.json()["message"]["id"].as_i64().unwrap_or_default();
            assert!(sent.contains(&id), "{f:?}");
            delivered = true;
            break;
        }
    }
    assert!(
        delivered,
        "live delivery did not come back after Redis started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_resyncs_when_the_subscriber_connection_was_lost() {
    let server = RedisServer::started();
    let app = app_on(&server.url()).await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let mut js = stream(&app, &jan, None).await;
    // Only the subscriber connection drops: nothing failed to publish, but
    // the stream cannot know what it missed meanwhile.
    let killed = cli(&server.url(), &["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert_eq!(killed.trim(), "1", "one subscriber connection per process");
    wait_for(&mut js, "resync", Duration::from_secs(10)).await;
    let m = app.send(&anna, c.id, "po ponownym połączeniu").await;
    assert_eq!(next_content(&mut js).await.json()["message"]["id"], m.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_publishes_make_clients_resync_even_when_redis_kept_its_data() {
    let server = RedisServer::started();
    let app = app_on(&server.url()).await;
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let mut js = stream(&app, &jan, None).await;
    app.send(&anna, c.id, "przed").await;
    let before = next_content(&mut js).await.id.expect("id");
    // Writes stall: publishing times out (the subscriber stays connected).
    cli(&server.url(), &["CLIENT", "PAUSE", "2500", "WRITE"]);
    let t = Instant::now();
    app.send(&anna, c.id, "w trakcie").await;
    assert!(
        t.elapsed() < Duration::from_millis(2400),
        "{:?}",
        t.elapsed()
    );
    // Once Redis answers: every stream is told to refetch …
    wait_for(&mut js, "resync", Duration::from_secs(10)).await;
    // … and so is a client resuming from before the failure, although the
    // replay log itself was kept.
    let mut again = stream(&app, &jan, Some(&before)).await;
    assert_eq!(again.next_event().await.event.as_deref(), Some("resync"));
    let m = app.send(&anna, c.id, "po").await;
    assert_eq!(next_content(&mut again).await.json()["message"]["id"], m.id);
}
