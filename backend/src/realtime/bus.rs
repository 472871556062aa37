//! The event-bus trait: publish an event to a set of users; open a user's
//! stream, replaying what they missed since `Last-Event-ID` and then live
//! events, with no gap and no duplicate. Publishing never fails the caller:
//! the data is already stored, and a client that missed events resyncs.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use shared::Event;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

/// An event with the id a client resumes from (`id:` on the wire). An empty
/// id marks a control event that is not part of the replayable sequence
/// (a `resync` sent when the bus itself may have missed events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: String,
    pub event: Event,
}

impl Envelope {
    /// "Refetch: events may have been missed" (no id, never replayed).
    pub fn resync() -> Self {
        Self {
            id: String::new(),
            event: Event::Resync {},
        }
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A Redis stream entry id, `<ms>-<seq>`: ids compare as (ms, seq).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// Parses exactly `<ms>-<seq>` (digits only); anything else is None.
    pub fn parse(s: &str) -> Option<Self> {
        let (ms, seq) = s.split_once('-')?;
        let digits =
            |p: &str| !p.is_empty() && p.len() <= 20 && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// The live half of an opened stream: a bounded receiver of the user's
/// events. Envelopes at or below `floor` were already replayed and are
/// dropped (the subscription starts before the replay is read, so the two
/// overlap). Whatever `release` holds is dropped after the receiver, so a
/// bus can notice the last local listener of a user going away.
pub struct Live {
    rx: broadcast::Receiver<Arc<Envelope>>,
    floor: Option<StreamId>,
    _release: Option<Box<dyn Any + Send + Sync>>,
}

impl Live {
    pub fn new(rx: broadcast::Receiver<Arc<Envelope>>) -> Self {
        Self {
            rx,
            floor: None,
            _release: None,
        }
    }

    /// Runs `release`'s `Drop` when this stream goes away (after the receiver).
    pub fn with_release(mut self, release: impl Any + Send + Sync) -> Self {
        self._release = Some(Box::new(release));
        self
    }

    /// Drops live envelopes whose id is at or below `id`.
    pub fn skip_through(mut self, id: StreamId) -> Self {
        self.floor = Some(id);
        self
    }

    /// The next live envelope. `Lagged` means the client was too slow and
    /// must be disconnected (it resumes by `Last-Event-ID`).
    pub async fn recv(&mut self) -> Result<Arc<Envelope>, RecvError> {
        loop {
            let env = self.rx.recv().await?;
            if let Some(floor) = self.floor {
                match StreamId::parse(&env.id) {
                    Some(id) if id <= floor => continue,
                    // Ids only grow on a user's channel: past the floor once,
                    // past it for good.
                    Some(_) => self.floor = None,
                    None => {}
                }
            }
            return Ok(env);
        }
    }
}

/// What opening a stream gives: the missed events (oldest first) and the
/// live receiver, subscribed before the replay was read.
pub struct Opened {
    pub replay: Vec<Arc<Envelope>>,
    /// True when `Last-Event-ID` lies beyond the replay window: the client
    /// must refetch (it gets a `resync` event instead of a replay).
    pub resync: bool,
    pub live: Live,
}

pub trait EventBus: Send + Sync + 'static {
    /// Delivers `event` to every user in `recipients`.
    fn publish<'a>(&'a self, recipients: &'a [i64], event: Event) -> BoxFuture<'a, ()>;

    /// Opens a user's stream, replaying events after `last_event_id`.
    fn open<'a>(&'a self, user_id: i64, last_event_id: Option<&'a str>) -> BoxFuture<'a, Opened>;

    /// Live events of one user from now on (tests and internal listeners).
    /// On a shared bus the subscription becomes active shortly after.
    fn subscribe(&self, user_id: i64) -> broadcast::Receiver<Arc<Envelope>>;

    /// Deliveries (event × recipient) the bus could not take so far, e.g.
    /// while Redis was away (for metrics; the clients resync).
    fn undelivered(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_parse_strictly_and_compare_as_pairs() {
        let a = StreamId::parse("1700000000000-0").unwrap();
        let b = StreamId::parse("1700000000000-10").unwrap();
        let c = StreamId::parse("1700000000001-2").unwrap();
        assert!(a < b && b < c);
        // "…-10" would sort before "…-9" as text; as a pair it does not.
        assert!(StreamId::parse("5-9").unwrap() < StreamId::parse("5-10").unwrap());
        for bad in [
            "",
            "17",
            "1-",
            "-1",
            "a-1",
            "1-2-3",
            " 1-2",
            "+1-2",
            "1-99999999999999999999999",
        ] {
            assert_eq!(StreamId::parse(bad), None, "{bad:?}");
        }
        assert_eq!(c.to_string(), "1700000000001-2");
    }

    fn env(id: &str, n: i64) -> Arc<Envelope> {
        Arc::new(Envelope {
            id: id.into(),
            event: Event::ConversationCreated { conversation_id: n },
        })
    }

    #[tokio::test]
    async fn live_drops_what_the_replay_already_gave() {
        let (tx, rx) = broadcast::channel(8);
        let mut live = Live::new(rx).skip_through(StreamId::parse("10-1").unwrap());
        for (id, n) in [("10-0", 1), ("10-1", 2), ("", 3), ("10-2", 4), ("11-0", 5)] {
            tx.send(env(id, n)).unwrap();
        }
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(live.recv().await.unwrap().event.clone());
        }
        let n = |e: &Event| match e {
            Event::ConversationCreated { conversation_id } => *conversation_id,
            _ => 0,
        };
        assert_eq!(got.iter().map(n).collect::<Vec<_>>(), [3, 4, 5]);
    }
}
