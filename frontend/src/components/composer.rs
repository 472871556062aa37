//! Writing a message: Enter sends, Shift+Enter is a new line; reply and edit
//! modes with a cancel button; a draft per conversation; the typing signal;
//! files attached by a button or a paste (or a drop on the chat), sent as
//! `attachment_ids` once uploaded.

use leptos::ev::{KeyboardEvent, SubmitEvent};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::dto::messages::{MAX_MESSAGE_CHARS, SendMessage};

use crate::api::ApiError;
use crate::components::attachments::{PendingChips, UploadState};
use crate::components::chat::use_chat_ui;
use crate::i18n::{Strings, use_i18n};
use crate::state::chat::use_chat;

/// At most one typing signal per this many milliseconds.
const TYPING_EVERY_MS: f64 = 2_000.0;

#[component]
pub fn Composer(id: i64) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let ui = use_chat_ui();

    let text = RwSignal::new(chat.draft(id));
    let sending = RwSignal::new(false);
    let last_typing = StoredValue::new(0.0f64);
    // The idempotency key of the text that failed to send, reused when the
    // same text is sent again (so a retry cannot duplicate it).
    let pending = StoredValue::new(None::<(String, String)>);

    // Edit mode takes the message's text; leaving it brings the draft back.
    Effect::new(move |was_editing: Option<bool>| {
        let editing = ui.editing.get();
        match &editing {
            Some(message) => text.set(message.content.clone().unwrap_or_default()),
            None if was_editing == Some(true) => text.set(chat.draft(id)),
            None => {}
        }
        editing.is_some()
    });

    let cancel_mode = move || {
        ui.reply_to.set(None);
        ui.editing.set(None);
        ui.focus_composer();
    };

    let submit = move || {
        if sending.get_untracked() {
            return;
        }
        let content = text.get_untracked().trim().to_owned();
        let editing = ui.editing.with_untracked(Option::is_some);
        let attachment_ids = if editing {
            Vec::new()
        } else {
            ui.pending.ids()
        };
        if !editing && ui.pending.busy() {
            ui.error.set(Some(i18n.t().wait_for_uploads.to_owned()));
            return;
        }
        if content.is_empty() && attachment_ids.is_empty() {
            return;
        }
        if content.chars().count() > MAX_MESSAGE_CHARS {
            ui.error.set(Some(i18n.t().send_failed.to_owned()));
            return;
        }
        sending.set(true);
        ui.error.set(None);
        ui.notice.set(None);
        if let Some(message) = ui.editing.get_untracked() {
            spawn_local(async move {
                let result = chat.edit(message.id, content).await;
                sending.set(false);
                match result {
                    Ok(()) => ui.editing.set(None),
                    Err(err) => show_error(err, i18n.t(), ui.error),
                }
            });
            return;
        }
        // The same text with the same files is the same message.
        let what = format!("{content}\u{0}{attachment_ids:?}");
        let client_id = pending
            .with_value(|p| {
                p.as_ref()
                    .filter(|(c, _)| *c == what)
                    .map(|(_, id)| id.clone())
            })
            .unwrap_or_else(uuid_v4);
        pending.set_value(Some((what, client_id.clone())));
        let request = SendMessage {
            content,
            reply_to_id: ui.reply_to.get_untracked().map(|m| m.id),
            attachment_ids,
            client_id: Some(client_id),
        };
        spawn_local(async move {
            let result = chat.send(id, request).await;
            sending.set(false);
            match result {
                Ok(()) => {
                    pending.set_value(None);
                    ui.pending.clear();
                    text.set(String::new());
                    chat.set_draft(id, String::new());
                    ui.reply_to.set(None);
                    ui.scroll_to_bottom();
                }
                // The text stays in the composer for another try.
                Err(err) => show_error(err, i18n.t(), ui.error),
            }
        });
    };

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        submit();
        ui.focus_composer();
    };

    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            submit();
        } else if ev.key() == "Escape"
            && (ui.reply_to.with_untracked(Option::is_some)
                || ui.editing.with_untracked(Option::is_some))
        {
            ev.prevent_default();
            cancel_mode();
        }
    };

    let on_input = move |ev| {
        let value = event_target_value(&ev);
        if ui.editing.with_untracked(Option::is_none) {
            chat.set_draft(id, value.clone());
            let now = js_sys::Date::now();
            if !value.trim().is_empty() && now - last_typing.get_value() >= TYPING_EVERY_MS {
                last_typing.set_value(now);
                chat.signal_typing(id);
            }
        }
        text.set(value);
    };

    // Files pasted into the text field (e.g. a screenshot) are attached.
    let on_paste = move |ev: web_sys::ClipboardEvent| {
        if ui.editing.with_untracked(Option::is_some) {
            return;
        }
        let files = ev.clipboard_data().and_then(|data| data.files());
        if files.as_ref().is_some_and(|f| f.length() > 0) {
            ev.prevent_default();
            ui.pending.add(files, i18n);
        }
    };
    let file_input = NodeRef::<html::Input>::new();
    let on_files_chosen = move |_| {
        if let Some(input) = file_input.get_untracked() {
            ui.pending.add(input.files(), i18n);
            // The same file can be chosen again.
            input.set_value("");
        }
        ui.focus_composer();
    };
    let can_send = move || {
        let has_files = ui.editing.with(Option::is_none)
            && ui.pending.files.with(|f| {
                f.iter()
                    .any(|p| matches!(p.state.get(), UploadState::Done(_)))
            });
        !sending.get() && !ui.pending.busy() && (has_files || text.with(|t| !t.trim().is_empty()))
    };

    let mode = move || {
        let t = i18n.t();
        if ui.editing.with(Option::is_some) {
            Some((t.editing_message.to_owned(), String::new(), t.cancel_edit))
        } else {
            ui.reply_to.with(|reply| {
                reply.as_ref().map(|m| {
                    let name = m
                        .sender
                        .as_ref()
                        .map(|s| s.name.as_str())
                        .unwrap_or_default();
                    let preview = m
                        .content
                        .as_deref()
                        .map(crate::state::chat::plain_preview)
                        .unwrap_or_default();
                    (
                        Strings::fill(t.replying_to, "name", name),
                        preview,
                        t.cancel_reply,
                    )
                })
            })
        }
    };

    view! {
        <form class="composer" novalidate on:submit=on_submit data-testid="composer">
            {move || {
                mode()
                    .map(|(title, preview, cancel_label)| {
                        view! {
                            <div class="composer__mode" data-testid="composer-mode">
                                <div class="composer__mode-text">
                                    <span class="composer__mode-title">{title}</span>
                                    <span class="composer__mode-preview">{preview}</span>
                                </div>
                                <button
                                    type="button"
                                    class="icon-button"
                                    aria-label=cancel_label
                                    title=cancel_label
                                    on:click=move |_| cancel_mode()
                                >
                                    "✕"
                                </button>
                            </div>
                        }
                    })
            }}
            <p class="composer__error" role="alert">
                {move || ui.error.get()}
            </p>
            <p class="composer__notice" role="status" data-testid="chat-notice">
                {move || ui.notice.get()}
            </p>
            <Show when=move || ui.editing.with(Option::is_none)>
                <PendingChips pending=ui.pending />
            </Show>
            <div class="composer__row">
                <input
                    type="file"
                    multiple
                    hidden
                    node_ref=file_input
                    data-testid="file-input"
                    on:change=on_files_chosen
                />
                <button
                    type="button"
                    class="icon-button composer__attach"
                    aria-label=i18n.text(|t| t.attach_files)
                    title=i18n.text(|t| t.attach_files)
                    disabled=move || ui.editing.with(Option::is_some)
                    data-testid="attach"
                    on:click=move |_| {
                        if let Some(input) = file_input.get_untracked() {
                            input.click();
                        }
                    }
                >
                    "📎"
                </button>
                <textarea
                    class="composer__input"
                    rows="1"
                    node_ref=ui.composer
                    aria-label=i18n.text(|t| t.composer_label)
                    placeholder=i18n.text(|t| t.composer_placeholder)
                    prop:value=move || text.get()
                    on:input=on_input
                    on:keydown=on_keydown
                    on:paste=on_paste
                ></textarea>
                <button
                    type="submit"
                    class="button button--primary composer__send"
                    disabled=move || !can_send()
                    aria-label=move || {
                        if ui.editing.with(Option::is_some) { i18n.t().save } else { i18n.t().send }
                    }
                    data-testid="send"
                >
                    {move || if ui.editing.with(Option::is_some) { "✓" } else { "➤" }}
                </button>
            </div>
        </form>
    }
}

