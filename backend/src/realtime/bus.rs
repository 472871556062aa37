//! The event-bus trait: publish an event to a set of users; open a user's
//! stream, replaying what they missed since `Last-Event-ID` and then live
//! events, with no gap and no duplicate. Publishing never fails the caller:
//! the data is already stored, and a client that missed events resyncs.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytestring::ByteString;
use shared::Event;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

/// An event with the id a client resumes from (`id:` on the wire). An empty
/// id marks a control event that is not part of the replayable sequence
/// (a `resync` sent when the bus itself may have missed events).
///
/// The event travels as its JSON, serialized once when it is published: a
/// message to 50 members is 50 frames of the same bytes (`ByteString`
/// clones share them), never 50 serializations or parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: String,
    /// The SSE `event:` name (the serde tag of [`Event`]).
    pub kind: ByteString,
    /// The event's JSON, exactly as the client receives it in `data:`.
    pub data: ByteString,
}

impl Envelope {
    /// Serializes `event` (the only place an event becomes JSON).
    pub fn new(id: String, event: &Event) -> Self {
        let data = serde_json::to_string(event).unwrap_or_else(|e| {
            // Unreachable for the plain data in `Event`; never a panic.
            tracing::error!(error = %e, kind = event.kind(), "event not serializable");
            "{}".into()
        });
        Self {
            id,
            kind: ByteString::from_static(event.kind()),
            data: data.into(),
        }
    }

    /// An event that arrives as JSON (from Redis). The kind is read from
    /// the leading serde tag, `{"type":"<kind>",…`, which serde writes first
    /// for the internally tagged `Event`; anything else is parsed in full.
    pub fn from_json(id: String, data: impl Into<ByteString>) -> Option<Self> {
        let data: ByteString = data.into();
        let kind = match tag_of(&data) {
            Some(kind) => ByteString::from(kind),
            None => ByteString::from_static(serde_json::from_str::<Event>(&data).ok()?.kind()),
        };
        Some(Self { id, kind, data })
    }

    /// "Refetch: events may have been missed" (no id, never replayed).
    pub fn resync() -> Self {
        Self::new(String::new(), &Event::Resync {})
    }

    /// The event itself, parsed back (tests and internal listeners; the
    /// stream sends `data` as it is).
    pub fn event(&self) -> Event {
        serde_json::from_str(&self.data).unwrap_or(Event::Resync {})
    }
}

