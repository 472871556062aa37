//! The chat pane: header, messages (newest at the bottom, older loaded on
//! scrolling up), typing line and composer.

use chrono::{Duration, NaiveDate};
use leptos::html;
use leptos::prelude::*;
use shared::dto::messages::MessageDto;

use crate::app::BASE;
use crate::components::{Avatar, Composer, MessageRow};
use crate::i18n::{Strings, use_i18n};
use crate::state::chat::use_chat;
use crate::time;

/// Load older messages when the top is closer than this (px).
const LOAD_OLDER_MARGIN: i32 = 300;
/// Messages of one sender further apart than this start a new group.
const GROUP_GAP_MINUTES: i64 = 5;

/// State shared by the parts of one open chat.
#[derive(Debug, Clone, Copy)]
pub struct ChatUi {
    /// The message being answered.
    pub reply_to: RwSignal<Option<MessageDto>>,
    /// The own message being edited.
    pub editing: RwSignal<Option<MessageDto>>,
    /// The last failed action, shown above the composer.
    pub error: RwSignal<Option<String>>,
    pub composer: NodeRef<html::Textarea>,
    pub scroller: NodeRef<html::Div>,
}

impl ChatUi {
    pub fn focus_composer(&self) {
        if let Some(textarea) = self.composer.get_untracked() {
            let _ = textarea.focus();
        }
    }

    /// Shows the newest message.
    pub fn scroll_to_bottom(&self) {
        let scroller = self.scroller;
        request_animation_frame(move || {
            if let Some(el) = scroller.get_untracked() {
                // The list is `column-reverse`: 0 is the bottom.
                el.set_scroll_top(0);
            }
        });
    }
}

pub fn use_chat_ui() -> ChatUi {
    expect_context::<ChatUi>()
}

/// A read tick under my messages in a 1:1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    Sent,
    Read,
}

/// One message as the list draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub message: MessageDto,
    pub mine: bool,
    /// First of a run of one sender's messages (shows the name).
    pub first_in_group: bool,
    /// A date separator goes before this message.
    pub new_day: Option<NaiveDate>,
    pub tick: Option<Tick>,
    pub is_group: bool,
}

#[component]
pub fn ChatView(id: i64) -> impl IntoView {
    let ui = ChatUi {
        reply_to: RwSignal::new(None),
        editing: RwSignal::new(None),
        error: RwSignal::new(None),
        composer: NodeRef::new(),
        scroller: NodeRef::new(),
    };
    provide_context(ui);
    let chat = use_chat();
    let missing = move || chat.missing.with(|m| m.contains(&id));
    let i18n = use_i18n();

    view! {
        <Show
            when=move || !missing()
            fallback=move || {
                view! {
                    <div class="chat-empty">
                        <a class="icon-button chat__back" href=format!("{BASE}/")
                            aria-label=move || i18n.t().back_to_list>"←"</a>
                        <p class="chat-empty__text" role="alert">
                            {move || i18n.t().conversation_missing}
                        </p>
                    </div>
                }
            }
        >
            <section class="chat" data-testid="chat" data-conversation-id=id>
                <ChatHeader id=id />
                <MessageList id=id />
                <TypingLine id=id />
                <Composer id=id />
            </section>
        </Show>
    }
}

#[component]
fn ChatHeader(id: i64) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let name = move || {
        chat.details
            .with(|d| d.get(&id).map(|d| d.name.clone()))
            .or_else(|| {
                chat.conversations
                    .with(|l| l.iter().find(|c| c.id == id).map(|c| c.name.clone()))
            })
            .unwrap_or_default()
    };
    let members = move || {
        let me = chat.me.get();
        let you = i18n.t().you;
        chat.details.with(|d| {
            d.get(&id)
                .map(|d| {
                    let mut names: Vec<String> = d
                        .members
                        .iter()
                        .filter(|m| Some(m.id) != me)
                        .map(|m| m.name.clone())
                        .collect();
                    names.push(you.to_owned());
                    names.join(", ")
                })
                .unwrap_or_default()
        })
    };
    view! {
        <header class="chat__header">
            <a
                class="icon-button chat__back"
                href=format!("{BASE}/")
                data-testid="back-to-list"
                aria-label=move || i18n.t().back_to_list
                title=move || i18n.t().back_to_list
            >
                "←"
            </a>
            {move || view! { <Avatar name=name() /> }}
            <div class="chat__title">
                <h2 class="chat__name" data-testid="chat-name">{name}</h2>
                <p class="chat__members" aria-label=move || i18n.t().members_label>
                    {members}
                </p>
            </div>
        </header>
    }
}

