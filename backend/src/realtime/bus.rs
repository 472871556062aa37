//! The event-bus trait: publish an event to a set of users; subscribe to
//! one user's events. Publishing never fails the caller: the message is
//! already stored, and a client that missed an event refetches.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use shared::Event;
use tokio::sync::broadcast;

/// An event with the id a client resumes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: u64,
    pub event: Event,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait EventBus: Send + Sync + 'static {
    /// Delivers `event` to every user in `recipients`.
    fn publish<'a>(&'a self, recipients: &'a [i64], event: Event) -> BoxFuture<'a, ()>;

    /// Live events of one user, from now on.
    fn subscribe(&self, user_id: i64) -> broadcast::Receiver<Arc<Envelope>>;
}
