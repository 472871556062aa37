//! The app root: context stores, the session's event stream, document
//! language and title, and the router.

use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::path;

use crate::i18n::I18n;
use crate::pages::{ChatRoute, LoginPage, MessengerPage, NoChatSelected, SettingsPage};
use crate::state::auth::AuthStore;
use crate::state::chat::ChatStore;
use crate::state::realtime;

/// Where the backend serves the SPA; route paths below are relative to it.
pub const BASE: &str = "/wiadomosci";

#[component]
pub fn App() -> impl IntoView {
    let i18n = I18n::from_storage();
    provide_context(i18n);
    let auth = AuthStore::new();
    provide_context(auth);
    let chat = ChatStore::new();
    provide_context(chat);
    auth.refresh();

    // One event stream per signed-in user: start on sign-in, stop on
    // sign-out.
    Effect::new(move |previous: Option<Option<i64>>| {
        let user_id = auth.user.with(|user| user.as_ref().map(|u| u.id));
        if previous.flatten() != user_id {
            realtime::stop();
            chat.clear();
            if let Some(id) = user_id {
                chat.me.set(Some(id));
                chat.load_list();
                realtime::start(chat);
            }
        }
        user_id
    });

    // Coming back to the tab marks the open conversation read.
    let _ = window_event_listener_untyped("visibilitychange", move |_| {
        if let Some(id) = chat.open.get_untracked() {
            chat.mark_read_if_open(id);
        }
    });

    // Keep `<html lang>` and the title (with the unread count) current.
    Effect::new(move |_| {
        let lang = i18n.lang();
        let document = document();
        if let Some(root) = document.document_element() {
            let _ = root.set_attribute("lang", lang.code());
        }
        let unread: i64 = chat.conversations.with(|list| {
            list.iter()
                .filter(|c| !c.is_muted)
                .map(|c| c.unread_count)
                .sum()
        });
        let name = lang.strings().app_name;
        if unread > 0 {
            document.set_title(&format!("({unread}) {name}"));
        } else {
            document.set_title(name);
        }
    });

    view! {
        <Router base=BASE>
            <Routes fallback=|| view! { <Redirect path="/" /> }>
                <Route path=path!("/logowanie") view=LoginPage />
                <Route path=path!("/ustawienia") view=SettingsPage />
                <ParentRoute path=path!("") view=MessengerPage>
                    <Route path=path!("") view=NoChatSelected />
                    <Route path=path!(":id") view=ChatRoute />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
