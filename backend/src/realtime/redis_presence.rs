//! Presence across instances, in Redis. Per user:
//!
//! - `{prefix}presence:{id}` exists while the user is online: what lookups
//!   read (MGET, one round trip for up to 50 ids). Its TTL follows the
//!   sessions below plus a short linger.
//! - `{prefix}presence:{id}:sessions`, a sorted set of live sessions scored
//!   by expiry: one member per instance with open streams of the user
//!   (renewed every third of the TTL by that instance, expiring after the
//!   TTL) and `hb` for a heartbeat within the TTL.
//!
//! And one sorted set for everyone, `{prefix}presence:online`: the users
//! announced online, scored by when their last session expires. It is the
//! truth about what others were told: a user is announced online when
//! added to it and offline when removed. Joining, leaving and reaping are
//! scripts, so exactly one instance sees each change. An instance leaves
//! for a user only after its last local stream has been closed for the
//! grace period, so a reconnect, to this instance or another, does not flap.
//! Every instance reaps users whose sessions all expired — the users of a
//! crashed instance, whose sessions nobody renews — so they are announced
//! offline within about the TTL. Redis down: lookups fall back to what
//! this instance knows, announcements wait until Redis answers again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fred::prelude::*;

use super::bus::BoxFuture;
use super::presence::{Change, PresenceTimes};
use super::redis::{RedisConn, Script};

/// How long the presence key outlives the last session (lookups between
/// the expiry and the next reap still say online; the reap deletes it).
const LINGER: Duration = Duration::from_secs(10);
/// Users per script call when renewing, and per reap.
const BATCH: usize = 500;
const HEARTBEAT_MEMBER: &str = "hb";

