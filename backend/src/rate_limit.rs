//! The one rate limiter of the service (logins, sending, creating
//! conversations, typing and heartbeat signals): GCRA, the "generic cell
//! rate algorithm" — a token bucket kept as one timestamp per key. A
//! `Rate` allows `burst` calls at once, then one more every `every`.
//!
//! In-process on the embedded default; with Redis (REDIS_URL) the state of
//! each key lives in Redis and one Lua script decides atomically on Redis's
//! clock, so the limits hold across every instance. Must never make a
//! request fail or wait because of Redis: when a call to Redis fails, the
//! in-process limiter of this instance decides instead (the limit then
//! holds per instance) and a warning is logged, at most every 30 s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fred::prelude::KeysInterface as _;

use crate::realtime::redis::{RedisConn, Script};

/// Above this many keys the in-process map drops the ones back at a full
/// bucket (they are the same as absent).
const SWEEP_ABOVE: usize = 10_000;
/// Keys longer than this are hashed for Redis (an e-mail can be long).
const MAX_KEY_BYTES: usize = 200;
/// At most one "redis unavailable" warning this often.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// How much a key may do: `burst` calls at once, then one per `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub every: Duration,
}

impl Rate {
    /// `n` calls per `window` on average, up to `n` of them at once.
    pub fn per(n: u32, window: Duration) -> Self {
        let n = n.max(1);
        Self {
            burst: n,
            every: window / n,
        }
    }

    /// `burst` calls at once, refilled at `per_minute` a minute.
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        Self {
            burst: burst.max(1),
            every: Duration::from_secs(60) / per_minute.max(1),
        }
    }

    fn every_ms(self) -> u64 {
        u64::try_from(self.every.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

/// Refused: the caller may try again after this long (at least 1 s, as
/// `Retry-After` counts whole seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

impl RetryAfter {
    fn from_ms(ms: u64) -> Self {
        Self(ms.div_ceil(1000).max(1))
    }
}

/// What a call does with the key's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Take one if there is one; refuse otherwise.
    Acquire,
    /// Refuse if there is none; take nothing.
    Check,
    /// Take one if there is one; never refuse (counting failures).
    Hit,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Acquire => "acquire",
            Mode::Check => "check",
            Mode::Hit => "hit",
        }
    }
}

/// GCRA on Redis's clock. The value of a key is its "theoretical arrival
/// time" in ms; it expires when the bucket is full again. Returns 0 when
/// allowed, else the ms to wait.
const GCRA_LUA: &str = r#"
local every = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local mode = ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + every
local limit = now + burst * every
if new_tat > limit then
  if mode == 'hit' then return 0 end
  return new_tat - limit
end
if mode == 'check' then return 0 end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
return 0
"#;

/// The same algorithm in memory, for one instance.
#[derive(Debug, Default)]
struct Local {
    /// Per key, when its bucket is full again (the theoretical arrival time).
    tat: Mutex<HashMap<String, Instant>>,
}

