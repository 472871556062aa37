//! The event bus across app instances (REDIS_URL).
//!
//! - Publish: ONE script call (one round trip, atomic) that, for every
//!   recipient, XADDs the event to `{prefix}user:{id}:stream` (capped at
//!   ~1,000 entries and 15 minutes; the key expires 20 minutes after the
//!   last event) and PUBLISHes `<stream entry id> <event JSON>` on
//!   `{prefix}user:{id}:events`. The JSON is made once per event and never
//!   parsed on the way to the client (see `Envelope`). Being one script,
//!   the entry ids of a user are published in id order even when several
//!   instances publish at once.
//! - Fan-out: ONE subscriber connection per process. A user's channel is
//!   subscribed when their first local stream opens and unsubscribed when the
//!   last one closes (a reconciler task compares "has local receivers" with
//!   "subscribed" and batches SUBSCRIBE/UNSUBSCRIBE); incoming messages are
//!   routed in memory to the bounded queue of each local stream of the user.
//! - Open: subscribe (acknowledged) first, then read the stream after
//!   `Last-Event-ID`, then live; live envelopes at or below the last replayed
//!   id are dropped, so there is no gap and no duplicate.
//! - Redis down: publishing logs, remembers that events were lost and
//!   returns at once; when Redis answers again every stream is told to
//!   `resync` and a replay floor makes clients resuming from before the
//!   outage resync too (events published during the outage are not in
//!   Redis; the messages themselves are in the database). A stream that was
//!   not subscribed while Redis was away gets `resync` once it is again.
//!
//! Never blocks a request on Redis for longer than `COMMAND_TIMEOUT`, never
//! holds a lock across an await.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use fred::prelude::*;
use fred::types::Message;
use shared::Event;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Notify, broadcast, watch};

use super::bus::{BoxFuture, Envelope, EventBus, Fanout, Live, Opened, StreamId, Subscription};
use super::local_bus::CHANNEL_CAPACITY;
use super::redis::{RedisConn, RedisError, Script};

/// Replay window: about this many events per user …
pub const REPLAY_MAX_EVENTS: u64 = 1_000;
/// … and none older than this.
pub const REPLAY_MAX_AGE: Duration = Duration::from_secs(15 * 60);
/// A user's stream key is dropped this long after their last event.
const STREAM_KEY_TTL: Duration = Duration::from_secs(20 * 60);
/// More entries than this after `Last-Event-ID` means beyond the window
/// (MAXLEN is approximate, so the cap may hold a few more than 1,000).
const REPLAY_READ_LIMIT: usize = 2_000;
/// How long opening a stream waits for its subscription to be acknowledged.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(2);
/// Retry delay of the subscription reconciler after a failure.
const RETRY: Duration = Duration::from_millis(500);

const PUBLISH: &str = r#"
-- KEYS[i]: stream of recipient i. ARGV[1]: event JSON, ARGV[2]: MAXLEN,
-- ARGV[3]: window ms, ARGV[4]: key TTL ms, ARGV[4 + i]: channel of recipient i.
local delivered = 0
for i, key in ipairs(KEYS) do
  local id = redis.call('XADD', key, 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[1])
  local ms = tonumber(string.match(id, '^(%d+)-'))
  redis.call('XTRIM', key, 'MINID', '~', string.format('%d', ms - tonumber(ARGV[3])))
  redis.call('PEXPIRE', key, ARGV[4])
  delivered = delivered + redis.call('PUBLISH', ARGV[4 + i], id .. ' ' .. ARGV[1])
end
return delivered
"#;

