//! The typing throttle: at most one `typing` event per user and
//! conversation every 2 s. In-process by default; with Redis a
//! `SET {prefix}typing:{uid}:{cid} NX PX 2000` holds across instances (and
//! the in-process limiter takes over while Redis is away).

use std::sync::Arc;
use std::time::Duration;

use fred::prelude::*;

use super::redis::RedisConn;
use crate::auth::rate_limit::RateLimiter;

/// One typing event per user and conversation this often.
pub const TYPING_EVERY: Duration = Duration::from_secs(2);

pub struct TypingThrottle {
    local: RateLimiter,
    redis: Option<Arc<RedisConn>>,
}

impl TypingThrottle {
    pub fn in_process() -> Self {
        Self {
            local: RateLimiter::new(TYPING_EVERY),
            redis: None,
        }
    }

    pub fn redis(redis: Arc<RedisConn>) -> Self {
        Self {
            redis: Some(redis),
            ..Self::in_process()
        }
    }

    /// True when this typing signal may go out (and starts the window).
    pub async fn allow(&self, user_id: i64, conversation_id: i64) -> bool {
        if let Some(redis) = &self.redis {
            let key = redis.keys.typing(user_id, conversation_id);
            let set = redis.client.set::<Option<String>, _, _>(
                key,
                "1",
                Some(Expiration::PX(TYPING_EVERY.as_millis() as i64)),
                Some(SetOptions::NX),
                false,
            );
            match redis.call(set).await {
                Ok(r) => return r.is_some(),
                Err(e) => {
                    tracing::debug!(error = %e, "typing throttle in-process while redis is away")
                }
            }
        }
        self.local
            .check_and_hit(&format!("{user_id}:{conversation_id}"), 1)
            .is_ok()
    }
}
