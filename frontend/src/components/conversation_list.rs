//! The left pane: search, "New message", the archive toggle, and the
//! conversations, most recently active first.

use leptos::prelude::*;
use shared::dto::conversations::ConversationSummary;

use crate::app::BASE;
use crate::components::{Avatar, NewConversationDialog, PresenceDot};
use crate::i18n::{Strings, use_i18n};
use crate::state::chat::{activity, use_chat};
use crate::text::lower;
use crate::time;

#[component]
pub fn ConversationList() -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let query = RwSignal::new(String::new());
    let dialog_open = RwSignal::new(false);
    // Opening a conversation re-renders the two items whose state changed,
    // not every item of a long list.
    let open = Selector::new(move || chat.open.get());

    let archive = chat.show_archived;
    let source = move || {
        if archive.get() {
            chat.archived
        } else {
            chat.conversations
        }
    };
    let filtered = Memo::new(move |_| {
        let q = query.with(|q| lower(q.trim()));
        source().with(|list| {
            list.iter()
                .filter(|c| {
                    q.is_empty()
                        || lower(&c.name).contains(&q)
                        || c.members.iter().any(|m| lower(&m.name).contains(&q))
                })
                .cloned()
                .collect::<Vec<_>>()
        })
    });

    let empty_text = move || {
        let t = i18n.t();
        if archive.get() {
            if !chat.archived_loaded.get() {
                return Some(t.loading);
            }
        } else if !chat.list_loaded.get() {
            return Some(t.loading);
        } else if chat.list_error.with(Option::is_some) {
            return Some(t.unexpected_error);
        }
        if source().with(Vec::is_empty) {
            Some(if archive.get() {
                t.no_archived
            } else {
                t.no_conversations
            })
        } else if filtered.with(Vec::is_empty) {
            Some(t.no_matches)
        } else {
            None
        }
    };

    view! {
        <div class="conversation-list">
            <div class="conversation-list__top">
                <h2 class="conversation-list__title">
                    {move || {
                        if archive.get() {
                            i18n.t().archived_view
                        } else {
                            i18n.t().conversations_label
                        }
                    }}
                </h2>
                <button
                    type="button"
                    class="icon-button conversation-list__archive"
                    data-testid="archive-toggle"
                    aria-pressed=move || archive.get().to_string()
                    aria-label=i18n.text(|t| t.archived_view)
                    title=i18n.text(|t| t.archived_view)
                    on:click=move |_| {
                        let show = !archive.get_untracked();
                        archive.set(show);
                        if show {
                            chat.load_archived();
                        }
                    }
                >
                    "🗄"
                </button>
                <button
                    type="button"
                    class="button button--primary conversation-list__new"
                    data-testid="new-conversation"
                    on:click=move |_| dialog_open.set(true)
                >
                    <span aria-hidden="true">"✎"</span>
                    {i18n.text(|t| t.new_message)}
                </button>
            </div>
            <input
                class="field__input conversation-list__search"
                type="search"
                aria-label=i18n.text(|t| t.search_conversations)
                placeholder=i18n.text(|t| t.search_conversations)
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
            />
            <p class="conversation-list__empty" role="status">
                {move || empty_text()}
            </p>
            <ul class="conversation-list__items" data-testid="conversation-list">
                <For
                    each=move || filtered.get()
                    key=item_key
                    children=move |summary| {
                        view! { <ConversationItem summary=summary open=open.clone() /> }
                    }
                />
            </ul>
            <NewConversationDialog open=dialog_open />
        </div>
    }
}

/// Everything an item shows, so a changed conversation is drawn again.
fn item_key(c: &ConversationSummary) -> String {
    let last = c
        .last_message
        .as_ref()
        .map(|m| format!("{}:{}:{}", m.id, m.is_deleted, m.preview));
    format!(
        "{}|{}|{}|{}|{}|{:?}",
        c.id, c.name, c.unread_count, c.is_muted, c.is_archived, last
    )
}

#[component]
fn ConversationItem(
    summary: ConversationSummary,
    /// Which conversation is open.
    open: Selector<Option<i64>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let id = summary.id;
    let active = move || open.selected(&Some(id));
    let unread = summary.unread_count;
    let at = activity(&summary);
    let name = summary.name.clone();
    let last = summary.last_message.clone();
    let preview = move || {
        let t: &Strings = i18n.t();
        let Some(last) = &last else {
            return String::new();
        };
        let mine = last.sender.as_ref().map(|s| s.id) == chat.me.get();
        let text = if last.is_deleted {
            t.deleted_message.to_owned()
        } else {
            last.preview.clone()
        };
        if mine {
            format!("{}{text}", t.you_prefix)
        } else {
            text
        }
    };
    let unread_label = move || Strings::fill(i18n.t().unread_count, "n", &unread.to_string());
    // The other person of a 1:1, for the presence dot.
    let other = (!summary.is_group)
        .then(|| {
            let me = chat.me.get_untracked();
            summary
                .members
                .iter()
                .find(|m| Some(m.id) != me)
                .map(|m| m.id)
        })
        .flatten();

    view! {
        <li class="conversation-item" class:conversation-item--unread={unread > 0}>
            <a
                class="conversation-item__link"
                class:conversation-item__link--active=active.clone()
                href=format!("{BASE}/{id}")
                aria-current=move || active().then_some("page")
                data-testid="conversation-item"
                data-conversation-id=id
            >
                <span class="avatar-wrap">
                    <Avatar name=name.clone() />
                    {other.map(|user_id| view! { <PresenceDot user_id=user_id /> })}
                </span>
                <span class="conversation-item__text">
                    <span class="conversation-item__row">
                        <span class="conversation-item__name">{name.clone()}</span>
                        <span class="conversation-item__time">
                            {move || time::relative(at, chat.now.get(), i18n.t())}
                        </span>
                    </span>
                    <span class="conversation-item__row">
                        <span class="conversation-item__preview">{move || preview()}</span>
                        {summary
                            .is_muted
                            .then(|| {
                                view! {
                                    <span
                                        class="conversation-item__muted"
                                        role="img"
                                        data-testid="muted-mark"
                                        aria-label=i18n.text(|t| t.muted)
                                        title=i18n.text(|t| t.muted)
                                    >
                                        "🔕"
                                    </span>
                                }
                            })}
                        {summary
                            .is_archived
                            .then(|| {
                                view! {
                                    <span
                                        class="conversation-item__muted"
                                        role="img"
                                        data-testid="archived-mark"
                                        aria-label=i18n.text(|t| t.archived)
                                        title=i18n.text(|t| t.archived)
                                    >
                                        "🗄"
                                    </span>
                                }
                            })}
                        {(unread > 0)
                            .then(|| {
                                view! {
                                    <span
                                        class="conversation-item__badge"
                                        class:conversation-item__badge--muted=summary.is_muted
                                        data-testid="unread-badge"
                                        aria-label=unread_label
                                        title=unread_label
                                    >
                                        {unread}
                                    </span>
                                }
                            })}
                    </span>
                </span>
            </a>
        </li>
    }
}
