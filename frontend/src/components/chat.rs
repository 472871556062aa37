//! The chat pane: header, pinned bar, messages (newest at the bottom, older
//! loaded on scrolling up), typing line, composer and the chat's dialogs.

use chrono::Duration;
use leptos::html;
use leptos::prelude::*;
use shared::dto::messages::MessageDto;
use shared::dto::users::UserBrief;

use crate::app::BASE;
use crate::components::attachments::PendingFiles;
use crate::components::{
    ChatHeader, Composer, ForwardDialog, GroupSettingsDialog, MessageRow, MessageSearch, PinnedBar,
};
use crate::i18n::{Strings, use_i18n};
use crate::state::chat::{ChatStore, use_chat};
use crate::time;
use wasm_bindgen::JsCast;

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
    /// A short confirmation (e.g. "Forwarded to Anna"), shown likewise.
    pub notice: RwSignal<Option<String>>,
    pub composer: NodeRef<html::Textarea>,
    pub scroller: NodeRef<html::Div>,
    /// The message being forwarded (the forward dialog is open).
    pub forwarding: RwSignal<Option<MessageDto>>,
    /// The group settings dialog is open.
    pub group_settings: RwSignal<bool>,
    /// Files chosen for the next message.
    pub pending: PendingFiles,
    /// The search bar is open.
    pub searching: RwSignal<bool>,
}

impl ChatUi {
    pub fn focus_composer(&self) {
        if let Some(textarea) = self.composer.get_untracked() {
            let _ = textarea.focus();
        }
    }

    /// Scrolls to a message (paging back until it is loaded), focuses it
    /// and highlights it for a moment: pins and reply quotes.
    pub fn jump_to(&self, chat: ChatStore, conversation_id: i64, message_id: i64) {
        let error = self.error;
        leptos::task::spawn_local(async move {
            if !chat.reveal(conversation_id, message_id).await {
                return;
            }
            error.set(None);
            chat.flash.set(Some(message_id));
            request_animation_frame(move || {
                let Some(el) = document().get_element_by_id(&format!("message-{message_id}"))
                else {
                    return;
                };
                let options = web_sys::ScrollIntoViewOptions::new();
                options.set_block(web_sys::ScrollLogicalPosition::Center);
                el.scroll_into_view_with_scroll_into_view_options(&options);
                if let Ok(Some(bubble)) = el.query_selector(".message")
                    && let Ok(bubble) = bubble.dyn_into::<web_sys::HtmlElement>()
                {
                    let _ = bubble.focus();
                }
            });
            set_timeout(
                move || {
                    if chat.flash.get_untracked() == Some(message_id) {
                        chat.flash.set(None);
                    }
                },
                std::time::Duration::from_secs(2),
            );
        });
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
    pub new_day: Option<time::Day>,
    pub tick: Option<Tick>,
    pub is_group: bool,
    /// In groups: the members (not me, not the sender) whose read position
    /// is this message, i.e. who have read up to here and no further.
    pub readers: Vec<UserBrief>,
}

#[component]
pub fn ChatView(id: i64) -> impl IntoView {
    let ui = ChatUi {
        reply_to: RwSignal::new(None),
        editing: RwSignal::new(None),
        error: RwSignal::new(None),
        notice: RwSignal::new(None),
        composer: NodeRef::new(),
        scroller: NodeRef::new(),
        forwarding: RwSignal::new(None),
        group_settings: RwSignal::new(false),
        pending: PendingFiles::new(),
        searching: RwSignal::new(false),
    };
    provide_context(ui);
    let chat = use_chat();
    let missing = move || chat.missing.with(|m| m.contains(&id));
    let i18n = use_i18n();
    // Files dragged over the chat: a drop attaches them. Counted, since
    // dragenter/dragleave fire for every child crossed.
    let drag_depth = RwSignal::new(0i32);
    let carries_files = |ev: &web_sys::DragEvent| {
        ev.data_transfer()
            .is_some_and(|dt| dt.types().includes(&"Files".into(), 0))
    };

    view! {
        <Show
            when=move || !missing()
            fallback=move || {
                view! {
                    <div class="chat-empty">
                        <a class="icon-button chat__back" href=format!("{BASE}/")
                            aria-label=i18n.text(|t| t.back_to_list)>"←"</a>
                        <p class="chat-empty__text" role="alert">
                            {i18n.text(|t| t.conversation_missing)}
                        </p>
                    </div>
                }
            }
        >
            <section
                class="chat"
                class:chat--dropping=move || { drag_depth.get() > 0 }
                data-testid="chat"
                data-conversation-id=id
                on:dragenter=move |ev| {
                    if carries_files(&ev) {
                        ev.prevent_default();
                        drag_depth.update(|d| *d += 1);
                    }
                }
                on:dragover=move |ev| {
                    if carries_files(&ev) {
                        ev.prevent_default();
                    }
                }
                on:dragleave=move |ev| {
                    if carries_files(&ev) {
                        drag_depth.update(|d| *d = (*d - 1).max(0));
                    }
                }
                on:keydown=move |ev| {
                    // Ctrl/Cmd+F searches the conversation (the browser's
                    // page search would miss the messages not loaded).
                    if (ev.ctrl_key() || ev.meta_key()) && ev.key().eq_ignore_ascii_case("f") {
                        ev.prevent_default();
                        ui.searching.set(true);
                    }
                }
                on:drop=move |ev| {
                    drag_depth.set(0);
                    if carries_files(&ev) {
                        ev.prevent_default();
                        ui.pending.add(ev.data_transfer().and_then(|dt| dt.files()), i18n);
                        ui.focus_composer();
                    }
                }
            >
                <p class="chat__drop-hint" aria-hidden="true">
                    {i18n.text(|t| t.drop_files)}
                </p>
                <ChatHeader id=id />
                <PinnedBar id=id />
                <Show when=move || ui.searching.get()>
                    <MessageSearch id=id />
                </Show>
                <MessageList id=id />
                <TypingLine id=id />
                <Composer id=id />
                <ForwardDialog />
                <GroupSettingsDialog id=id />
            </section>
        </Show>
    }
}

#[component]
fn MessageList(id: i64) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let ui = use_chat_ui();

