//! In-process event bus (the embedded default, one instance). Per user: a
//! bounded queue per live stream and a ring buffer of recent events
//! for replay, bounded by count and age, so memory stays bounded. Ids are
//! one increasing counter, so "after id N" is a plain comparison. The
//! counter starts at the boot time in microseconds, so the ids of a
//! restarted server are above those of the process before it, and a client
//! resuming from one of those gets `resync` instead of missing the events
//! published between the restart and its reconnect.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::bus::{BoxFuture, Envelope, EventBus, Fanout, Live, Opened, Subscription};
use shared::Event;

/// Events queued per live stream before it counts as too slow.
pub const CHANNEL_CAPACITY: usize = 256;
/// Replay window: at most this many events per user …
pub const REPLAY_MAX_EVENTS: usize = 1_000;
/// … and none older than this.
pub const REPLAY_MAX_AGE: Duration = Duration::from_secs(15 * 60);

struct UserLog {
    live: Fanout,
    ring: VecDeque<(Instant, u64, Arc<Envelope>)>,
    /// The highest id dropped from the ring: replay from below it is impossible.
    trimmed_up_to: u64,
}

impl UserLog {
    fn new() -> Self {
        Self {
            live: Fanout::new(CHANNEL_CAPACITY),
            ring: VecDeque::new(),
            trimmed_up_to: 0,
        }
    }

    fn trim(&mut self, now: Instant) {
        while let Some((at, id, _)) = self.ring.front() {
            if self.ring.len() > REPLAY_MAX_EVENTS || now.duration_since(*at) > REPLAY_MAX_AGE {
                self.trimmed_up_to = *id;
                self.ring.pop_front();
            } else {
                break;
            }
        }
    }
}

struct Inner {
    next_id: u64,
    users: HashMap<i64, UserLog>,
    /// Highest id ever dropped together with a whole user log.
    forgotten_up_to: u64,
    last_sweep: Instant,
}

pub struct LocalBus {
    inner: Mutex<Inner>,
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalBus {
    pub fn new() -> Self {
        let boot = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2))
            .unwrap_or(0);
        Self::starting_after(boot)
    }

    /// A bus whose first id is `last_before + 1`; a client resuming from an
    /// id below that (an earlier process's) gets resync.
    fn starting_after(last_before: u64) -> Self {
        Self {
            inner: Mutex::new(Inner {
                next_id: last_before,
                users: HashMap::new(),
                forgotten_up_to: last_before,
                last_sweep: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    /// Drops old events, and the logs of users nobody listens to any more.
    fn sweep(&mut self, now: Instant) {
        if now.duration_since(self.last_sweep) < Duration::from_secs(30) {
            return;
        }
        self.last_sweep = now;
        let mut forgotten = self.forgotten_up_to;
        self.users.retain(|_, log| {
            log.trim(now);
            let keep = log.live.receiver_count() > 0 || !log.ring.is_empty();
            if !keep {
                forgotten = forgotten.max(log.trimmed_up_to);
            }
            keep
        });
        self.forgotten_up_to = forgotten;
    }
}

impl EventBus for LocalBus {
    fn publish<'a>(&'a self, recipients: &'a [i64], event: Event) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let now = Instant::now();
            let mut inner = self.lock();
            inner.sweep(now);
            inner.next_id += 1;
            let id = inner.next_id;
            let env = Arc::new(Envelope::new(id.to_string(), &event));
            for uid in recipients {
                let log = inner.users.entry(*uid).or_insert_with(UserLog::new);
                log.ring.push_back((now, id, env.clone()));
                log.trim(now);
                // No stream is fine: the event waits in the ring for replay.
                log.live.send(&env);
            }
        })
    }

    fn open<'a>(&'a self, user_id: i64, last_event_id: Option<&'a str>) -> BoxFuture<'a, Opened> {
        Box::pin(async move {
            let mut inner = self.lock();
            let forgotten = inner.forgotten_up_to;
            let log = inner.users.entry(user_id).or_insert_with(UserLog::new);
            let live = Live::new(log.live.subscribe());
            let Some(last) = last_event_id else {
                return Opened {
                    replay: Vec::new(),
                    resync: false,
                    live,
                };
            };
            // An id we never issued (another server's, garbage): resync.
            let Ok(last) = last.trim().parse::<u64>() else {
                return Opened {
                    replay: Vec::new(),
                    resync: true,
                    live,
                };
            };
            log.trim(Instant::now());
            let lost = last < log.trimmed_up_to || last < forgotten;
            if lost {
                return Opened {
                    replay: Vec::new(),
                    resync: true,
                    live,
                };
            }
            let replay = log
                .ring
                .iter()
                .filter(|(_, id, _)| *id > last)
                .map(|(_, _, e)| e.clone())
                .collect();
            Opened {
                replay,
                resync: false,
                live,
            }
        })
    }

    fn subscribe(&self, user_id: i64) -> Subscription {
        let mut inner = self.lock();
        inner
            .users
            .entry(user_id)
            .or_insert_with(UserLog::new)
            .live
            .subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: i64) -> Event {
        Event::ConversationCreated { conversation_id: n }
    }

    #[tokio::test]
    async fn delivers_only_to_recipients() {
        let bus = LocalBus::starting_after(0);
        let mut a = bus.subscribe(1);
        let mut b = bus.subscribe(2);
        bus.publish(&[1], ev(7)).await;
        assert_eq!(a.recv().await.unwrap().event(), ev(7));
        assert!(b.try_recv().is_err());
    }

    #[tokio::test]
    async fn replays_after_the_last_id_then_goes_live() {
        let bus = LocalBus::starting_after(0);
        bus.publish(&[1], ev(1)).await;
        bus.publish(&[1], ev(2)).await;
        bus.publish(&[1], ev(3)).await;
        let first = bus.open(1, None).await;
        assert!(first.replay.is_empty() && !first.resync);
        let opened = bus.open(1, Some("1")).await;
        let got: Vec<Event> = opened.replay.iter().map(|e| e.event()).collect();
        assert_eq!(got, [ev(2), ev(3)]);
        let mut live = opened.live;
        bus.publish(&[1], ev(4)).await;
        assert_eq!(live.recv().await.unwrap().event(), ev(4));
    }

    #[tokio::test]
    async fn beyond_the_window_means_resync() {
        let bus = LocalBus::starting_after(0);
        for i in 0..(REPLAY_MAX_EVENTS as i64 + 10) {
            bus.publish(&[1], ev(i)).await;
        }
        assert!(bus.open(1, Some("1")).await.resync);
        assert!(bus.open(1, Some("garbage")).await.resync);
        let ok = bus.open(1, Some("1005")).await;
        assert!(!ok.resync);
        assert_eq!(ok.replay.len(), 5);
    }

    #[tokio::test]
    async fn an_id_from_before_a_restart_means_resync() {
        let before = LocalBus::new();
        let mut live = before.subscribe(1);
        for i in 0..3 {
            before.publish(&[1], ev(i)).await;
        }
        let mut last = String::new();
        while let Ok(env) = live.try_recv() {
            last = env.id.clone();
        }
        // The restarted server publishes before the client is back.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let after = LocalBus::new();
        after.publish(&[1], ev(9)).await;
        let resumed = after.open(1, Some(&last)).await;
        assert!(resumed.resync, "resuming from {last} must not skip ev(9)");
        assert!(resumed.replay.is_empty());
    }
}
