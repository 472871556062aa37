//! The one event stream of the app (`EventSource` on
//! `GET /api/messages/stream`) and the timers of a signed-in session
//! (heartbeat, presence refresh, typing expiry, the clock for relative
//! times). Events go straight into the [`ChatStore`].

use std::cell::RefCell;
use std::time::Duration;

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use shared::dto::messages::{MessageDto, ReactionSummary};
use shared::dto::users::UserBrief;
use shared::events::Event;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

use super::chat::{ChatStore, Connection};
use crate::api;

/// Every event name the server sends (the `event:` field = the type).
const EVENT_KINDS: [&str; 16] = [
    "connected",
    "resync",
    "new_message",
    "message_edited",
    "message_deleted",
    "reaction",
    "message_pinned",
    "message_unpinned",
    "message_read",
    "typing",
    "presence",
    "conversation_created",
    "conversation_updated",
    "conversation_deleted",
    "member_added",
    "member_removed",
];

const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);
const PRESENCE_EVERY: Duration = Duration::from_secs(60);
/// When the browser gave up on the stream (e.g. a 401 or 5xx answer), the
/// next try is ours.
const RECONNECT_AFTER: Duration = Duration::from_secs(3);

/// What a running session holds; dropped (and closed) by [`stop`].
struct Session {
    source: Option<EventSource>,
    listeners: Vec<Closure<dyn FnMut(MessageEvent)>>,
    on_open: Option<Closure<dyn FnMut(web_sys::Event)>>,
    on_error: Option<Closure<dyn FnMut(web_sys::Event)>>,
    timers: Vec<IntervalHandle>,
    /// Bumped by every start/stop, so a late reconnect timer does nothing.
    generation: u64,
}

thread_local! {
    static SESSION: RefCell<Session> = const {
        RefCell::new(Session {
            source: None,
            listeners: Vec::new(),
            on_open: None,
            on_error: None,
            timers: Vec::new(),
            generation: 0,
        })
    };
}

/// Opens the stream and starts the timers (idempotent per sign-in).
pub fn start(store: ChatStore) {
    stop();
    let generation = SESSION.with_borrow(|s| s.generation);
    store.connection.set(Connection::Connecting);
    connect(store, generation);

    let mut timers = Vec::new();
    if let Ok(handle) = set_interval_with_handle(
        || {
            spawn_local(async {
                if let Err(err) = api::heartbeat().await {
                    leptos::logging::warn!("heartbeat failed: {err}");
                }
            })
        },
        HEARTBEAT_EVERY,
    ) {
        timers.push(handle);
    }
    // Presence of the people on screen; `presence` events update it between.
    if let Ok(handle) = set_interval_with_handle(move || store.refresh_presence(), PRESENCE_EVERY) {
        timers.push(handle);
    }
    if let Ok(handle) =
        set_interval_with_handle(move || store.expire_typing(), Duration::from_secs(1))
    {
        timers.push(handle);
    }
    if let Ok(handle) = set_interval_with_handle(
        move || store.now.set(crate::time::now()),
        Duration::from_secs(30),
    ) {
        timers.push(handle);
    }
    // Still not open after a few seconds: say so.
    set_timeout(
        move || {
            if SESSION.with_borrow(|s| s.generation) == generation
                && store.connection.get_untracked() == Connection::Connecting
            {
                store.connection.set(Connection::Lost);
            }
        },
        Duration::from_secs(4),
    );
    SESSION.with_borrow_mut(|s| s.timers = timers);
}

/// Closes the stream and stops the timers (sign-out).
pub fn stop() {
    SESSION.with_borrow_mut(|s| {
        s.generation += 1;
        close_source(s);
        for timer in s.timers.drain(..) {
            timer.clear();
        }
    });
}

fn close_source(s: &mut Session) {
    if let Some(source) = s.source.take() {
        source.close();
    }
    s.listeners.clear();
    s.on_open = None;
    s.on_error = None;
}

fn connect(store: ChatStore, generation: u64) {
    let source = match EventSource::new(&api::event_stream_url()) {
        Ok(source) => source,
        Err(err) => {
            leptos::logging::warn!("cannot open the event stream: {err:?}");
            store.connection.set(Connection::Lost);
            return;
        }
    };

    let mut listeners = Vec::with_capacity(EVENT_KINDS.len());
    for kind in EVENT_KINDS {
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let Some(data) = ev.data().as_string() else {
                return;
            };
            match parse_event(kind, &data) {
                Ok(event) => store.apply(event),
                Err(err) => leptos::logging::warn!("unreadable {kind} event: {err}"),
            }
        });
        let _ = source.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
        listeners.push(listener);
    }

    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        store.connection.set(Connection::Open);
    });
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));

    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        store.connection.set(Connection::Lost);
        let closed = SESSION.with_borrow(|s| {
            s.source
                .as_ref()
                .is_some_and(|source| source.ready_state() == EventSource::CLOSED)
        });
        if closed {
            // The browser only retries on network errors; after an error
            // answer we retry ourselves (and resync: events may be lost).
            set_timeout(
                move || {
                    if SESSION.with_borrow(|s| s.generation) == generation {
                        SESSION.with_borrow_mut(close_source);
                        connect(store, generation);
                        store.resync();
                    }
                },
                RECONNECT_AFTER,
            );
        }
    });
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));

    SESSION.with_borrow_mut(|s| {
        s.source = Some(source);
        s.listeners = listeners;
        s.on_open = Some(on_open);
        s.on_error = Some(on_error);
    });
}