    let rows = Memo::new(move |_| {
        let me = chat.me.get();
        let (is_group, other_read, read_positions) = chat.details.with(|d| match d.get(&id) {
            Some(detail) => (
                detail.is_group,
                detail
                    .members
                    .iter()
                    .find(|m| Some(m.id) != me)
                    .and_then(|m| m.last_read_message_id),
                detail
                    .members
                    .iter()
                    .filter(|m| detail.is_group && Some(m.id) != me)
                    .filter_map(|m| {
                        let brief = UserBrief {
                            id: m.id,
                            name: m.name.clone(),
                        };
                        m.last_read_message_id.map(|read| (read, brief))
                    })
                    .collect::<Vec<_>>(),
            ),
            None => (false, None, Vec::new()),
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
                    readers: Vec::new(),
                });
                previous = Some(message);
            }
            // Each member's avatar goes under the newest loaded message
            // they have read (not under their own: that says nothing).
            for (read, member) in read_positions {
                let at = rows.partition_point(|r| r.message.id <= read);
                if let Some(row) = at.checked_sub(1).map(|i| &mut rows[i])
                    && row.message.sender.as_ref().map(|s| s.id) != Some(member.id)
                {
                    row.readers.push(member);
                }
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
                aria-label=i18n.text(|t| t.messages_label)
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
                    <p class="chat__status" role="status">{i18n.text(|t| t.loading)}</p>
                </Show>
                <Show when=failed>
                    <p class="chat__status chat__status--error" role="alert">
                        {i18n.text(|t| t.unexpected_error)}
                        " "
                        <button
                            type="button"
                            class="button button--secondary"
                            on:click=move |_| chat.load_latest(id)
                        >
                            {i18n.text(|t| t.retry)}
                        </button>
                    </p>
                </Show>
                <Show when=move || loaded() && !failed() && rows.with(Vec::is_empty)>
                    <p class="chat__status">{i18n.text(|t| t.empty_chat)}</p>
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
            {move || text()}
        </p>
    }
}