const JOIN: &str = r#"
-- KEYS[1]: the online set; then pairs (presence key, sessions key).
-- ARGV[1]: member, ARGV[2]: session TTL ms, ARGV[3]: linger ms, then the
-- user id of each pair. Returns the pair numbers (1-based) whose user just
-- came online.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local created = {}
for i = 2, #KEYS, 2 do
  local p, s, k = KEYS[i], KEYS[i + 1], i / 2
  redis.call('ZADD', s, now + tonumber(ARGV[2]), ARGV[1])
  redis.call('ZREMRANGEBYSCORE', s, '-inf', now)
  local last = redis.call('ZRANGE', s, -1, -1, 'WITHSCORES')
  local ttl = math.floor(tonumber(last[2]) - now + tonumber(ARGV[3]))
  redis.call('PEXPIRE', s, ttl)
  redis.call('SET', p, '1', 'PX', ttl)
  if redis.call('ZADD', KEYS[1], last[2], ARGV[3 + k]) == 1 then
    created[#created + 1] = k
  end
end
return created
"#;

const LEAVE: &str = r#"
-- KEYS[1]: the online set; then pairs (presence key, sessions key).
-- ARGV[1]: linger ms; for pair k ARGV[3k-1]: member, ARGV[3k]: '1' to
-- remove it only once expired, ARGV[3k+1]: user id.
-- Per pair: 1 = the user just went offline, 0 = nothing to say,
-- -n = not expired yet (renewed elsewhere), look again in n ms.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 2, #KEYS, 2 do
  local p, s, k = KEYS[i], KEYS[i + 1], i / 2
  local member, only_expired, uid = ARGV[3 * k - 1], ARGV[3 * k], ARGV[3 * k + 1]
  local score = redis.call('ZSCORE', s, member)
  local r = 0
  if only_expired == '1' and score and tonumber(score) > now then
    r = -math.ceil(tonumber(score) - now)
  else
    redis.call('ZREM', s, member)
    redis.call('ZREMRANGEBYSCORE', s, '-inf', now)
    local last = redis.call('ZRANGE', s, -1, -1, 'WITHSCORES')
    if #last == 0 then
      redis.call('DEL', s, p)
      r = redis.call('ZREM', KEYS[1], uid)
    else
      local ttl = math.floor(tonumber(last[2]) - now + tonumber(ARGV[1]))
      redis.call('PEXPIRE', s, ttl)
      redis.call('PEXPIRE', p, ttl)
      redis.call('ZADD', KEYS[1], last[2], uid)
    end
  end
  out[#out + 1] = r
end
return out
"#;

const REAP: &str = r#"
-- KEYS[1]: the online set. ARGV[1]: the key prefix, ARGV[2]: most users.
-- Users whose every session expired (nobody renewed them: their instance
-- crashed or lost Redis) leave the online set; returns their ids. The
-- per-user keys are derived here, so this suits a single Redis, not a
-- cluster.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local gone = {}
for _, uid in ipairs(due) do
  local p = ARGV[1] .. 'presence:' .. uid
  local s = p .. ':sessions'
  redis.call('ZREMRANGEBYSCORE', s, '-inf', now)
  local last = redis.call('ZRANGE', s, -1, -1, 'WITHSCORES')
  if #last == 0 then
    redis.call('DEL', s, p)
    redis.call('ZREM', KEYS[1], uid)
    gone[#gone + 1] = tonumber(uid)
  else
    redis.call('ZADD', KEYS[1], last[2], uid)
  end
end
return gone
"#;

/// What this instance knows of a user.
#[derive(Debug, Default)]
struct Local {
    streams: u32,
    /// When the last local stream closed.
    gone_since: Option<Instant>,
    /// When a heartbeat received here runs out.
    hb_until: Option<Instant>,
}

impl Local {
    fn live(&self, now: Instant) -> bool {
        self.streams > 0 || self.gone_since.is_some() || self.hb_until.is_some_and(|t| t > now)
    }
}

struct Refresh {
    last: Instant,
    was_connected: bool,
    /// A join failed: renew at the next sweep.
    due: bool,
}

struct Inner {
    redis: Arc<RedisConn>,
    /// This instance's member in every sessions set.
    member: String,
    local: Mutex<HashMap<i64, Local>>,
    refresh: Mutex<Refresh>,
    join: Script,
    leave: Script,
    reap: Script,
    times: PresenceTimes,
}

pub struct RedisPresence {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn ints(v: Value) -> Vec<i64> {
    match v {
        Value::Null => Vec::new(),
        v => v.into_array().iter().filter_map(Value::as_i64).collect(),
    }
}

impl RedisPresence {
    pub fn new(redis: Arc<RedisConn>, times: PresenceTimes) -> Self {
        Self {
            inner: Arc::new(Inner {
                redis,
                member: format!("i:{}", uuid::Uuid::new_v4()),
                local: Mutex::new(HashMap::new()),
                refresh: Mutex::new(Refresh {
                    last: Instant::now(),
                    was_connected: false,
                    due: false,
                }),
                join: Script::new(JOIN),
                leave: Script::new(LEAVE),
                reap: Script::new(REAP),
                times,
            }),
        }
    }

    pub fn stream_opened(&self, user_id: i64) -> Option<BoxFuture<'static, Option<Change>>> {
        let first = {
            let mut local = lock(&self.inner.local);
            let e = local.entry(user_id).or_default();
            e.streams += 1;
            e.gone_since = None;
            e.streams == 1
        };
        if !first {
            return None;
        }
        let inner = self.inner.clone();
        Some(Box::pin(async move {
            let member = inner.member.clone();
            inner.join(&[user_id], &member).await.pop()
        }))
    }

    pub fn stream_closed(&self, user_id: i64) {
        let mut local = lock(&self.inner.local);
        if let Some(e) = local.get_mut(&user_id) {
            e.streams = e.streams.saturating_sub(1);
            if e.streams == 0 {
                e.gone_since = Some(Instant::now());
            }
        }
    }

    pub async fn heartbeat(&self, user_id: i64) -> Option<Change> {
        lock(&self.inner.local).entry(user_id).or_default().hb_until =
            Some(Instant::now() + self.inner.times.ttl);
        self.inner.join(&[user_id], HEARTBEAT_MEMBER).await.pop()
    }

    pub async fn sweep(&self) -> Vec<Change> {
        let inner = &self.inner;
        let now = Instant::now();
        // (user, member, only once expired)
        let mut leaves: Vec<(i64, String, bool)> = Vec::new();
        {
            let mut local = lock(&inner.local);
            for (uid, e) in local.iter_mut() {
                if e.streams == 0
                    && e.gone_since
                        .is_some_and(|g| now.duration_since(g) >= inner.times.grace)
                {
                    e.gone_since = None;
                    leaves.push((*uid, inner.member.clone(), false));
                }
                if e.hb_until.is_some_and(|t| t <= now) {
                    e.hb_until = None;
                    leaves.push((*uid, HEARTBEAT_MEMBER.to_owned(), true));
                }
            }
            local.retain(|_, e| e.live(now));
        }
        let mut changes = Vec::new();
        if !leaves.is_empty() {
            changes.extend(inner.leave(&leaves, now).await);
        }
        let connected = inner.redis.client.is_connected();
        let due = {
            let mut r = lock(&inner.refresh);
            let due =
                r.due || (connected && !r.was_connected) || r.last.elapsed() >= inner.times.ttl / 3;
            r.was_connected = connected;
            if due && connected {
                r.last = Instant::now();
                r.due = false;
            }
            due && connected
        };
        if due {
            let users: Vec<i64> = lock(&inner.local)
                .iter()
                .filter(|(_, e)| e.streams > 0)
                .map(|(u, _)| *u)
                .collect();
            for chunk in users.chunks(BATCH) {
                changes.extend(inner.join(chunk, &inner.member).await);
            }
        }
        if connected {
            changes.extend(inner.reap().await);
        }
        changes
    }

    pub async fn online(&self, ids: &[i64]) -> Vec<bool> {
        let keys: Vec<String> = ids
            .iter()
            .map(|u| self.inner.redis.keys.presence(*u))
            .collect();
        let redis = &self.inner.redis;
        match redis
            .call(redis.client.mget::<Vec<Option<String>>, _>(keys))
            .await
        {
            Ok(v) if v.len() == ids.len() => v.iter().map(Option::is_some).collect(),
            other => {
                if let Err(e) = other {
                    tracing::warn!(error = %e, "presence lookup fell back to this instance");
                }
                let now = Instant::now();
                let local = lock(&self.inner.local);
                ids.iter()
                    .map(|id| local.get(id).is_some_and(|e| e.live(now)))
                    .collect()
            }
        }
    }
}

impl Inner {
    /// Adds `member` to the users' sessions; the users who just came online.
    async fn join(&self, users: &[i64], member: &str) -> Vec<Change> {
        if users.is_empty() {
            return Vec::new();
        }
        let keys = &self.redis.keys;
        let k: Vec<String> = std::iter::once(keys.online())
            .chain(
                users
                    .iter()
                    .flat_map(|u| [keys.presence(*u), keys.sessions(*u)]),
            )
            .collect();
        let mut args = vec![
            member.to_owned(),
            self.times.ttl.as_millis().to_string(),
            LINGER.as_millis().to_string(),
        ];
        args.extend(users.iter().map(i64::to_string));
        match self.redis.run::<Value>(&self.join, k, args).await {
            Ok(v) => ints(v)
                .into_iter()
                .filter_map(|n| users.get(usize::try_from(n - 1).ok()?))
                .map(|u| Change::Online(*u))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "presence not recorded in redis yet");
                lock(&self.refresh).due = true;
                Vec::new()
            }
        }
    }

    /// Removes sessions; the users who just went offline.
    async fn leave(&self, leaves: &[(i64, String, bool)], now: Instant) -> Vec<Change> {
        let keys = &self.redis.keys;
        let k: Vec<String> = std::iter::once(keys.online())
            .chain(
                leaves
                    .iter()
                    .flat_map(|(u, _, _)| [keys.presence(*u), keys.sessions(*u)]),
            )
            .collect();
        let mut args = vec![LINGER.as_millis().to_string()];
        for (uid, member, only_expired) in leaves {
            args.push(member.clone());
            args.push(if *only_expired { "1" } else { "0" }.to_owned());
            args.push(uid.to_string());
        }
        let results = match self.redis.run::<Value>(&self.leave, k, args).await {
            Ok(v) => ints(v),
            Err(e) => {
                tracing::warn!(error = %e, "presence leave postponed");
                // Try again at the next sweep.
                let mut local = lock(&self.local);
                for (uid, member, _) in leaves {
                    let e = local.entry(*uid).or_default();
                    if member == HEARTBEAT_MEMBER {
                        e.hb_until = Some(now);
                    } else if e.streams == 0 {
                        e.gone_since = Some(now - self.times.grace);
                    }
                }
                return Vec::new();
            }
        };
        let mut changes = Vec::new();
        let mut back = Vec::new();
        {
            let mut local = lock(&self.local);
            for ((uid, member, _), r) in leaves.iter().zip(results) {
                if r == 1 {
                    changes.push(Change::Offline(*uid));
                } else if r < 0 {
                    // Renewed by a heartbeat elsewhere: look again then.
                    let wait = Duration::from_millis(r.unsigned_abs());
                    local.entry(*uid).or_default().hb_until = Some(Instant::now() + wait);
                }
                // A stream opened here again while we were leaving.
                if member != HEARTBEAT_MEMBER && local.get(uid).is_some_and(|e| e.streams > 0) {
                    back.push(*uid);
                }
            }
        }
        if !back.is_empty() {
            let member = self.member.clone();
            changes.extend(self.join(&back, &member).await);
        }
        changes
    }

    /// Users whose every session expired without a leave (their instance
    /// crashed or lost Redis for longer than the TTL): now offline. Every
    /// instance runs it; the script gives each user to one of them.
    async fn reap(&self) -> Vec<Change> {
        let keys = &self.redis.keys;
        let args = vec![keys.prefix().to_owned(), BATCH.to_string()];
        match self
            .redis
            .run::<Value>(&self.reap, vec![keys.online()], args)
            .await
        {
            Ok(v) => ints(v).into_iter().map(Change::Offline).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "presence reap postponed");
                Vec::new()
            }
        }
    }
}