#[component]
fn MessageList(id: i64) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let ui = use_chat_ui();

    let rows = Memo::new(move |_| {
        let me = chat.me.get();
        let (is_group, other_read) = chat.details.with(|d| match d.get(&id) {
            Some(detail) => (
                detail.is_group,
                detail
                    .members
                    .iter()
                    .find(|m| Some(m.id) != me)
                    .and_then(|m| m.last_read_message_id),
            ),
            None => (false, None),
        });
        chat.histories.with(|h| {
            let Some(history) = h.get(&id) else {
                return Vec::new();
            };
            let mut rows = Vec::with_capacity(history.items.len());
            let mut previous: Option<&MessageDto> = None;
            for message in &history.items {
                let sender = message.sender.as_ref().map(|s| s.id);
                let day = time::local_day(message.created_at);
                let new_day = match previous {
                    Some(p) if time::local_day(p.created_at) == day => None,
                    _ => Some(day),
                };
                let first_in_group = new_day.is_some()
                    || previous.is_none_or(|p| {
                        p.sender.as_ref().map(|s| s.id) != sender
                            || message.created_at - p.created_at
                                > Duration::minutes(GROUP_GAP_MINUTES)
                    });
                let mine = sender.is_some() && sender == me;
                let tick = (mine && !is_group && !message.is_deleted).then(|| {
                    if other_read.is_some_and(|read| read >= message.id) {
                        Tick::Read
                    } else {
                        Tick::Sent
                    }
                });
                rows.push(Row {
                    message: message.clone(),
                    mine,
                    first_in_group,
                    new_day,
                    tick,
                    is_group,
                });
                previous = Some(message);
            }
            rows
        })
    });

    let ids =
        Memo::new(move |_| rows.with(|rows| rows.iter().map(|r| r.message.id).collect::<Vec<_>>()));

    let has_more = move || {
        chat.histories
            .with(|h| h.get(&id).is_some_and(|h| h.has_more))
    };
    let loading_older = move || {
        chat.histories
            .with(|h| h.get(&id).is_some_and(|h| h.loading_older))
    };
    let loaded = move || chat.histories.with(|h| h.contains_key(&id));
    let failed = move || {
        chat.histories
            .with(|h| h.get(&id).is_some_and(|h| h.error.is_some()))
    };

    let on_scroll = move |_| {
        let Some(el) = ui.scroller.get_untracked() else {
            return;
        };
        // `column-reverse`: scroll_top is 0 at the bottom, negative above.
        let from_top = el.scroll_height() - el.client_height() + el.scroll_top();
        if from_top < LOAD_OLDER_MARGIN {
            chat.load_older(id);
        }
    };

    view! {
        <div
            class="chat__scroll"
            node_ref=ui.scroller
            on:scroll=on_scroll
            data-testid="message-scroller"
        >
            <div
                class="chat__messages"
                role="log"
                aria-label=move || i18n.t().messages_label
                data-testid="messages"
            >
                <Show when=has_more>
                    <button
                        type="button"
                        class="button button--secondary chat__older"
                        disabled=loading_older
                        on:click=move |_| chat.load_older(id)
                    >
                        {move || {
                            if loading_older() { i18n.t().loading } else { i18n.t().load_older }
                        }}
                    </button>
                </Show>
                <Show when=move || !loaded()>
                    <p class="chat__status" role="status">{move || i18n.t().loading}</p>
                </Show>
                <Show when=failed>
                    <p class="chat__status chat__status--error" role="alert">
                        {move || i18n.t().unexpected_error}
                        " "
                        <button
                            type="button"
                            class="button button--secondary"
                            on:click=move |_| chat.load_latest(id)
                        >
                            {move || i18n.t().retry}
                        </button>
                    </p>
                </Show>
                <Show when=move || loaded() && !failed() && rows.with(Vec::is_empty)>
                    <p class="chat__status">{move || i18n.t().empty_chat}</p>
                </Show>
                // Keyed by id: a changed message updates in place (focus and
                // hover stay); each row reads its own slice of `rows`.
                <For
                    each=move || ids.get()
                    key=|id| *id
                    children=move |id| {
                        let row = Memo::new(move |_| {
                            rows.with(|rows| {
                                rows.binary_search_by_key(&id, |r| r.message.id)
                                    .ok()
                                    .map(|i| rows[i].clone())
                            })
                        });
                        view! { <MessageRow row=row /> }
                    }
                />
            </div>
        </div>
    }
}

#[component]
fn TypingLine(id: i64) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let text = move || {
        chat.typing.with(|t| {
            let typists = t.get(&id)?;
            let t_ = i18n.t();
            match typists.as_slice() {
                [] => None,
                [one] => {
                    let first = one.name.split_whitespace().next().unwrap_or(&one.name);
                    Some(Strings::fill(t_.typing_one, "name", first))
                }
                _ => Some(t_.typing_many.to_owned()),
            }
        })
    };
    view! {
        <p class="chat__typing" aria-live="polite" data-testid="typing">
            {text}
        </p>
    }
}
