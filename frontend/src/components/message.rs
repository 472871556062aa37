//! One message: bubble, reply quote, marks, reactions, and its actions
//! (reply, react, forward, pin, edit, delete) on hover or keyboard focus.

use chrono::Duration;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::ErrorCode;
use shared::dto::messages::{ALLOWED_EMOJI, LinkPreview};
use shared::dto::users::UserBrief;

use crate::api::ApiError;
use crate::components::Avatar;
use crate::components::attachments::MessageAttachments;
use crate::components::chat::{Row, Tick, use_chat_ui};
use crate::i18n::{Strings, use_i18n};
use crate::state::chat::use_chat;
use crate::time;

/// Own messages can be edited this long after sending.
const EDIT_WINDOW_HOURS: i64 = 24;

#[component]
pub fn MessageRow(
    /// This message's row, kept current by the list (`None` once it is gone).
    row: Memo<Option<Row>>,
) -> AnyView {
    let i18n = use_i18n();
    let chat = use_chat();
    let ui = use_chat_ui();
    let Some(initial) = row.get_untracked() else {
        return ().into_any();
    };
    // What never changes: who sent it, when, what it answers.
    let message = initial.message.clone();
    let mine = initial.mine;
    let is_group = initial.is_group;
    let id = message.id;
    let conversation_id = message.conversation_id;
    let picker_open = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    // The picker's options hide once one is chosen (or on Escape): the focus
    // goes back to the button that opened it instead of getting lost.
    let react_button = NodeRef::<leptos::html::Button>::new();
    let close_picker = move || {
        if picker_open.get_untracked() {
            picker_open.set(false);
            if let Some(button) = react_button.get_untracked() {
                let _ = button.focus();
            }
        }
    };

    // What does change, each part on its own.
    let first_in_group =
        Memo::new(move |_| row.with(|r| r.as_ref().is_some_and(|r| r.first_in_group)));
    let new_day = Memo::new(move |_| row.with(|r| r.as_ref().and_then(|r| r.new_day)));
    let deleted = Memo::new(move |_| row.with(|r| r.as_ref().is_none_or(|r| r.message.is_deleted)));
    let html =
        Memo::new(move |_| row.with(|r| r.as_ref().and_then(|r| r.message.content_html.clone())));
    let edited = Memo::new(move |_| {
        row.with(|r| {
            r.as_ref()
                .is_some_and(|r| r.message.edited_at.is_some() && !r.message.is_deleted)
        })
    });
    let tick = Memo::new(move |_| row.with(|r| r.as_ref().and_then(|r| r.tick)));
    let reactions = Memo::new(move |_| {
        row.with(|r| {
            r.as_ref()
                .map(|r| r.message.reactions.clone())
                .unwrap_or_default()
        })
    });
    let attachments = Memo::new(move |_| {
        row.with(|r| {
            r.as_ref()
                .map(|r| r.message.attachments.clone())
                .unwrap_or_default()
        })
    });
    let link_preview =
        Memo::new(move |_| row.with(|r| r.as_ref().and_then(|r| r.message.link_preview.clone())));
    let readers =
        Memo::new(move |_| row.with(|r| r.as_ref().map(|r| r.readers.clone()).unwrap_or_default()));
    let current = move || row.get_untracked().map(|r| r.message);
    let pinned = move || chat.is_pinned(conversation_id, id);

    let fail = move |err: ApiError| {
        leptos::logging::warn!("message action failed: {err}");
        let t = i18n.t();
        let text = match err.code() {
            Some(ErrorCode::EditWindowClosed) => t.edit_window_closed,
            _ if matches!(err, ApiError::Network(_)) => t.network_error,
            _ => t.action_failed,
        };
        ui.error.set(Some(text.to_owned()));
    };
    let toggle = move |emoji: String| {
        picker_open.set(false);
        spawn_local(async move {
            if let Err(err) = chat.toggle_reaction(conversation_id, id, emoji).await {
                fail(err);
            }
        });
    };

    let sender_name = message
        .sender
        .as_ref()
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let show_sender = move || is_group && !mine && first_in_group.get();
    let editable = move || {
        mine && !deleted.get()
            && time::now() - message.created_at < Duration::hours(EDIT_WINDOW_HOURS)
    };

    let day_separator = move || {
        new_day.get().map(|day| {
            view! {
                <div class="day-separator" role="separator">
                    <span>{move || time::day_label(day, chat.now.get(), i18n.t())}</span>
                </div>
            }
        })
    };

    let reply_quote = message.reply_to.clone().map(|reply| {
        let target = reply.id;
        view! {
            <a
                class="message__quote"
                href=format!("#message-{target}")
                on:click=move |ev| {
                    // The original may not be loaded yet: page back to it.
                    ev.prevent_default();
                    ui.jump_to(chat, conversation_id, target);
                }
            >
                <span class="message__quote-name">{reply.sender_name.clone()}</span>
                <span class="message__quote-text">
                    {move || {
                        if reply.is_deleted {
                            i18n.t().deleted_message.to_owned()
                        } else {
                            reply.preview.clone()
                        }
                    }}
                </span>
            </a>
        }
    });

    let body = move || {
        if deleted.get() {
            view! {
                <p class="message__deleted" data-testid="message-deleted">
                    {i18n.text(|t| t.deleted_message)}
                </p>
            }
            .into_any()
        } else {
            // Sanitized by the server (DESIGN §4), so it is safe as HTML.
            let html = html.get().unwrap_or_default();
            view! {
                <div class="message__content" data-testid="message-content" inner_html=html></div>
            }
            .into_any()
        }
    };

    let created_at = message.created_at;
    let tick_view = move || {
        tick.get().map(|tick| {
            let (glyph, label): (&str, fn(&Strings) -> &'static str) = match tick {
                Tick::Sent => ("✓", |t| t.tick_sent),
                Tick::Read => ("✓✓", |t| t.tick_read),
            };
            view! {
                <span
                    class="message__tick"
                    class:message__tick--read=tick == Tick::Read
                    data-testid="message-tick"
                    data-state=if tick == Tick::Read { "read" } else { "sent" }
                    role="img"
                    aria-label=move || label(i18n.t())
                    title=move || label(i18n.t())
                >
                    {glyph}
                </span>
            }
        })
    };

    let reaction_pills = move || {
        reactions
            .get()
            .into_iter()
            .map(|r| {
                let text = format!("{} {}", r.emoji, r.count);
                let aria = {
                    let (emoji, count) = (r.emoji.clone(), r.count.to_string());
                    move || {
                        Strings::fill(i18n.t().reaction_label, "emoji", &emoji)
                            .replace("{n}", &count)
                    }
                };
                let emoji = r.emoji;
                view! {
                    <button
                        type="button"
                        class="reaction"
                        class:reaction--mine=r.me
                        aria-pressed=r.me.to_string()
                        aria-label=aria
                        data-testid="reaction"
                        on:click=move |_| toggle(emoji.clone())
                    >
                        {text}
                    </button>
                }
            })
            .collect_view()
    };

    let emoji_options = ALLOWED_EMOJI
        .iter()
        .map(|emoji| {
            let emoji = *emoji;
            view! {
                <button
                    type="button"
                    class="emoji-picker__option"
                    aria-label=move || Strings::fill(i18n.t().react_with, "emoji", emoji)
                    on:click=move |_| {
                        close_picker();
                        toggle(emoji.to_owned());
                    }
                >
                    {emoji}
                </button>
            }
        })
        .collect_view();

    let actions = view! {
        <div
            class="message__actions"
            hidden=move || deleted.get()
            role="group"
            aria-label=i18n.text(|t| t.message_actions)
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    close_picker();
                    confirming.set(false);
                }
            }
        >
            <button
                type="button"
                class="icon-button"
                aria-label=i18n.text(|t| t.reply)
                title=i18n.text(|t| t.reply)
                on:click=move |_| {
                    ui.editing.set(None);
                    ui.reply_to.set(current());
                    ui.focus_composer();
                }
            >
                "↩"
            </button>
            <button
                type="button"
                class="icon-button"
                node_ref=react_button
                aria-label=i18n.text(|t| t.react)
                title=i18n.text(|t| t.react)
                aria-expanded=move || picker_open.get().to_string()
                on:click=move |_| picker_open.update(|open| *open = !*open)
            >
                "☺"
            </button>
            <button
                type="button"
                class="icon-button"
                aria-label=i18n.text(|t| t.forward)
                title=i18n.text(|t| t.forward)
                on:click=move |_| ui.forwarding.set(current())
            >
                "↪"
            </button>
            <button
                type="button"
                class="icon-button"
                aria-label=move || if pinned() { i18n.t().unpin } else { i18n.t().pin }
                title=move || if pinned() { i18n.t().unpin } else { i18n.t().pin }
                on:click=move |_| {
                    spawn_local(async move {
                        if let Err(err) = chat.toggle_pin(conversation_id, id).await {
                            fail(err);
                        }
                    });
                }
            >
                "📌"
            </button>
            <Show when=editable>
                <button
                    type="button"
                    class="icon-button"
                    aria-label=i18n.text(|t| t.edit)
                    title=i18n.text(|t| t.edit)
                    on:click=move |_| {
                        ui.reply_to.set(None);
                        ui.editing.set(current());
                        ui.focus_composer();
                    }
                >
                    "✎"
                </button>
                <button
                    type="button"
                    class="icon-button"
                    aria-label=i18n.text(|t| t.delete)
                    title=i18n.text(|t| t.delete)
                    on:click=move |_| confirming.set(true)
                >
                    "🗑"
                </button>
            </Show>
            <div
                class="emoji-picker"
                role="group"
                aria-label=i18n.text(|t| t.react)
                hidden=move || !picker_open.get()
            >
                {emoji_options}
            </div>
        </div>
    };

    let confirm = move || {
        confirming.get().then(|| {
            view! {
                <div
                    class="message__confirm"
                    role="group"
                    aria-label=i18n.text(|t| t.confirm_delete)
                >
                    <span>{i18n.text(|t| t.confirm_delete)}</span>
                    <button
                        type="button"
                        class="button button--danger"
                        data-testid="confirm-delete"
                        on:click=move |_| {
                            confirming.set(false);
                            spawn_local(async move {
                                if let Err(err) = chat.delete(conversation_id, id).await {
                                    fail(err);
                                }
                            });
                        }
                    >
                        {i18n.text(|t| t.delete)}
                    </button>
                    <button
                        type="button"
                        class="button button--secondary"
                        on:click=move |_| confirming.set(false)
                    >
                        {i18n.text(|t| t.cancel)}
                    </button>
                </div>
            }
        })
    };

    view! {
        <div
            class="message-row"
            class:message-row--mine=mine
            class:message-row--first=move || first_in_group.get()
            id=format!("message-{id}")
        >
            {move || day_separator()}
            <div
                class="message"
                class:message--mine=mine
                class:message--deleted=move || deleted.get()
                class:message--flash=move || chat.flash.get() == Some(id)
                tabindex="0"
                data-testid="message"
                data-message-id=id
            >
                {move || {
                    show_sender()
                        .then(|| {
                            view! { <span class="message__sender">{sender_name.clone()}</span> }
                        })
                }}
                {reply_quote}
                {message
                    .is_forwarded
                    .then(|| {
                        view! {
                            <span class="message__forwarded" data-testid="message-forwarded">
                                "↪ " {i18n.text(|t| t.forwarded)}
                            </span>
                        }
                    })}
                <div class="message__bubble">
                    {move || body()}
                    <span class="message__meta">
                        <Show when=move || pinned() && !deleted.get()>
                            <span
                                class="message__pinned"
                                data-testid="message-pinned"
                                role="img"
                                aria-label=i18n.text(|t| t.pinned_label)
                                title=i18n.text(|t| t.pinned_label)
                            >
                                "📌"
                            </span>
                        </Show>
                        <Show when=move || edited.get()>
                            <span class="message__edited" data-testid="message-edited">
                                {i18n.text(|t| t.edited)}
                            </span>
                        </Show>
                        <time
                            class="message__time"
                            datetime=created_at.to_rfc3339()
                            title=move || time::full(created_at, i18n.t())
                        >
                            {time::clock(created_at)}
                        </time>
                        {move || tick_view()}
                    </span>
                </div>
                <MessageAttachments items=attachments />
                {move || link_preview.get().and_then(link_card)}
                <div class="message__reactions">{move || reaction_pills()}</div>
                <ReadBy readers=readers />
                {actions}
                {move || confirm()}
            </div>
        </div>
    }
    .into_any()
}

