//! The bar at the top of the signed-in app: app name, user, language,
//! settings, logout.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use shared::ErrorCode;

use crate::api::{self, ApiError};
use crate::app::BASE;
use crate::components::LanguageSwitcher;
use crate::i18n::use_i18n;
use crate::state::auth::use_auth;

#[component]
pub fn AppHeader() -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    let navigate = use_navigate();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);

    let user_name = move || auth.user.with(|user| user.as_ref().map(|u| u.name.clone()));

    let logout = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let navigate = navigate.clone();
        spawn_local(async move {
            let result = api::logout().await;
            busy.set(false);
            match result {
                // Unauthenticated: the session was already gone.
                Ok(()) => {}
                Err(err) if err.code() == Some(ErrorCode::Unauthenticated) => {}
                Err(err) => {
                    error.set(Some(err));
                    return;
                }
            }
            auth.signed_out();
            navigate("/logowanie", NavigateOptions::default());
        });
    };

    let error_text = move || {
        error.with(|err| {
            err.as_ref().map(|err| match err {
                ApiError::Network(_) => i18n.t().network_error,
                _ => i18n.t().unexpected_error,
            })
        })
    };

    view! {
        <header class="app-header">
            <span class="app-header__brand">{i18n.text(|t| t.app_name)}</span>
            <h1 class="app-header__user" data-testid="current-user-name">
                {move || user_name()}
            </h1>
            <p class="app-header__error" role="alert">
                {move || error_text()}
            </p>
            <div class="app-header__actions">
                <LanguageSwitcher />
                <a
                    class="icon-button"
                    href=format!("{BASE}/ustawienia")
                    data-testid="settings-link"
                    aria-label=i18n.text(|t| t.settings)
                    title=i18n.text(|t| t.settings)
                >
                    "⚙"
                </a>
                <button
                    type="button"
                    class="button button--secondary"
                    data-testid="logout"
                    disabled=move || busy.get()
                    on:click=logout
                >
                    {i18n.text(|t| t.logout)}
                </button>
            </div>
        </header>
    }
}
