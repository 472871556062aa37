//! The top of an open chat: name, members or presence, the conversation's
//! actions (mute, archive, group settings, leave), and the pinned bar.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use shared::dto::conversations::UpdateSettings;

use crate::api::ApiError;
use crate::app::BASE;
use crate::components::chat::use_chat_ui;
use crate::components::{Avatar, PresenceDot, presence_line};
use crate::i18n::use_i18n;
use crate::state::chat::{plain_preview, use_chat};

#[component]
pub fn ChatHeader(id: i64) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let ui = use_chat_ui();
    let navigate = use_navigate();
    let confirm_leave = RwSignal::new(false);
    let busy = RwSignal::new(false);

    let name = move || {
        chat.details
            .with(|d| d.get(&id).map(|d| d.name.clone()))
            .or_else(|| chat.summary(id).map(|c| c.name))
            .unwrap_or_default()
    };
    let is_group = Memo::new(move |_| {
        chat.details
            .with(|d| d.get(&id).map(|d| d.is_group))
            .or_else(|| chat.summary(id).map(|c| c.is_group))
            .unwrap_or(false)
    });
    // The other person of a 1:1.
    let other = Memo::new(move |_| {
        if is_group.get() {
            return None;
        }
        let me = chat.me.get();
        chat.details
            .with(|d| {
                d.get(&id)
                    .and_then(|d| d.members.iter().find(|m| Some(m.id) != me).map(|m| m.id))
            })
            .or_else(|| {
                chat.summary(id)
                    .and_then(|c| c.members.iter().find(|m| Some(m.id) != me).map(|m| m.id))
            })
    });
    let muted = move || {
        chat.details
            .with(|d| d.get(&id).map(|d| d.is_muted))
            .or_else(|| chat.summary(id).map(|c| c.is_muted))
            .unwrap_or(false)
    };
    let archived = move || {
        chat.details
            .with(|d| d.get(&id).map(|d| d.is_archived))
            .or_else(|| chat.summary(id).map(|c| c.is_archived))
            .unwrap_or(false)
    };

    let subtitle = move || {
        let t = i18n.t();
        if let Some(user_id) = other.get() {
            return presence_line(chat, user_id, t).unwrap_or_default();
        }
        let me = chat.me.get();
        chat.details.with(|d| {
            d.get(&id)
                .map(|d| {
                    let mut names: Vec<String> = d
                        .members
                        .iter()
                        .filter(|m| Some(m.id) != me)
                        .map(|m| m.name.clone())
                        .collect();
                    names.push(t.you.to_owned());
                    names.join(", ")
                })
                .unwrap_or_default()
        })
    };

    let fail = move |err: ApiError| {
        leptos::logging::warn!("conversation action failed: {err}");
        let t = i18n.t();
        ui.error.set(Some(
            match err {
                ApiError::Network(_) => t.network_error,
                _ => t.action_failed,
            }
            .to_owned(),
        ));
    };
    let change = move |request: UpdateSettings| {
        busy.set(true);
        spawn_local(async move {
            let result = chat.update_settings(id, request).await;
            busy.set(false);
            if let Err(err) = result {
                fail(err);
            }
        });
    };
    let leave = move || {
        confirm_leave.set(false);
        let navigate = navigate.clone();
        spawn_local(async move {
            match chat.leave(id).await {
                Ok(()) => navigate("/", Default::default()),
                Err(err) => fail(err),
            }
        });
    };
    let leave = StoredValue::new_local(leave);

    view! {
        <header class="chat__header">
            <a
                class="icon-button chat__back"
                href=format!("{BASE}/")
                data-testid="back-to-list"
                aria-label=i18n.text(|t| t.back_to_list)
                title=i18n.text(|t| t.back_to_list)
            >
                "←"
            </a>
            <span class="avatar-wrap">
                {move || view! { <Avatar name=name() /> }}
                {move || other.get().map(|user_id| view! { <PresenceDot user_id=user_id /> })}
            </span>
            <div class="chat__title">
                <h2 class="chat__name" data-testid="chat-name">{move || name()}</h2>
                <p
                    class="chat__members"
                    data-testid="chat-subtitle"
                    aria-label=move || {
                        if is_group.get() { Some(i18n.t().members_label) } else { None }
                    }
                >
                    {move || subtitle()}
                </p>
            </div>
            <div class="chat__actions" role="group" aria-label=i18n.text(|t| t.chat_actions)>
                <button
                    type="button"
                    class="icon-button"
                    data-testid="open-message-search"
                    aria-pressed=move || ui.searching.get().to_string()
                    aria-label=i18n.text(|t| t.search_in_chat)
                    title=i18n.text(|t| t.search_in_chat)
                    on:click=move |_| ui.searching.update(|open| *open = !*open)
                >
                    "🔍"
                </button>
                <button
                    type="button"
                    class="icon-button"
                    data-testid="toggle-mute"
                    aria-pressed=move || muted().to_string()
                    aria-label=move || if muted() { i18n.t().unmute } else { i18n.t().mute }
                    title=move || if muted() { i18n.t().unmute } else { i18n.t().mute }
                    disabled=move || busy.get()
                    on:click=move |_| {
                        change(UpdateSettings {
                            is_muted: Some(!muted()),
                            is_archived: None,
                        })
                    }
                >
                    {move || if muted() { "🔕" } else { "🔔" }}
                </button>
                <button
                    type="button"
                    class="icon-button"
                    data-testid="toggle-archive"
                    aria-pressed=move || archived().to_string()
                    aria-label=move || {
                        if archived() { i18n.t().unarchive } else { i18n.t().archive }
                    }
                    title=move || if archived() { i18n.t().unarchive } else { i18n.t().archive }
                    disabled=move || busy.get()
                    on:click=move |_| {
                        change(UpdateSettings {
                            is_muted: None,
                            is_archived: Some(!archived()),
                        })
                    }
                >
                    "🗄"
                </button>
                <Show when=move || is_group.get()>
                    <button
                        type="button"
                        class="icon-button"
                        data-testid="open-group-settings"
                        aria-label=i18n.text(|t| t.group_settings)
                        title=i18n.text(|t| t.group_settings)
                        on:click=move |_| ui.group_settings.set(true)
                    >
                        "⚙"
                    </button>
                    <button
                        type="button"
                        class="icon-button"
                        data-testid="leave-group"
                        aria-label=i18n.text(|t| t.leave_group)
                        title=i18n.text(|t| t.leave_group)
                        on:click=move |_| confirm_leave.set(true)
                    >
                        "⎋"
                    </button>
                </Show>
            </div>
        </header>
        <Show when=move || confirm_leave.get()>
            <div class="chat__confirm" role="group" aria-label=i18n.text(|t| t.confirm_leave)>
                <span>{i18n.text(|t| t.confirm_leave)}</span>
                <button
                    type="button"
                    class="button button--danger"
                    data-testid="confirm-leave"
                    on:click=move |_| leave.with_value(|leave| leave())
                >
                    {i18n.text(|t| t.leave_group)}
                </button>
                <button
                    type="button"
                    class="button button--secondary"
                    on:click=move |_| confirm_leave.set(false)
                >
                    {i18n.text(|t| t.cancel)}
                </button>
            </div>
        </Show>
    }
}

