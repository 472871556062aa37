//! The Redis connection behind the shared bus, presence and rate limits
//! (REDIS_URL): one command client and ONE subscriber connection per
//! process, the key names, and Lua scripts run with EVALSHA.
//!
//! Must never make a request wait on Redis for long: when the client is not
//! connected a call fails at once, and every call is bounded by
//! `COMMAND_TIMEOUT`. Both connections reconnect by themselves, forever.

use std::sync::Arc;
use std::time::Duration;

use fred::clients::SubscriberClient;
use fred::prelude::*;

/// The longest a request waits on one Redis call.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("redis is not connected")]
    Unavailable,
    #[error("redis did not answer within {COMMAND_TIMEOUT:?}")]
    Timeout,
    #[error(transparent)]
    Redis(#[from] fred::error::Error),
    #[error("unexpected reply: {0}")]
    Reply(String),
}

/// Names of everything this service keeps in Redis, under one prefix
/// (REDIS_KEY_PREFIX), so deployments and test runs can share a server.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The user's replay log (a capped Redis stream).
    pub fn stream(&self, user_id: i64) -> String {
        format!("{}user:{user_id}:stream", self.prefix)
    }

    /// The user's live channel.
    pub fn channel(&self, user_id: i64) -> String {
        format!("{}user:{user_id}:events", self.prefix)
    }

    /// The user a channel name belongs to.
    pub fn user_of_channel(&self, channel: &str) -> Option<i64> {
        channel
            .strip_prefix(&self.prefix)?
            .strip_prefix("user:")?
            .strip_suffix(":events")?
            .parse()
            .ok()
    }

    /// Instance-wide signals (`resync` after events were lost).
    pub fn control(&self) -> String {
        format!("{}control", self.prefix)
    }

    /// Redis time (ms) when publishing came back after failures: a client
    /// whose last event is older may have missed events and must resync.
    pub fn replay_floor(&self) -> String {
        format!("{}replay-floor", self.prefix)
    }

    /// Exists while the user is online (what presence lookups MGET).
    pub fn presence(&self, user_id: i64) -> String {
        format!("{}presence:{user_id}", self.prefix)
    }

    /// Users announced online, scored by when their last session expires.
    pub fn online(&self) -> String {
        format!("{}presence:online", self.prefix)
    }

    /// The user's live sessions: instance ids and `hb`, scored by expiry.
    pub fn sessions(&self, user_id: i64) -> String {
        format!("{}presence:{user_id}:sessions", self.prefix)
    }

    /// The state of one rate-limit key (see `rate_limit`).
    pub fn rate_limit(&self, key: &str) -> String {
        format!("{}rl:{key}", self.prefix)
    }
}

/// A Lua script called by hash, loaded on first use and again after a
/// Redis restart (NOSCRIPT → EVAL, which also caches it).
pub struct Script {
    lua: &'static str,
    sha: String,
}

impl Script {
    pub fn new(lua: &'static str) -> Self {
        Self {
            lua,
            sha: fred::util::sha1_hash(lua),
        }
    }
}

pub struct RedisConn {
    pub client: Client,
    pub subscriber: SubscriberClient,
    pub keys: Keys,
}

impl RedisConn {
    /// Builds both clients and starts connecting in the background: a Redis
    /// that is down at start is retried forever, and the server starts.
    pub fn connect(url: &str, prefix: &str) -> anyhow::Result<Arc<Self>> {
        let mut config =
            Config::from_url(url).map_err(|e| anyhow::anyhow!("REDIS_URL is not usable: {e}"))?;
        config.fail_fast = false;
        let mut builder = Builder::from_config(config);
        builder
            .with_performance_config(|p| p.default_command_timeout = COMMAND_TIMEOUT)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(2);
                c.internal_command_timeout = Duration::from_secs(2);
                c.max_command_attempts = 2;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
        let client = builder.build()?;
        // Messages for every local stream pass through the subscriber's
        // pub/sub channel; a lagging router loses messages and makes every
        // stream resync. fred gives all eight notification channels of a
        // client this capacity, allocated at once, so only the subscriber
        // gets it: on the command client too it held ~10 MB for nothing
        // (heaptrack).
        builder.with_performance_config(|p| p.broadcast_channel_capacity = 16 * 1024);
        let subscriber = builder.build_subscriber_client()?;
        // The handles drive the connections until the process ends.
        drop(client.connect());
        drop(subscriber.connect());
        Ok(Arc::new(Self {
            client,
            subscriber,
            keys: Keys::new(prefix),
        }))
    }

    /// Waits up to `wait` for both connections (for a clear log line at start).
    pub async fn wait_connected(&self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < deadline {
            if self.client.is_connected() && self.subscriber.is_connected() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Runs one command, failing fast when disconnected and bounded in time.
    pub async fn call<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, fred::error::Error>>,
    ) -> Result<T, RedisError> {
        if !self.client.is_connected() {
            return Err(RedisError::Unavailable);
        }
        match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(RedisError::Timeout),
        }
    }

    /// Runs a script: one round trip (two the first time after a restart).
    pub async fn run<R: FromValue>(
        &self,
        script: &Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<R, RedisError> {
        let c = &self.client;
        match self
            .call(c.evalsha::<R, _, _, _>(script.sha.as_str(), keys.clone(), args.clone()))
            .await
        {
            Err(RedisError::Redis(e)) if e.details().starts_with("NOSCRIPT") => {
                self.call(c.eval::<R, _, _, _>(script.lua, keys, args))
                    .await
            }
            r => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_map_back_to_users() {
        let k = Keys::new("msg:");
        assert_eq!(k.channel(42), "msg:user:42:events");
        assert_eq!(k.user_of_channel("msg:user:42:events"), Some(42));
        assert_eq!(k.user_of_channel("other:user:42:events"), None);
        assert_eq!(k.user_of_channel("msg:user:x:events"), None);
        assert_eq!(k.user_of_channel(&k.control()), None);
    }
}
