//! Presence as a set of live sessions per user (Revolt's shape): a user is
//! online while they have an open stream or sent a heartbeat within 60 s.
//! "online" is announced on the first session only and "offline" after the
//! last one has been gone for a grace period, so a tab that reconnects does
//! not flap. Two implementations behind one enum: in-process (`LocalPresence`,
//! the embedded default) and Redis (`RedisPresence`, across instances); the
//! rest of the code only sees `Presence`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::bus::BoxFuture;
use super::redis_presence::RedisPresence;

/// How long presence lasts and how patiently "offline" is announced
/// (PRESENCE_TTL_SECS, PRESENCE_GRACE_SECS; short in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceTimes {
    /// A heartbeat keeps a user online this long; with Redis, an instance's
    /// sessions also expire after it unless renewed (so the users of a
    /// crashed instance go offline within about this time).
    pub ttl: Duration,
    /// How long a user with no session stays "online" before it is announced
    /// that they left (a reconnect within it is invisible to others).
    pub grace: Duration,
}

impl Default for PresenceTimes {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(60),
            grace: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Default)]
struct Entry {
    streams: u32,
    heartbeat_until: Option<Instant>,
    /// When the last session ended (streams hit 0 and no heartbeat).
    gone_since: Option<Instant>,
    /// Whether others were told this user is online.
    announced: bool,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.streams > 0 || self.heartbeat_until.is_some_and(|t| t > now)
    }
}

/// A change others must hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Online(i64),
    Offline(i64),
}

#[derive(Debug, Default)]
pub struct LocalPresence {
    users: Mutex<HashMap<i64, Entry>>,
    times: PresenceTimes,
}

impl LocalPresence {
    pub fn new(times: PresenceTimes) -> Self {
        Self {
            users: Mutex::default(),
            times,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<i64, Entry>) -> R) -> R {
        let mut g = self.users.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    fn came(&self, user_id: i64, f: impl FnOnce(&mut Entry, Instant)) -> Option<Change> {
        let now = Instant::now();
        self.with(|m| {
            let e = m.entry(user_id).or_default();
            f(e, now);
            e.gone_since = None;
            if e.announced {
                None
            } else {
                e.announced = true;
                Some(Change::Online(user_id))
            }
        })
    }

    /// A stream opened; `Some(Online)` when the user just came online.
    pub fn stream_opened(&self, user_id: i64) -> Option<Change> {
        self.came(user_id, |e, _| e.streams += 1)
    }

    /// A heartbeat arrived; `Some(Online)` when the user just came online.
    pub fn heartbeat(&self, user_id: i64) -> Option<Change> {
        let ttl = self.times.ttl;
        self.came(user_id, |e, now| e.heartbeat_until = Some(now + ttl))
    }

    /// A stream closed. Going offline is decided later by `sweep`.
    pub fn stream_closed(&self, user_id: i64) {
        let now = Instant::now();
        self.with(|m| {
            if let Some(e) = m.get_mut(&user_id) {
                e.streams = e.streams.saturating_sub(1);
                if !e.live(now) && e.gone_since.is_none() {
                    e.gone_since = Some(now);
                }
            }
        });
    }

    /// Users whose last session ended more than the grace period ago (or
    /// whose heartbeat expired): they are now offline and forgotten.
    pub fn sweep(&self) -> Vec<Change> {
        let now = Instant::now();
        self.with(|m| {
            let mut out = Vec::new();
            m.retain(|uid, e| {
                if e.live(now) {
                    return true;
                }
                let since = *e.gone_since.get_or_insert(now);
                if now.duration_since(since) < self.times.grace {
                    return true;
                }
                if e.announced {
                    out.push(Change::Offline(*uid));
                }
                false
            });
            out
        })
    }

    pub fn is_online(&self, user_id: i64) -> bool {
        let now = Instant::now();
        self.with(|m| {
            m.get(&user_id)
                .is_some_and(|e| e.live(now) || e.gone_since.is_some())
        })
    }
}

/// Presence, in-process or in Redis.
pub enum Presence {
    Local(LocalPresence),
    Redis(RedisPresence),
}

impl Presence {
    /// Counts a new stream of the user. Synchronous, so it pairs with
    /// `stream_closed` in a drop guard; what tells others comes back as a
    /// future for the caller to run off the request.
    pub fn stream_opened(&self, user_id: i64) -> Option<BoxFuture<'static, Option<Change>>> {
        match self {
            Self::Local(p) => p
                .stream_opened(user_id)
                .map(|c| Box::pin(std::future::ready(Some(c))) as BoxFuture<'static, _>),
            Self::Redis(p) => p.stream_opened(user_id),
        }
    }

    /// A stream closed; going offline is decided later by `sweep`.
    pub fn stream_closed(&self, user_id: i64) {
        match self {
            Self::Local(p) => p.stream_closed(user_id),
            Self::Redis(p) => p.stream_closed(user_id),
        }
    }

    /// A heartbeat arrived; `Some(Online)` when the user just came online.
    pub async fn heartbeat(&self, user_id: i64) -> Option<Change> {
        match self {
            Self::Local(p) => p.heartbeat(user_id),
            Self::Redis(p) => p.heartbeat(user_id).await,
        }
    }

    /// Changes to announce: users gone past the grace period (and, in
    /// Redis, users found online again after an outage). Run every second.
    pub async fn sweep(&self) -> Vec<Change> {
        match self {
            Self::Local(p) => p.sweep(),
            Self::Redis(p) => p.sweep().await,
        }
    }

    /// Whether each of `ids` is online (one Redis round trip).
    pub async fn online(&self, ids: &[i64]) -> Vec<bool> {
        match self {
            Self::Local(p) => ids.iter().map(|id| p.is_online(*id)).collect(),
            Self::Redis(p) => p.online(ids).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_once_for_several_tabs() {
        let p = LocalPresence::new(PresenceTimes::default());
        assert_eq!(p.stream_opened(1), Some(Change::Online(1)));
        assert_eq!(p.stream_opened(1), None);
        assert_eq!(p.heartbeat(1), None);
        p.stream_closed(1);
        assert!(p.is_online(1));
        assert!(p.sweep().is_empty());
    }

    #[test]
    fn a_quick_reconnect_does_not_flap() {
        let p = LocalPresence::new(PresenceTimes::default());
        p.stream_opened(2);
        p.stream_closed(2);
        assert!(p.sweep().is_empty(), "within the grace period");
        assert_eq!(
            p.stream_opened(2),
            None,
            "still announced: no second online"
        );
        assert!(p.is_online(2));
        assert!(!p.is_online(3));
    }
}