/// Reads the data of one stream event whose SSE event name is `kind`.
///
/// Not `serde_json::from_str::<Event>`: `Event` is internally tagged (the
/// `type` inside the object), which serde can read only by buffering the
/// object into its generic `Content` tree and deserializing every variant
/// again from that: a second copy of the whole message deserializer in the
/// wasm (about 35 KB before wasm-opt). The event name already says the type,
/// so the data is read as the externally tagged `{"<kind>": data}` through
/// [`EventDef`], straight from the text (the data's own `type` is ignored).
fn parse_event(kind: &str, data: &str) -> Result<Event, serde_json::Error> {
    let tagged = format!("{{\"{kind}\":{data}}}");
    let mut de = serde_json::Deserializer::from_str(&tagged);
    let event = EventDef::deserialize(&mut de)?;
    de.end()?;
    Ok(event)
}

/// The variants of [`Event`], externally tagged, for [`parse_event`]. Must
/// list them all, field for field (the remote derive checks the fields of
/// each variant listed; `every_event_reads_back` that none is missing).
#[derive(Deserialize)]
#[serde(remote = "Event", rename_all = "snake_case")]
#[allow(dead_code)]
enum EventDef {
    Connected {
        user_id: i64,
    },
    Resync {},
    NewMessage {
        message: MessageDto,
    },
    MessageEdited {
        message: MessageDto,
    },
    MessageDeleted {
        conversation_id: i64,
        message_id: i64,
    },
    Reaction {
        conversation_id: i64,
        message_id: i64,
        reactions: Vec<ReactionSummary>,
    },
    MessagePinned {
        conversation_id: i64,
        message_id: i64,
        pinned_by: Option<UserBrief>,
    },
    MessageUnpinned {
        conversation_id: i64,
        message_id: i64,
    },
    MessageRead {
        conversation_id: i64,
        user_id: i64,
        last_read_message_id: Option<i64>,
    },
    Typing {
        conversation_id: i64,
        user_id: i64,
        user_name: String,
    },
    Presence {
        user_id: i64,
        online: bool,
        last_seen: Option<DateTime<Utc>>,
    },
    ConversationCreated {
        conversation_id: i64,
    },
    ConversationUpdated {
        conversation_id: i64,
    },
    ConversationDeleted {
        conversation_id: i64,
    },
    MemberAdded {
        conversation_id: i64,
        user_id: i64,
    },
    MemberRemoved {
        conversation_id: i64,
        user_id: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_reads_back() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let brief = UserBrief {
            id: 2,
            name: "Anna".into(),
        };
        let message = MessageDto {
            id: 5,
            conversation_id: 1,
            sender: Some(brief.clone()),
            content: Some("hej".into()),
            content_html: Some("<p>hej</p>".into()),
            created_at: at,
            edited_at: None,
            is_deleted: false,
            is_forwarded: false,
            reply_to: None,
            reactions: Vec::new(),
            attachments: Vec::new(),
            link_preview: None,
            client_id: None,
        };
        let events = [
            Event::Connected { user_id: 1 },
            Event::Resync {},
            Event::NewMessage {
                message: message.clone(),
            },
            Event::MessageEdited { message },
            Event::MessageDeleted {
                conversation_id: 1,
                message_id: 5,
            },
            Event::Reaction {
                conversation_id: 1,
                message_id: 5,
                reactions: Vec::new(),
            },
            Event::MessagePinned {
                conversation_id: 1,
                message_id: 5,
                pinned_by: Some(brief),
            },
            Event::MessageUnpinned {
                conversation_id: 1,
                message_id: 5,
            },
            Event::MessageRead {
                conversation_id: 1,
                user_id: 2,
                last_read_message_id: Some(5),
            },
            Event::Typing {
                conversation_id: 1,
                user_id: 2,
                user_name: "Anna".into(),
            },
            Event::Presence {
                user_id: 2,
                online: false,
                last_seen: Some(at),
            },
            Event::ConversationCreated { conversation_id: 1 },
            Event::ConversationUpdated { conversation_id: 1 },
            Event::ConversationDeleted { conversation_id: 1 },
            Event::MemberAdded {
                conversation_id: 1,
                user_id: 2,
            },
            Event::MemberRemoved {
                conversation_id: 1,
                user_id: 2,
            },
        ];
        assert_eq!(events.len(), EVENT_KINDS.len());
        for (event, kind) in events.into_iter().zip(EVENT_KINDS) {
            let data = serde_json::to_string(&event).unwrap();
            assert!(data.contains(&format!("\"type\":\"{kind}\"")), "{data}");
            assert_eq!(parse_event(kind, &data).unwrap(), event);
        }
    }
}
