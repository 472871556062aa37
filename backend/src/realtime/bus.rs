//! The event-bus trait: publish an event to a set of users; open a user's
//! stream, replaying what they missed since `Last-Event-ID` and then live
//! events, with no gap and no duplicate. Publishing never fails the caller:
//! the data is already stored, and a client that missed events resyncs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use shared::Event;
use tokio::sync::broadcast;

/// An event with the id a client resumes from (`id:` on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: String,
    pub event: Event,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What opening a stream gives: the missed events (oldest first) and the
/// live receiver, subscribed before the replay was read.
pub struct Opened {
    pub replay: Vec<Arc<Envelope>>,
    /// True when `Last-Event-ID` lies beyond the replay window: the client
    /// must refetch (it gets a `resync` event instead of a replay).
    pub resync: bool,
    pub live: broadcast::Receiver<Arc<Envelope>>,
}

pub trait EventBus: Send + Sync + 'static {
    /// Delivers `event` to every user in `recipients`.
    fn publish<'a>(&'a self, recipients: &'a [i64], event: Event) -> BoxFuture<'a, ()>;

    /// Opens a user's stream, replaying events after `last_event_id`.
    fn open<'a>(&'a self, user_id: i64, last_event_id: Option<&'a str>) -> BoxFuture<'a, Opened>;

    /// Live events of one user from now on (tests and internal listeners).
    fn subscribe(&self, user_id: i64) -> broadcast::Receiver<Arc<Envelope>>;
}