fn show_error(err: ApiError, t: &Strings, error: RwSignal<Option<String>>) {
    leptos::logging::warn!("sending failed: {err}");
    let text = match err {
        ApiError::Network(_) => t.network_error,
        ApiError::Problem { problem, .. }
            if problem.code == shared::ErrorCode::EditWindowClosed =>
        {
            t.edit_window_closed
        }
        ApiError::Problem {
            problem,
            retry_after,
        } if problem.code == shared::ErrorCode::RateLimited => {
            let wait = retry_after.unwrap_or(1).to_string();
            error.set(Some(t.sending_too_fast_in.replace("{n}", &wait)));
            return;
        }
        _ => t.send_failed,
    };
    error.set(Some(text.to_owned()));
}

/// A random (version 4) UUID from the browser's CSPRNG.
fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut bytes);
    } else {
        // No crypto (should not happen in a browser): still unique enough
        // per tab for an idempotency key.
        let seed = js_sys::Date::now().to_bits() ^ (js_sys::Math::random().to_bits() << 1);
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8..].copy_from_slice(&js_sys::Math::random().to_bits().to_le_bytes());
    }
    format_uuid_v4(bytes)
}

fn format_uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_has_version_and_variant() {
        let id = format_uuid_v4([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(
            format_uuid_v4([0; 16]),
            "00000000-0000-4000-8000-000000000000"
        );
    }
}
