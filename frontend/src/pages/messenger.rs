//! `/wiadomosci` (and, for now, every other path under it): the signed-in
//! app. Conversations come later; for now the header and an empty state.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

use crate::api::ApiError;
use crate::components::AppHeader;
use crate::i18n::use_i18n;
use crate::state::auth::use_auth;

#[component]
pub fn HomePage() -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    let navigate = use_navigate();

    // Nobody signed in: go to the login page (replacing this entry, so Back
    // does not bounce between the two).
    Effect::new(move |_| {
        if auth.is_signed_out() {
            navigate(
                "/logowanie",
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });

    let signed_in = move || auth.user.with(Option::is_some);

    view! {
        <Show when=signed_in fallback=move || view! { <SessionPending /> }>
            <div class="home">
                <AppHeader />
                <main class="home__main">
                    <p class="home__empty">{move || i18n.t().home_empty}</p>
                </main>
            </div>
        </Show>
    }
}

/// Shown while the session is checked, or when the check failed for a reason
/// other than "not signed in" (then with a retry button).
#[component]
fn SessionPending() -> impl IntoView {
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
                            {move || i18n.t().loading}
                        </p>
                    }
                }
            >
                <p class="session-pending__error" role="alert">
                    {error_text}
                </p>
                <button
                    type="button"
                    class="button button--primary"
                    on:click=move |_| auth.refresh()
                >
                    {move || i18n.t().retry}
                </button>
            </Show>
        </main>
    }
}
