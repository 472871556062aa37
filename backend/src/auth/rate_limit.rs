//! In-process fixed-window counters for login attempts (per account and per
//! client IP). Memory is bounded: expired windows are swept when the map
//! grows. Several instances each count on their own; a shared (Redis)
//! limiter comes with the hardening work.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

#[derive(Debug)]
pub struct RateLimiter {
    window: Duration,
    counters: Mutex<HashMap<String, Window>>,
}

/// Seconds until the caller may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

impl RateLimiter {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            counters: Mutex::new(HashMap::new()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Window>, Instant) -> R) -> R {
        let mut map = match self.counters.lock() {
            Ok(g) => g,
            // A panic while holding the lock cannot leave the counters
            // inconsistent in a way that matters; keep limiting.
            Err(poisoned) => poisoned.into_inner(),
        };
        let now = Instant::now();
        if map.len() > SWEEP_ABOVE {
            let w = self.window;
            map.retain(|_, v| now.duration_since(v.start) < w);
        }
        f(&mut map, now)
    }

    fn retry_after(&self, w: &Window, now: Instant) -> RetryAfter {
        let left = self.window.saturating_sub(now.duration_since(w.start));
        RetryAfter(left.as_secs().max(1))
    }

    /// Err when `key` already has `limit` hits in the current window.
    pub fn check(&self, key: &str, limit: u32) -> Result<(), RetryAfter> {
        self.with(|map, now| match map.get(key) {
            Some(w) if now.duration_since(w.start) < self.window && w.count >= limit => {
                Err(self.retry_after(w, now))
            }
            _ => Ok(()),
        })
    }

    /// Counts one hit for `key`.
    pub fn hit(&self, key: &str) {
        self.with(|map, now| {
            let w = map.entry(key.to_owned()).or_insert(Window {
                start: now,
                count: 0,
            });
            if now.duration_since(w.start) >= self.window {
                *w = Window {
                    start: now,
                    count: 0,
                };
            }
            w.count = w.count.saturating_add(1);
        });
    }

    /// Checks, then counts: every call uses one of the `limit` allowed.
    pub fn check_and_hit(&self, key: &str, limit: u32) -> Result<(), RetryAfter> {
        self.check(key, limit)?;
        self.hit(key);
        Ok(())
    }

    /// Forgets `key` (e.g. failures after a successful login).
    pub fn reset(&self, key: &str) {
        self.with(|map, _| {
            map.remove(key);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_until_window_passes() {
        let rl = RateLimiter::new(Duration::from_millis(200));
        for _ in 0..3 {
            assert!(rl.check_and_hit("k", 3).is_ok());
        }
        let RetryAfter(secs) = rl.check_and_hit("k", 3).unwrap_err();
        assert!(secs >= 1);
        assert!(rl.check("other", 3).is_ok());
        std::thread::sleep(Duration::from_millis(250));
        assert!(rl.check_and_hit("k", 3).is_ok());
    }

    #[test]
    fn reset_clears() {
        let rl = RateLimiter::new(Duration::from_secs(60));
        rl.hit("k");
        rl.hit("k");
        assert!(rl.check("k", 2).is_err());
        rl.reset("k");
        assert!(rl.check("k", 2).is_ok());
    }
}
