//! The app root: context stores, document language, and the router.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::i18n::I18n;
use crate::pages::{HomePage, LoginPage};
use crate::state::auth::AuthStore;

/// Where the backend serves the SPA; route paths below are relative to it.
const BASE: &str = "/wiadomosci";

#[component]
pub fn App() -> impl IntoView {
    let i18n = I18n::from_storage();
    provide_context(i18n);
    let auth = AuthStore::new();
    provide_context(auth);
    auth.refresh();

    // Keep `<html lang>` and the title in the chosen language.
    Effect::new(move |_| {
        let lang = i18n.lang();
        let document = document();
        if let Some(root) = document.document_element() {
            let _ = root.set_attribute("lang", lang.code());
        }
        document.set_title(lang.strings().app_name);
    });

    view! {
        <Router base=BASE>
            <Routes fallback=|| view! { <HomePage /> }>
                <Route path=path!("/") view=HomePage />
                <Route path=path!("/logowanie") view=LoginPage />
                // Later: conversation deep links `/wiadomosci/{id}`.
                <Route path=path!("/*any") view=HomePage />
            </Routes>
        </Router>
    }
}