impl Local {
    fn run(&self, key: &str, rate: Rate, mode: Mode) -> Result<(), RetryAfter> {
        let mut map = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, tat| *tat > now);
        }
        let every = Duration::from_millis(rate.every_ms());
        let tat = map.get(key).copied().filter(|t| *t > now).unwrap_or(now);
        let new_tat = tat + every;
        let limit = now + every * rate.burst;
        if new_tat > limit {
            return match mode {
                Mode::Hit => Ok(()),
                _ => {
                    let wait = new_tat.duration_since(limit);
                    Err(RetryAfter::from_ms(
                        u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    ))
                }
            };
        }
        if mode != Mode::Check {
            map.insert(key.to_owned(), new_tat);
        }
        Ok(())
    }

    fn reset(&self, key: &str) {
        self.tat
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

pub struct RateLimiter {
    local: Local,
    redis: Option<(Arc<RedisConn>, Script)>,
    /// When the last "redis unavailable" warning was logged (ms since `started`).
    last_warning: AtomicU64,
    started: Instant,
}

impl RateLimiter {
    /// Limits for this instance alone (the embedded default).
    pub fn in_process() -> Self {
        Self {
            local: Local::default(),
            redis: None,
            last_warning: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// Limits shared by every instance through Redis.
    pub fn redis(conn: Arc<RedisConn>) -> Self {
        Self {
            redis: Some((conn, Script::new(GCRA_LUA))),
            ..Self::in_process()
        }
    }

    /// Takes one call of `key`'s allowance, or says how long to wait.
    pub async fn acquire(&self, key: &str, rate: Rate) -> Result<(), RetryAfter> {
        self.run(key, rate, Mode::Acquire).await
    }

    /// Whether `key` has a call left, without taking it (login: refuse an
    /// account that already failed too often, count only new failures).
    pub async fn check(&self, key: &str, rate: Rate) -> Result<(), RetryAfter> {
        self.run(key, rate, Mode::Check).await
    }

    /// Takes one call of `key`'s allowance if there is one (a failed login).
    pub async fn hit(&self, key: &str, rate: Rate) {
        let _ = self.run(key, rate, Mode::Hit).await;
    }

    /// Gives `key` its full allowance back (a successful login).
    pub async fn reset(&self, key: &str) {
        self.local.reset(key);
        if let Some((conn, _)) = &self.redis {
            let del = conn.client.del::<i64, _>(redis_key(conn, key));
            if let Err(e) = conn.call(del).await {
                self.warn(&e);
            }
        }
    }

    async fn run(&self, key: &str, rate: Rate, mode: Mode) -> Result<(), RetryAfter> {
        if let Some((conn, script)) = &self.redis {
            let args = vec![
                rate.every_ms().to_string(),
                rate.burst.to_string(),
                mode.as_str().to_owned(),
            ];
            match conn
                .run::<i64>(script, vec![redis_key(conn, key)], args)
                .await
            {
                Ok(wait) if wait <= 0 => return Ok(()),
                Ok(wait) => return Err(RetryAfter::from_ms(wait.unsigned_abs())),
                Err(e) => self.warn(&e),
            }
        }
        self.local.run(key, rate, mode)
    }

    fn warn(&self, e: &dyn std::fmt::Display) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_warning.load(Ordering::Relaxed);
        let every = u64::try_from(WARN_EVERY.as_millis()).unwrap_or(u64::MAX);
        let due = last == 0 || now.saturating_sub(last) >= every;
        if due
            && self
                .last_warning
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                error = %e,
                "rate limits cannot reach redis: each instance limits on its own until it answers"
            );
        }
    }
}

fn redis_key(conn: &RedisConn, key: &str) -> String {
    if key.len() <= MAX_KEY_BYTES {
        conn.keys.rate_limit(key)
    } else {
        conn.keys
            .rate_limit(&format!("sha1:{}", fred::util::sha1_hash(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(l: &Local, rate: Rate, mode: Mode) -> Result<(), RetryAfter> {
        l.run("k", rate, mode)
    }

    #[test]
    fn a_burst_then_one_per_interval() {
        let l = Local::default();
        let rate = Rate {
            burst: 3,
            every: Duration::from_millis(200),
        };
        for _ in 0..3 {
            assert!(run(&l, rate, Mode::Acquire).is_ok());
        }
        assert_eq!(run(&l, rate, Mode::Acquire), Err(RetryAfter(1)));
        assert!(l.run("other", rate, Mode::Acquire).is_ok());
        std::thread::sleep(Duration::from_millis(250));
        assert!(run(&l, rate, Mode::Acquire).is_ok(), "one earned back");
        assert!(run(&l, rate, Mode::Acquire).is_err());
    }

    #[test]
    fn check_takes_nothing_hit_never_refuses_and_reset_refills() {
        let l = Local::default();
        let rate = Rate {
            burst: 2,
            every: Duration::from_secs(60),
        };
        for _ in 0..5 {
            assert!(run(&l, rate, Mode::Check).is_ok());
        }
        run(&l, rate, Mode::Hit).unwrap();
        run(&l, rate, Mode::Hit).unwrap();
        run(&l, rate, Mode::Hit).unwrap();
        let RetryAfter(secs) = run(&l, rate, Mode::Check).unwrap_err();
        // Over the limit, further hits do not push the wait out.
        assert!((59..=60).contains(&secs), "{secs}");
        l.reset("k");
        assert!(run(&l, rate, Mode::Check).is_ok());
    }

    #[test]
    fn rates_from_settings() {
        assert_eq!(
            Rate::per_minute(120, 30),
            Rate {
                burst: 30,
                every: Duration::from_millis(500)
            }
        );
        assert_eq!(
            Rate::per(60, Duration::from_secs(3600)),
            Rate {
                burst: 60,
                every: Duration::from_secs(60)
            }
        );
        assert_eq!(RetryAfter::from_ms(1), RetryAfter(1));
        assert_eq!(RetryAfter::from_ms(1001), RetryAfter(2));
    }
}