/// A link preview card: the whole card is the link (to another site, so
/// it opens in a new tab without a referrer or a handle on this page).
fn link_card(preview: LinkPreview) -> Option<AnyView> {
    // The server only previews http(s) pages; anything else is not a link.
    if !(preview.url.starts_with("https://") || preview.url.starts_with("http://")) {
        return None;
    }
    let title = preview.title.clone().unwrap_or_else(|| preview.url.clone());
    let site = preview
        .site_name
        .clone()
        .unwrap_or_else(|| preview.url.split('/').nth(2).unwrap_or_default().to_owned());
    // The page's policy loads images over https only.
    let image = preview
        .image
        .filter(|src| src.starts_with("https://"))
        .map(|src| {
            view! {
                <img class="link-card__image" src=src alt="" loading="lazy" referrerpolicy="no-referrer" />
            }
        });
    Some(
        view! {
            <a
                class="link-card"
                href=preview.url
                target="_blank"
                rel="noopener noreferrer"
                data-testid="link-preview"
            >
                {image}
                <span class="link-card__text">
                    <span class="link-card__site">{site}</span>
                    <span class="link-card__title">{title}</span>
                    {preview
                        .description
                        .map(|d| view! { <span class="link-card__description">{d}</span> })}
                </span>
            </a>
        }
        .into_any(),
    )
}

/// The avatars of the group members who have read up to a message.
#[component]
fn ReadBy(readers: Memo<Vec<UserBrief>>) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        let readers = readers.get();
        (!readers.is_empty()).then(|| {
            let names = readers
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let label = move || Strings::fill(i18n.t().read_by, "names", &names);
            view! {
                <div class="read-by" role="img" aria-label=label data-testid="read-by">
                    {readers
                        .into_iter()
                        .map(|r| {
                            view! {
                                <span class="read-by__reader" data-testid="reader" data-user-id=r.id title=r.name.clone()>
                                    <Avatar name=r.name.clone() small=true />
                                </span>
                            }
                        })
                        .collect_view()}
                </div>
            }
        })
    }
}
