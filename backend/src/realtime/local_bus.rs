//! In-process event bus (the embedded default, one instance): a broadcast
//! channel per user with at least one subscriber. A user nobody listens to
//! costs nothing; a lagging subscriber loses the oldest events (bounded
//! memory) and is told so by the channel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use shared::Event;
use tokio::sync::broadcast;

use super::bus::{BoxFuture, Envelope, EventBus};

/// Events buffered per subscriber before it counts as lagging.
const CHANNEL_CAPACITY: usize = 256;

#[derive(Default)]
pub struct LocalBus {
    next_id: AtomicU64,
    channels: Mutex<HashMap<i64, broadcast::Sender<Arc<Envelope>>>>,
}

impl LocalBus {
    pub fn new() -> Self {
        Self::default()
    }

    fn channels(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<i64, broadcast::Sender<Arc<Envelope>>>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl EventBus for LocalBus {
    fn publish<'a>(&'a self, recipients: &'a [i64], event: Event) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let env = Arc::new(Envelope {
                id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
                event,
            });
            let mut channels = self.channels();
            for uid in recipients {
                if let Some(tx) = channels.get(uid)
                    && tx.send(env.clone()).is_err()
                {
                    // Every receiver is gone: forget the channel.
                    channels.remove(uid);
                }
            }
        })
    }

    fn subscribe(&self, user_id: i64) -> broadcast::Receiver<Arc<Envelope>> {
        let mut channels = self.channels();
        match channels.get(&user_id) {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = broadcast::channel(CHANNEL_CAPACITY);
                channels.insert(user_id, tx);
                rx
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivers_only_to_recipients() {
        let bus = LocalBus::new();
        let mut a = bus.subscribe(1);
        let mut b = bus.subscribe(2);
        bus.publish(&[1], Event::ConversationCreated { conversation_id: 7 })
            .await;
        let got = a.recv().await.unwrap();
        assert_eq!(got.event, Event::ConversationCreated { conversation_id: 7 });
        assert!(b.try_recv().is_err());
    }
}