/// The pinned messages of the conversation, under the header; a click
/// scrolls to the message.
#[component]
pub fn PinnedBar(id: i64) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let ui = use_chat_ui();
    let pins = move || chat.pins.with(|p| p.get(&id).cloned().unwrap_or_default());

    view! {
        <Show when=move || !pins().is_empty()>
            <section class="pinned" aria-label=i18n.text(|t| t.pinned_label) data-testid="pinned-bar">
                <ul class="pinned__items">
                    <For
                        each=pins
                        key=|pin| (pin.message.id, pin.message.edited_at, pin.message.is_deleted)
                        children=move |pin| {
                            let message_id = pin.message.id;
                            let sender = pin
                                .message
                                .sender
                                .as_ref()
                                .map(|s| s.name.clone())
                                .unwrap_or_default();
                            let text = plain_preview(pin.message.content.as_deref().unwrap_or_default());
                            view! {
                                <li class="pinned__item" data-testid="pin">
                                    <span aria-hidden="true">"📌"</span>
                                    <button
                                        type="button"
                                        class="pinned__jump"
                                        data-testid="pin-jump"
                                        on:click=move |_| ui.jump_to(chat, id, message_id)
                                    >
                                        <span class="pinned__sender">{sender}</span>
                                        " "
                                        <span class="pinned__text">{text}</span>
                                    </button>
                                    <button
                                        type="button"
                                        class="icon-button pinned__unpin"
                                        aria-label=i18n.text(|t| t.unpin)
                                        title=i18n.text(|t| t.unpin)
                                        on:click=move |_| {
                                            spawn_local(async move {
                                                if let Err(err) = chat.toggle_pin(id, message_id).await {
                                                    leptos::logging::warn!("unpin failed: {err}");
                                                    ui.error.set(Some(i18n.t().action_failed.to_owned()));
                                                }
                                            });
                                        }
                                    >
                                        "✕"
                                    </button>
                                </li>
                            }
                        }
                    />
                </ul>
            </section>
        </Show>
    }
}
