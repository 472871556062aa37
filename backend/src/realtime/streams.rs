//! The event streams open on this instance, by user, so that a user who
//! lost access (deactivated, by `messaging user deactivate` in another
//! process or on another instance) has every open stream ended: the
//! sweeper asks the database about the connected users every second
//! (`domain::users::deactivated_among`) and calls `close_user`.
//!
//! Never holds a lock across an await; a stream learns that it must end
//! through a broadcast it selects on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// Closing signals buffered per stream; a stream that falls behind this
/// ends too (it reconnects and authenticates again).
const CLOSE_CAPACITY: usize = 64;

pub struct LocalStreams {
    users: Mutex<HashMap<i64, usize>>,
    close: broadcast::Sender<i64>,
}

impl Default for LocalStreams {
    fn default() -> Self {
        Self {
            users: Mutex::default(),
            close: broadcast::channel(CLOSE_CAPACITY).0,
        }
    }
}

/// One open stream; unregisters itself when dropped.
pub struct Registration {
    streams: Arc<LocalStreams>,
    pub user_id: i64,
    close: broadcast::Receiver<i64>,
}

impl Registration {
    /// Resolves when this stream must end.
    pub async fn closed(&mut self) {
        loop {
            match self.close.recv().await {
                Ok(id) if id == self.user_id => return,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut users = self.streams.lock();
        if let Some(n) = users.get_mut(&self.user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                users.remove(&self.user_id);
            }
        }
    }
}

impl LocalStreams {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, usize>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a stream of `user_id` (subscribed before it is counted, so
    /// a `close_user` after this returns reaches it).
    pub fn register(self: &Arc<Self>, user_id: i64) -> Registration {
        let close = self.close.subscribe();
        *self.lock().entry(user_id).or_default() += 1;
        Registration {
            streams: self.clone(),
            user_id,
            close,
        }
    }

    /// Users with at least one open stream here.
    pub fn users(&self) -> Vec<i64> {
        self.lock().keys().copied().collect()
    }

    /// Ends every open stream of `user_id` on this instance.
    pub fn close_user(&self, user_id: i64) {
        if self.lock().contains_key(&user_id) {
            let _ = self.close.send(user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn closing_ends_only_that_users_streams() {
        let s = Arc::new(LocalStreams::default());
        let mut a = s.register(1);
        let mut b = s.register(2);
        assert_eq!(s.users().len(), 2);
        s.close_user(1);
        a.closed().await;
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(50), b.closed()).await;
        assert!(quiet.is_err(), "user 2 keeps their stream");
        drop(a);
        assert_eq!(s.users(), vec![2]);
    }
}