const OPEN: &str = r#"
-- KEYS[1]: stream, KEYS[2]: replay floor. ARGV[1]: last id, ARGV[2]: most entries.
-- Returns {first id or '', floor or '', id1, json1, id2, json2, ...}.
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local floor = redis.call('GET', KEYS[2])
local out = {first[1] and first[1][1] or '', floor or ''}
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
for _, e in ipairs(entries) do
  out[#out + 1] = e[1]
  out[#out + 1] = e[2][2]
end
return out
"#;

const LOST: &str = r#"
-- KEYS[1]: replay floor. ARGV[1]: TTL ms, ARGV[2]: control channel.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local floor = tonumber(redis.call('GET', KEYS[1]) or '0')
if now > floor then floor = now end
redis.call('SET', KEYS[1], string.format('%d', floor), 'PX', ARGV[1])
redis.call('PUBLISH', ARGV[2], 'resync')
return floor
"#;

struct Route {
    live: Fanout,
    /// True while the channel is subscribed on the current connection.
    ready: watch::Sender<bool>,
    /// A stream listened while the channel was not subscribed: it may have
    /// missed events and gets `resync` as soon as it is subscribed.
    stale: bool,
}

impl Route {
    fn new() -> Self {
        Self {
            live: Fanout::new(CHANNEL_CAPACITY),
            ready: watch::channel(false).0,
            stale: false,
        }
    }
}

struct Inner {
    redis: Arc<RedisConn>,
    routes: Mutex<HashMap<i64, Route>>,
    /// Users whose subscription the reconciler must look at.
    dirty: Mutex<HashSet<i64>>,
    /// Channels subscribed on the current connection (reconciler only).
    subscribed: Mutex<HashSet<i64>>,
    control_subscribed: AtomicBool,
    wake: Notify,
    control: String,
    /// A publish failed: events were lost until this is reported.
    lost: AtomicBool,
    /// Deliveries (event × recipient) lost to failed publishes (metrics).
    undelivered: AtomicU64,
    publish: Script,
    open: Script,
    lost_script: Script,
}

pub struct RedisBus {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Tells the reconciler when a stream's receiver is gone.
struct Release {
    inner: Weak<Inner>,
    user_id: i64,
}

impl Drop for Release {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.mark_dirty(self.user_id);
        }
    }
}

impl RedisBus {
    /// Starts the router, the subscription reconciler and the loss reporter.
    pub fn start(redis: Arc<RedisConn>) -> Self {
        let inner = Arc::new(Inner {
            control: redis.keys.control(),
            redis,
            routes: Mutex::new(HashMap::new()),
            dirty: Mutex::new(HashSet::new()),
            subscribed: Mutex::new(HashSet::new()),
            control_subscribed: AtomicBool::new(false),
            wake: Notify::new(),
            lost: AtomicBool::new(false),
            undelivered: AtomicU64::new(0),
            publish: Script::new(PUBLISH),
            open: Script::new(OPEN),
            lost_script: Script::new(LOST),
        });
        // Subscribed before anything can arrive.
        let messages = inner.redis.subscriber.message_rx();
        let reconnects = inner.redis.subscriber.reconnect_rx();
        tokio::spawn(route_messages(Arc::downgrade(&inner), messages));
        tokio::spawn(reconcile_forever(Arc::downgrade(&inner), reconnects));
        tokio::spawn(report_losses(Arc::downgrade(&inner)));
        inner.wake.notify_one();
        Self { inner }
    }
}

impl Inner {
    fn mark_dirty(&self, user_id: i64) {
        lock(&self.dirty).insert(user_id);
        self.wake.notify_one();
    }

    /// A receiver on the user's route (created if needed) and its readiness.
    fn attach(&self, user_id: i64) -> (Subscription, watch::Receiver<bool>) {
        let got = {
            let mut routes = lock(&self.routes);
            let r = routes.entry(user_id).or_insert_with(Route::new);
            (r.live.subscribe(), r.ready.subscribe())
        };
        self.mark_dirty(user_id);
        got
    }

    fn mark_stale(&self, user_id: i64) {
        if let Some(r) = lock(&self.routes).get_mut(&user_id) {
            if *r.ready.borrow() {
                // Subscribed meanwhile: nothing can be missed any more, but
                // the caller could not replay: tell the stream.
                r.live.send(&Arc::new(Envelope::resync()));
            } else {
                r.stale = true;
            }
        }
    }

    fn resync_all(&self) {
        let env = Arc::new(Envelope::resync());
        for r in lock(&self.routes).values_mut() {
            r.live.send(&env);
        }
    }

    fn deliver(&self, msg: Message) {
        let keys = &self.redis.keys;
        if *msg.channel == *self.control {
            self.resync_all();
            return;
        }
        let Some(user_id) = keys.user_of_channel(&msg.channel) else {
            return;
        };
        let Some(text) = msg.value.as_str() else {
            return;
        };
        // `<id> <json>`, as the publish script sends it.
        let Some(env) = text
            .split_once(' ')
            .and_then(|(id, json)| Envelope::from_json(id.to_owned(), json))
        else {
            tracing::warn!(user_id, "unreadable event on the bus");
            return;
        };
        if let Some(r) = lock(&self.routes).get_mut(&user_id) {
            // No stream left is fine: the reconciler unsubscribes soon.
            r.live.send(&Arc::new(env));
        }
    }

    /// After a reconnect the server holds no subscription of ours, and the
    /// streams may have missed events: resubscribe everything, then resync.
    fn connection_reset(&self) {
        lock(&self.subscribed).clear();
        self.control_subscribed.store(false, Ordering::SeqCst);
        let users: Vec<i64> = {
            let mut routes = lock(&self.routes);
            for r in routes.values_mut() {
                r.ready.send_replace(false);
                r.stale = true;
            }
            routes.keys().copied().collect()
        };
        lock(&self.dirty).extend(users);
    }

    /// Brings subscriptions in line with local receivers. False: retry later.
    async fn reconcile(&self) -> bool {
        let dirty: Vec<i64> = lock(&self.dirty).drain().collect();
        let sub = &self.redis.subscriber;
        if !sub.is_connected() {
            lock(&self.dirty).extend(dirty);
            return false;
        }
        let mut to_sub = Vec::new();
        let mut to_unsub = Vec::new();
        {
            let subscribed = lock(&self.subscribed);
            let mut routes = lock(&self.routes);
            for uid in dirty {
                let wanted = routes
                    .get(&uid)
                    .is_some_and(|r| r.live.receiver_count() > 0);
                match (wanted, subscribed.contains(&uid)) {
                    (true, false) => to_sub.push(uid),
                    (false, true) => {
                        // Openers from now on wait for the resubscription.
                        if let Some(r) = routes.get(&uid) {
                            r.ready.send_replace(false);
                        }
                        to_unsub.push(uid);
                    }
                    (false, false) => {
                        routes.remove(&uid);
                    }
                    (true, true) => {
                        // An unsubscribe that failed: still subscribed.
                        if let Some(r) = routes.get_mut(&uid)
                            && !*r.ready.borrow()
                        {
                            r.ready.send_replace(true);
                            if std::mem::take(&mut r.stale) {
                                r.live.send(&Arc::new(Envelope::resync()));
                            }
                        }
                    }
                }
            }
        }
        let keys = &self.redis.keys;
        let mut ok = true;
        let control = !self.control_subscribed.load(Ordering::SeqCst);
        if !to_sub.is_empty() || control {
            let mut channels: Vec<String> = to_sub.iter().map(|u| keys.channel(*u)).collect();
            if control {
                channels.push(keys.control());
            }
            match tokio::time::timeout(SUBSCRIBE_WAIT, sub.subscribe(channels)).await {
                Ok(Ok(())) => {
                    self.control_subscribed.store(true, Ordering::SeqCst);
                    lock(&self.subscribed).extend(to_sub.iter().copied());
                    let mut routes = lock(&self.routes);
                    for uid in &to_sub {
                        if let Some(r) = routes.get_mut(uid) {
                            r.ready.send_replace(true);
                            if std::mem::take(&mut r.stale) {
                                r.live.send(&Arc::new(Envelope::resync()));
                            }
                        }
                    }
                }
                failed => {
                    log_failure("subscribe", failed.map_err(|_| RedisError::Timeout));
                    lock(&self.dirty).extend(to_sub);
                    ok = false;
                }
            }
        }
        if !to_unsub.is_empty() {
            let channels: Vec<String> = to_unsub.iter().map(|u| keys.channel(*u)).collect();
            match tokio::time::timeout(SUBSCRIBE_WAIT, sub.unsubscribe(channels)).await {
                Ok(Ok(())) => {
                    let mut subscribed = lock(&self.subscribed);
                    let mut routes = lock(&self.routes);
                    let mut again = Vec::new();
                    for uid in to_unsub {
                        subscribed.remove(&uid);
                        match routes.get(&uid) {
                            Some(r) if r.live.receiver_count() > 0 => again.push(uid),
                            _ => {
                                routes.remove(&uid);
                            }
                        }
                    }
                    drop((subscribed, routes));
                    // Someone opened a stream while we unsubscribed.
                    lock(&self.dirty).extend(again);
                }
                failed => {
                    log_failure("unsubscribe", failed.map_err(|_| RedisError::Timeout));
                    lock(&self.dirty).extend(to_unsub);
                    ok = false;
                }
            }
        }
        if !lock(&self.dirty).is_empty() && ok {
            self.wake.notify_one();
        }
        ok
    }
}

fn log_failure(what: &str, r: Result<Result<(), fred::error::Error>, RedisError>) {
    match r {
        Ok(Err(e)) => tracing::warn!(error = %e, "redis {what} failed"),
        Err(e) => tracing::warn!(error = %e, "redis {what} failed"),
        Ok(Ok(())) => {}
    }
}

async fn route_messages(inner: Weak<Inner>, mut rx: broadcast::Receiver<Message>) {
    loop {
        let got = rx.recv().await;
        let Some(inner) = inner.upgrade() else { return };
        match got {
            Ok(msg) => inner.deliver(msg),
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "event router fell behind; every stream resyncs");
                inner.resync_all();
            }
            Err(RecvError::Closed) => return,
        }
    }
}

