//! Presence as the UI shows it: a green dot on the avatar of someone
//! online, and "online" / "ostatnio online 5 min temu" in the chat header.

use leptos::prelude::*;

use crate::i18n::{Strings, use_i18n};
use crate::state::chat::{ChatStore, use_chat};
use crate::time;

/// The dot on an avatar; nothing while the person is offline or unknown.
#[component]
pub fn PresenceDot(user_id: i64) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let online = move || {
        chat.presence
            .with(|p| p.get(&user_id).is_some_and(|p| p.online))
    };
    view! {
        <Show when=online>
            <span
                class="presence-dot"
                role="img"
                data-testid="presence-dot"
                aria-label=i18n.text(|t| t.online)
                title=i18n.text(|t| t.online)
            ></span>
        </Show>
    }
}

/// "online", "ostatnio online 5 min temu", or nothing when unknown (tracked).
pub fn presence_line(chat: ChatStore, user_id: i64, t: &'static Strings) -> Option<String> {
    let now = chat.now.get();
    chat.presence.with(|p| {
        let presence = p.get(&user_id)?;
        if presence.online {
            Some(t.online.to_owned())
        } else {
            let at = presence.last_seen?;
            Some(Strings::fill(t.last_seen, "when", &time::ago(at, now, t)))
        }
    })
}
