//! Picking people from the user directory (`GET /api/users?q=`): a search
//! field and the matching people as buttons. Used by the "New message"
//! dialog and by the group settings (adding members); it owns the search
//! (debounced, older answers dropped) and nothing else — what a pick means
//! is the caller's.

use std::time::Duration;

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::dto::users::UserDirectoryEntry;

use crate::api::{self, ApiError};
use crate::components::Avatar;
use crate::i18n::{Strings, use_i18n};

/// Wait after the last keystroke before asking the directory.
const SEARCH_DELAY: Duration = Duration::from_millis(200);

#[component]
pub fn UserPicker(
    /// The search field's id (its label points at it).
    input_id: &'static str,
    /// The search field's label.
    label: fn(&'static Strings) -> &'static str,
    /// `data-testid` of the result list.
    testid: &'static str,
    /// The picker is shown: each time it becomes so, the query is cleared
    /// and the directory listed again.
    #[prop(into)]
    active: Signal<bool>,
    /// People not offered (me, those already chosen, members).
    #[prop(into)]
    exclude: Signal<Vec<i64>>,
    /// A pick is being acted on: the results are disabled meanwhile.
    #[prop(into, optional)]
    busy: Signal<bool>,
    /// The accessible name of a result, from the person's name; `None`: the
    /// visible name and e-mail.
    #[prop(optional)]
    pick_label: Option<fn(&'static Strings, &str) -> String>,
    /// The search field, for the caller to focus.
    #[prop(optional)]
    input_ref: NodeRef<html::Input>,
    on_pick: Callback<UserDirectoryEntry>,
    on_error: Callback<ApiError>,
) -> impl IntoView {
    let i18n = use_i18n();
    let query = RwSignal::new(String::new());
    let results = RwSignal::new(Vec::<UserDirectoryEntry>::new());
    let searching = RwSignal::new(false);
    let generation = StoredValue::new(0u64);

    let search = move |text: String| {
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        searching.set(true);
        set_timeout(
            move || {
                if generation.get_value() != mine {
                    return;
                }
                spawn_local(async move {
                    let result = api::users(text.trim()).await;
                    if generation.get_value() != mine {
                        return;
                    }
                    searching.set(false);
                    match result {
                        Ok(page) => results.set(page.items),
                        Err(err) => on_error.run(err),
                    }
                });
            },
            SEARCH_DELAY,
        );
    };

    Effect::new(move |_| {
        if active.get() {
            query.set(String::new());
            search(String::new());
        }
    });

    let visible = move || {
        let excluded = exclude.get();
        results
            .get()
            .into_iter()
            .filter(|u| !excluded.contains(&u.id))
            .collect::<Vec<_>>()
    };

    view! {
        <div class="field">
            <label class="field__label" for=input_id>
                {i18n.text(label)}
            </label>
            <input
                id=input_id
                class="field__input"
                type="search"
                autocomplete="off"
                node_ref=input_ref
                prop:value=move || query.get()
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    query.set(text.clone());
                    search(text);
                }
            />
        </div>
        <ul class="people" data-testid=testid aria-busy=move || searching.get().to_string()>
            <For
                each=visible
                key=|u| u.id
                children=move |user| {
                    let name = user.name.clone();
                    let aria = move || pick_label.map(|f| f(i18n.t(), &name));
                    view! {
                        <li>
                            <button
                                type="button"
                                class="person"
                                aria-label=aria
                                disabled=move || busy.get()
                                on:click={
                                    let user = user.clone();
                                    move |_| {
                                        on_pick.run(user.clone());
                                        query.set(String::new());
                                        search(String::new());
                                        if let Some(input) = input_ref.get_untracked() {
                                            let _ = input.focus();
                                        }
                                    }
                                }
                            >
                                <Avatar name=user.name.clone() />
                                <span class="person__text">
                                    <span class="person__name">{user.name.clone()}</span>
                                    <span class="person__email">{user.email.clone()}</span>
                                </span>
                            </button>
                        </li>
                    }
                }
            />
        </ul>
        <Show when=move || !searching.get() && visible().is_empty()>
            <p class="people__empty">{i18n.text(|t| t.no_people)}</p>
        </Show>
    }
}
