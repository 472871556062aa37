//! `/wiadomosci` and `/wiadomosci/{conversation_id}`: the signed-in app, a
//! split pane of the conversation list and the open chat (one pane at a time
//! on narrow screens).

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::components::Outlet;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::api::ApiError;
use crate::app::BASE;
use crate::components::{AppHeader, ChatView, ConnectionBanner, ConversationList};
use crate::i18n::use_i18n;
use crate::state::auth::use_auth;
use crate::state::chat::use_chat;

/// Nobody signed in: go to the login page (replacing this entry, so Back
/// does not bounce between the two), and come back here after signing in.
pub fn redirect_when_signed_out() {
    let auth = use_auth();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if auth.is_signed_out() {
            // Come back to a deep link after signing in.
            let path = window().location().pathname().unwrap_or_default();
            let inner = path
                .strip_prefix(BASE)
                .unwrap_or_default()
                .trim_end_matches('/');
            if !inner.is_empty() {
                auth.return_to.set(Some(inner.to_owned()));
            }
            navigate(
                "/logowanie",
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
}

#[component]
pub fn MessengerPage() -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    redirect_when_signed_out();

    let signed_in = move || auth.user.with(Option::is_some);
    let chat = use_chat();
    let chat_open = move || chat.open.with(Option::is_some);

    view! {
        <Show when=signed_in fallback=move || view! { <SessionPending /> }>
            <div class="messenger" class:messenger--chat-open=chat_open>
                <AppHeader />
                <ConnectionBanner />
                <div class="messenger__body">
                    <aside
                        class="messenger__list"
                        aria-label=i18n.text(|t| t.conversations_label)
                    >
                        <ConversationList />
                    </aside>
                    <main class="messenger__chat">
                        <Outlet />
                    </main>
                </div>
            </div>
        </Show>
    }
}

/// The chat pane at `/wiadomosci`: nothing open yet.
#[component]
pub fn NoChatSelected() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <div class="chat-empty">
            <p class="chat-empty__text">{i18n.text(|t| t.home_empty)}</p>
        </div>
    }
}

/// The chat pane at `/wiadomosci/{conversation_id}`.
#[component]
pub fn ChatRoute() -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok())));

    Effect::new(move |_| {
        let id = id.get();
        chat.open.set(id);
        if let Some(id) = id {
            chat.ensure_loaded(id);
            chat.mark_read_if_open(id);
        }
    });
    on_cleanup(move || chat.open.set(None));

    move || match id.get() {
        Some(id) => view! { <ChatView id=id /> }.into_any(),
        None => view! {
            <div class="chat-empty">
                <p class="chat-empty__text" role="alert">
                    {i18n.text(|t| t.conversation_missing)}
                </p>
            </div>
        }
        .into_any(),
    }
}

/// Shown while the session is checked, or when the check failed for a reason
/// other than "not signed in" (then with a retry button).
#[component]
pub fn SessionPending() -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();

    let failed = move || auth.error.with(Option::is_some);
    let error_text = move || {
        auth.error.with(|err| match err {
            Some(ApiError::Network(_)) => i18n.t().network_error,
            Some(_) => i18n.t().unexpected_error,
            None => "",
        })
    };

    view! {
        <main class="session-pending">
            <Show
                when=failed
                fallback=move || {
                    view! {
                        <p class="session-pending__loading" role="status">
                            {i18n.text(|t| t.loading)}
                        </p>
                    }
                }
            >
                <p class="session-pending__error" role="alert">
                    {move || error_text()}
                </p>
                <button
                    type="button"
                    class="button button--primary"
                    on:click=move |_| auth.refresh()
                >
                    {i18n.text(|t| t.retry)}
                </button>
            </Show>
        </main>
    }
}
