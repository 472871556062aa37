//! Real-time delivery: the event bus and presence, each
//! in-process (the embedded default, one instance) or in Redis (REDIS_URL,
//! any number of instances). The rest of the code sees only the trait and
//! the enums, never which one runs.

pub mod bus;
pub mod local_bus;
pub mod presence;
pub mod redis;
pub mod redis_bus;
pub mod redis_presence;
pub mod streams;

use std::sync::Arc;
use std::time::Duration;

pub use bus::{Envelope, EventBus, Live, Opened};

use self::local_bus::LocalBus;
use self::presence::{LocalPresence, Presence, PresenceTimes};
use self::redis::RedisConn;
use self::redis_bus::RedisBus;
use self::redis_presence::RedisPresence;

/// The real-time parts of the application state.
pub struct Realtime {
    pub bus: Arc<dyn EventBus>,
    pub presence: Arc<Presence>,
    /// The Redis connection, for the rate limits (None: in-process).
    pub redis: Option<Arc<RedisConn>>,
}

impl Realtime {
    pub fn in_process(times: PresenceTimes) -> Self {
        Self {
            bus: Arc::new(LocalBus::new()),
            presence: Arc::new(Presence::Local(LocalPresence::new(times))),
            redis: None,
        }
    }

    /// Connects to Redis in the background: when it is down the server
    /// still starts (with a warning) and real time catches up once it answers.
    pub async fn redis(url: &str, key_prefix: &str, times: PresenceTimes) -> anyhow::Result<Self> {
        let conn = RedisConn::connect(url, key_prefix)?;
        if conn.wait_connected(Duration::from_secs(2)).await {
            tracing::info!(key_prefix, "real time through redis");
        } else {
            tracing::warn!(
                "redis is not reachable yet: messages are stored and sent, real-time \
                 events wait until it answers (retrying in the background)"
            );
        }
        Ok(Self {
            bus: Arc::new(RedisBus::start(conn.clone())),
            presence: Arc::new(Presence::Redis(RedisPresence::new(conn.clone(), times))),
            redis: Some(conn),
        })
    }
}
