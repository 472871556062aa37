//! The one event stream of the app (`EventSource` on
//! `GET /api/messages/stream`) and the timers of a signed-in session
//! (heartbeat, presence refresh, typing expiry, the clock for relative
//! times). Events go straight into the [`ChatStore`].

use std::cell::RefCell;
use std::time::Duration;

use chrono::Utc;
use leptos::prelude::*;
use leptos::task::spawn_local;
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
    if let Ok(handle) =
        set_interval_with_handle(move || store.now.set(Utc::now()), Duration::from_secs(30))
    {
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
            match serde_json::from_str::<Event>(&data) {
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
