//! The event streams open on this instance, by user and by the credential
//! (session or API token) that opened them, so that access lost anywhere —
//! a deactivation (`messaging user deactivate`, in another process or on
//! another instance), a logout, a password change ending other sessions,
//! a revoked token — ends the streams it opened: the sweeper in `startup`
//! asks the database about what is connected here every second and calls
//! `close_user` / `close_credential`.
//!
//! Never holds a lock across an await; a stream learns that it must end
//! through a broadcast it selects on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// Closing signals buffered per stream; a stream that falls behind this
/// ends too (it reconnects and authenticates again).
const CLOSE_CAPACITY: usize = 64;

/// What authenticated a stream: the stored hash of its session cookie or
/// of its API token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Credential {
    Session(String),
    Token(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Closing {
    User(i64),
    Credential(Credential),
}

#[derive(Default)]
struct Open {
    users: HashMap<i64, usize>,
    credentials: HashMap<Credential, usize>,
}

fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

pub struct LocalStreams {
    open: Mutex<Open>,
    close: broadcast::Sender<Closing>,
}

impl Default for LocalStreams {
    fn default() -> Self {
        Self {
            open: Mutex::default(),
            close: broadcast::channel(CLOSE_CAPACITY).0,
        }
    }
}

/// One open stream; unregisters itself when dropped.
pub struct Registration {
    streams: Arc<LocalStreams>,
    user_id: i64,
    credential: Credential,
    close: broadcast::Receiver<Closing>,
}

impl Registration {
    /// Resolves when this stream must end.
    pub async fn closed(&mut self) {
        loop {
            match self.close.recv().await {
                Ok(Closing::User(id)) if id == self.user_id => return,
                Ok(Closing::Credential(c)) if c == self.credential => return,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut open = self.streams.lock();
        decrement(&mut open.users, &self.user_id);
        decrement(&mut open.credentials, &self.credential);
    }
}

impl LocalStreams {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a stream (subscribed before it is counted, so a close
    /// signal sent after this returns reaches it).
    pub fn register(self: &Arc<Self>, user_id: i64, credential: Credential) -> Registration {
        let close = self.close.subscribe();
        let mut open = self.lock();
        *open.users.entry(user_id).or_default() += 1;
        *open.credentials.entry(credential.clone()).or_default() += 1;
        drop(open);
        Registration {
            streams: self.clone(),
            user_id,
            credential,
            close,
        }
    }

    /// Users with at least one open stream here.
    pub fn users(&self) -> Vec<i64> {
        self.lock().users.keys().copied().collect()
    }

    /// Session hashes and token hashes of the open streams here.
    pub fn credentials(&self) -> (Vec<String>, Vec<String>) {
        let open = self.lock();
        let (mut sessions, mut tokens) = (Vec::new(), Vec::new());
        for c in open.credentials.keys() {
            match c {
                Credential::Session(h) => sessions.push(h.clone()),
                Credential::Token(h) => tokens.push(h.clone()),
            }
        }
        (sessions, tokens)
    }

    /// Ends every open stream of `user_id` on this instance.
    pub fn close_user(&self, user_id: i64) {
        if self.lock().users.contains_key(&user_id) {
            let _ = self.close.send(Closing::User(user_id));
        }
    }

    /// Ends every open stream opened with `credential` on this instance.
    pub fn close_credential(&self, credential: Credential) {
        if self.lock().credentials.contains_key(&credential) {
            let _ = self.close.send(Closing::Credential(credential));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ends(r: &mut Registration) -> bool {
        tokio::time::timeout(std::time::Duration::from_millis(50), r.closed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn closing_ends_only_the_matching_streams() {
        let s = Arc::new(LocalStreams::default());
        let session = |h: &str| Credential::Session(h.into());
        let mut a1 = s.register(1, session("a1"));
        let mut a2 = s.register(1, Credential::Token("a2".into()));
        let mut b = s.register(2, session("b"));
        assert_eq!(s.users().len(), 2);
        s.close_credential(session("a1"));
        assert!(ends(&mut a1).await);
        assert!(!ends(&mut a2).await, "another credential of the same user");
        assert!(!ends(&mut b).await);
        s.close_user(1);
        assert!(ends(&mut a2).await);
        assert!(!ends(&mut b).await, "user 2 keeps their stream");
        drop((a1, a2));
        assert_eq!(s.users(), vec![2]);
        assert_eq!(s.credentials(), (vec!["b".to_owned()], vec![]));
    }
}