/// `<kind>` of a JSON text starting `{"type":"<kind>"` (a snake_case name).
fn tag_of(json: &str) -> Option<&str> {
    let rest = json.strip_prefix(r#"{"type":""#)?;
    let (kind, _) = rest.split_once('"')?;
    (!kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')).then_some(kind)
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

/// Live delivery to the local streams of one user: one bounded queue per
/// stream (a tokio mpsc channel, whose memory grows in blocks of 32 as it
/// fills, so an idle stream costs a few hundred bytes rather than
/// `capacity` preallocated slots). A stream whose queue is full is cut off:
/// it still gets what is queued, then ends, and resumes by `Last-Event-ID`.
pub struct Fanout {
    capacity: usize,
    subs: Vec<Sub>,
}

struct Sub {
    tx: mpsc::Sender<Arc<Envelope>>,
    lagged: Arc<AtomicBool>,
}

impl Fanout {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            subs: Vec::new(),
        }
    }

    pub fn subscribe(&mut self) -> Subscription {
        let (tx, rx) = mpsc::channel(self.capacity);
        let lagged = Arc::new(AtomicBool::new(false));
        self.subs.push(Sub {
            tx,
            lagged: lagged.clone(),
        });
        Subscription { rx, lagged }
    }

    /// Queues `env` for every stream; drops streams that went away or are
    /// too slow (their queue is full).
    pub fn send(&mut self, env: &Arc<Envelope>) {
        self.subs.retain(|s| match s.tx.try_send(env.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                s.lagged.store(true, Ordering::Relaxed);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    /// Streams still listening.
    pub fn receiver_count(&self) -> usize {
        self.subs.iter().filter(|s| !s.tx.is_closed()).count()
    }
}

/// One stream's queue of a user's live events (see [`Fanout`]).
pub struct Subscription {
    rx: mpsc::Receiver<Arc<Envelope>>,
    lagged: Arc<AtomicBool>,
}

impl Subscription {
    /// The next envelope. `Lagged` once the queue overflowed and what was
    /// queued before is consumed; `Closed` when the bus let go.
    pub async fn recv(&mut self) -> Result<Arc<Envelope>, RecvError> {
        match self.rx.recv().await {
            Some(env) => Ok(env),
            None if self.lagged.load(Ordering::Relaxed) => Err(RecvError::Lagged(1)),
            None => Err(RecvError::Closed),
        }
    }

    /// The next envelope if one is queued (tests).
    pub fn try_recv(&mut self) -> Result<Arc<Envelope>, mpsc::error::TryRecvError> {
        self.rx.try_recv()
    }
}

/// The live half of an opened stream: a bounded receiver of the user's
/// events. Envelopes at or below `floor` were already replayed and are
/// dropped (the subscription starts before the replay is read, so the two
/// overlap). Whatever `release` holds is dropped after the receiver, so a
/// bus can notice the last local listener of a user going away.
pub struct Live {
    rx: Subscription,
    floor: Option<StreamId>,
    _release: Option<Box<dyn Any + Send + Sync>>,
}

impl Live {
    pub fn new(rx: Subscription) -> Self {
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
    fn subscribe(&self, user_id: i64) -> Subscription;

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
        Arc::new(Envelope::new(
            id.into(),
            &Event::ConversationCreated { conversation_id: n },
        ))
    }

    #[tokio::test]
    async fn live_drops_what_the_replay_already_gave() {
        let mut fanout = Fanout::new(8);
        let mut live = Live::new(fanout.subscribe()).skip_through(StreamId::parse("10-1").unwrap());
        for (id, n) in [("10-0", 1), ("10-1", 2), ("", 3), ("10-2", 4), ("11-0", 5)] {
            fanout.send(&env(id, n));
        }
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(live.recv().await.unwrap().event());
        }
        let n = |e: &Event| match e {
            Event::ConversationCreated { conversation_id } => *conversation_id,
            _ => 0,
        };
        assert_eq!(got.iter().map(n).collect::<Vec<_>>(), [3, 4, 5]);
    }

    #[tokio::test]
    async fn a_full_queue_cuts_the_stream_off_after_what_it_holds() {
        let mut fanout = Fanout::new(2);
        let mut slow = fanout.subscribe();
        let mut fast = fanout.subscribe();
        for n in 0..3 {
            fanout.send(&env("", n));
            // The fast stream keeps up.
            assert!(fast.recv().await.is_ok());
        }
        assert_eq!(fanout.receiver_count(), 1);
        assert!(slow.recv().await.is_ok());
        assert!(slow.recv().await.is_ok());
        assert!(matches!(slow.recv().await, Err(RecvError::Lagged(_))));
        drop(fast);
        assert_eq!(fanout.receiver_count(), 0);
        fanout.send(&env("", 9));
        drop(fanout);
        let mut gone = Fanout::new(2).subscribe();
        assert!(matches!(gone.recv().await, Err(RecvError::Closed)));
    }

    #[test]
    fn envelopes_from_json_read_the_kind_from_the_tag() {
        let event = Event::ConversationCreated { conversation_id: 9 };
        let sent = Envelope::new("1-0".into(), &event);
        assert_eq!(&*sent.kind, "conversation_created");
        let got = Envelope::from_json("1-0".into(), sent.data.clone()).unwrap();
        assert_eq!(got, sent);
        assert_eq!(got.event(), event);
        // Not in serde's tag-first form: parsed in full, still right.
        let reordered = r#"{"conversation_id":9,"type":"conversation_created"}"#;
        let got = Envelope::from_json("1-0".into(), reordered).unwrap();
        assert_eq!(&*got.kind, "conversation_created");
        assert_eq!(got.event(), event);
        assert_eq!(Envelope::from_json("1-0".into(), "not json"), None);
        assert_eq!(tag_of(r#"{"type":"X\"y"}"#), None);
    }
}