async fn reconcile_forever(inner: Weak<Inner>, mut reconnects: broadcast::Receiver<Server>) {
    let mut sweep = tokio::time::interval(Duration::from_secs(30));
    let mut retry = false;
    loop {
        let wake = match inner.upgrade() {
            Some(i) => i,
            None => return,
        };
        tokio::select! {
            _ = wake.wake.notified() => {}
            r = reconnects.recv() => match r {
                Ok(_) | Err(RecvError::Lagged(_)) => {
                    tracing::info!("redis subscriber connected; resubscribing");
                    wake.connection_reset();
                }
                Err(RecvError::Closed) => return,
            },
            // Receivers handed out by `subscribe` have no release hook.
            _ = sweep.tick() => {
                let users: Vec<i64> = lock(&wake.routes).keys().copied().collect();
                lock(&wake.dirty).extend(users);
            }
            _ = tokio::time::sleep(RETRY), if retry => {}
        }
        retry = !wake.reconcile().await;
    }
}

/// Once Redis answers after failed publishes: raise the replay floor and
/// tell every stream of every instance to resync.
async fn report_losses(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        if !inner.lost.load(Ordering::SeqCst) || !inner.redis.client.is_connected() {
            continue;
        }
        inner.lost.store(false, Ordering::SeqCst);
        let keys = &inner.redis.keys;
        let r: Result<i64, _> = inner
            .redis
            .run(
                &inner.lost_script,
                vec![keys.replay_floor()],
                vec![STREAM_KEY_TTL.as_millis().to_string(), keys.control()],
            )
            .await;
        match r {
            Ok(floor) => tracing::info!(floor, "events lost while redis was away: streams resync"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot report lost events yet");
                inner.lost.store(true, Ordering::SeqCst);
            }
        }
    }
}

