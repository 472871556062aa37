//! "No connection — reconnecting…" while the event stream is down.

use leptos::prelude::*;

use crate::i18n::use_i18n;
use crate::state::chat::{Connection, use_chat};

#[component]
pub fn ConnectionBanner() -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let lost = move || chat.connection.get() == Connection::Lost;
    view! {
        <Show when=lost>
            <div class="connection-banner" role="status" data-testid="connection-banner">
                {i18n.text(|t| t.disconnected)}
            </div>
        </Show>
    }
}