impl EventBus for RedisBus {
    fn publish<'a>(&'a self, recipients: &'a [i64], event: Event) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut users = recipients.to_vec();
            users.sort_unstable();
            users.dedup();
            if users.is_empty() {
                return;
            }
            let json = Envelope::new(String::new(), &event).data;
            let keys = &self.inner.redis.keys;
            let streams: Vec<String> = users.iter().map(|u| keys.stream(*u)).collect();
            let mut args = Vec::with_capacity(users.len() + 4);
            args.push(json.to_string());
            args.push(REPLAY_MAX_EVENTS.to_string());
            args.push(REPLAY_MAX_AGE.as_millis().to_string());
            args.push(STREAM_KEY_TTL.as_millis().to_string());
            args.extend(users.iter().map(|u| keys.channel(*u)));
            let r: Result<i64, _> = self
                .inner
                .redis
                .run(&self.inner.publish, streams, args)
                .await;
            if let Err(e) = r {
                // Stored already; clients resync once Redis is back.
                self.inner.lost.store(true, Ordering::SeqCst);
                self.inner
                    .undelivered
                    .fetch_add(users.len() as u64, Ordering::Relaxed);
                tracing::warn!(error = %e, kind = event.kind(), recipients = users.len(), "event not published");
            }
        })
    }

    fn open<'a>(&'a self, user_id: i64, last_event_id: Option<&'a str>) -> BoxFuture<'a, Opened> {
        Box::pin(async move {
            let inner = &self.inner;
            let (rx, mut ready) = inner.attach(user_id);
            let live = Live::new(rx).with_release(Release {
                inner: Arc::downgrade(inner),
                user_id,
            });
            let subscribed = if inner.redis.subscriber.is_connected() {
                matches!(
                    tokio::time::timeout(SUBSCRIBE_WAIT, ready.wait_for(|r| *r)).await,
                    Ok(Ok(_))
                )
            } else {
                *ready.borrow()
            };
            let opened = |resync, live| Opened {
                replay: Vec::new(),
                resync,
                live,
            };
            if !subscribed {
                // Live delivery starts later: resync then. No replay now.
                inner.mark_stale(user_id);
                return opened(last_event_id.is_some(), live);
            }
            let Some(last) = last_event_id else {
                return opened(false, live);
            };
            let Some(last) = StreamId::parse(last.trim()) else {
                return opened(true, live);
            };
            let keys = &inner.redis.keys;
            let reply: Result<Vec<String>, _> = inner
                .redis
                .run(
                    &inner.open,
                    vec![keys.stream(user_id), keys.replay_floor()],
                    vec![last.to_string(), REPLAY_READ_LIMIT.to_string()],
                )
                .await;
            let reply = match reply {
                Ok(r) if r.len() >= 2 && r.len() % 2 == 0 => r,
                Ok(r) => {
                    tracing::warn!(len = r.len(), "unexpected replay reply");
                    return opened(true, live);
                }
                Err(e) => {
                    tracing::warn!(error = %e, user_id, "replay unavailable; stream resyncs");
                    return opened(true, live);
                }
            };
            let first = StreamId::parse(&reply[0]);
            let floor = reply[1].parse::<u64>().ok();
            let entries = &reply[2..];
            // Missing or trimmed past `last` (or recreated after a Redis
            // restart), events lost in an outage, or too many: resync.
            let beyond = first.is_none_or(|f| f > last)
                || floor.is_some_and(|f| last.ms <= f)
                || entries.len() / 2 >= REPLAY_READ_LIMIT;
            if beyond {
                return opened(true, live);
            }
            let mut replay = Vec::with_capacity(entries.len() / 2);
            let mut through = last;
            for pair in entries.chunks_exact(2) {
                let Some(id) = StreamId::parse(&pair[0]) else {
                    continue;
                };
                through = through.max(id);
                match Envelope::from_json(pair[0].clone(), pair[1].as_str()) {
                    Some(env) => replay.push(Arc::new(env)),
                    None => tracing::warn!(user_id, "unreadable event in replay; skipped"),
                }
            }
            Opened {
                replay,
                resync: false,
                live: live.skip_through(through),
            }
        })
    }

    fn subscribe(&self, user_id: i64) -> Subscription {
        self.inner.attach(user_id).0
    }

    fn undelivered(&self) -> u64 {
        self.inner.undelivered.load(Ordering::Relaxed)
    }
}
