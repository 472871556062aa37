//! "New message": pick one person (a 1:1) or several and a name (a group)
//! from the user directory. A modal `<dialog>`: the page behind is inert
//! (focus stays inside) and Escape closes it.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use shared::dto::conversations::CreateConversation;
use shared::dto::users::UserDirectoryEntry;

use crate::api::{self, ApiError};
use crate::components::{Avatar, UserPicker};
use crate::i18n::{Strings, use_i18n};
use crate::state::chat::use_chat;

#[component]
pub fn NewConversationDialog(open: RwSignal<bool>) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let navigate = use_navigate();
    let dialog = NodeRef::<html::Dialog>::new();
    let search_input = NodeRef::<html::Input>::new();

    let selected = RwSignal::new(Vec::<UserDirectoryEntry>::new());
    let group_name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<&'static str>);
    let submitting = RwSignal::new(false);

    // Open and close the native dialog with the signal.
    Effect::new(move |_| {
        let Some(dialog) = dialog.get() else {
            return;
        };
        if open.get() {
            selected.set(Vec::new());
            group_name.set(String::new());
            error.set(None);
            if !dialog.open() {
                let _ = dialog.show_modal();
            }
            if let Some(input) = search_input.get_untracked() {
                let _ = input.focus();
            }
        } else if dialog.open() {
            dialog.close();
        }
    });

    let exclude = Signal::derive(move || {
        let mut ids: Vec<i64> = selected.with(|s| s.iter().map(|u| u.id).collect());
        ids.extend(chat.me.get());
        ids
    });
    let on_pick = Callback::new(move |user: UserDirectoryEntry| {
        selected.update(|s| s.push(user));
        error.set(None);
    });
    let on_error = Callback::new(move |err: ApiError| {
        leptos::logging::warn!("user search failed: {err}");
        error.set(Some(i18n.t().action_failed));
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if submitting.get_untracked() {
            return;
        }
        let members = selected.get_untracked();
        if members.is_empty() {
            return;
        }
        let name = group_name.get_untracked().trim().to_owned();
        let request = CreateConversation {
            member_ids: members.iter().map(|m| m.id).collect(),
            name: (members.len() > 1 && !name.is_empty()).then_some(name),
            description: None,
        };
        submitting.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            let result = api::create_conversation(&request).await;
            submitting.set(false);
            match result {
                Ok(detail) => {
                    chat.load_list();
                    open.set(false);
                    navigate(&format!("/{}", detail.id), NavigateOptions::default());
                }
                Err(err) => {
                    leptos::logging::warn!("creating a conversation failed: {err}");
                    error.set(Some(match err {
                        ApiError::Network(_) => i18n.t().network_error,
                        _ => i18n.t().action_failed,
                    }));
                }
            }
        });
    };

    let is_group = move || selected.with(|s| s.len() > 1);

    view! {
        <dialog
            class="dialog"
            aria-labelledby="new-conversation-title"
            data-testid="new-conversation-dialog"
            node_ref=dialog
            on:close=move |_| open.set(false)
        >
            <form class="dialog__form" novalidate on:submit=on_submit>
                <div class="dialog__header">
                    <h2 id="new-conversation-title" class="dialog__title">
                        {i18n.text(|t| t.new_message)}
                    </h2>
                    <button
                        type="button"
                        class="icon-button"
                        aria-label=i18n.text(|t| t.close)
                        on:click=move |_| open.set(false)
                    >
                        "✕"
                    </button>
                </div>
                <ul class="chips" aria-label=i18n.text(|t| t.selected_people)>
                    <For
                        each=move || selected.get()
                        key=|u| u.id
                        children=move |user| {
                            let id = user.id;
                            let label = {
                                let name = user.name.clone();
                                move || Strings::fill(i18n.t().remove_person, "name", &name)
                            };
                            view! {
                                <li class="chip">
                                    <Avatar name=user.name.clone() small=true />
                                    <span>{user.name.clone()}</span>
                                    <button
                                        type="button"
                                        class="chip__remove"
                                        aria-label=label
                                        on:click=move |_| {
                                            selected.update(|s| s.retain(|u| u.id != id))
                                        }
                                    >
                                        "✕"
                                    </button>
                                </li>
                            }
                        }
                    />
                </ul>
                <UserPicker
                    input_id="people-search"
                    label=|t| t.search_people
                    testid="people-results"
                    active=open
                    exclude=exclude
                    input_ref=search_input
                    on_pick=on_pick
                    on_error=on_error
                />
                <Show when=is_group>
                    <div class="field">
                        <label class="field__label" for="group-name">
                            {i18n.text(|t| t.group_name)}
                        </label>
                        <input
                            id="group-name"
                            class="field__input"
                            type="text"
                            maxlength="100"
                            prop:value=move || group_name.get()
                            on:input=move |ev| group_name.set(event_target_value(&ev))
                        />
                    </div>
                </Show>
                <p class="dialog__error" role="alert">
                    {move || error.get()}
                </p>
                <div class="dialog__actions">
                    <button
                        type="button"
                        class="button button--secondary"
                        on:click=move |_| open.set(false)
                    >
                        {i18n.text(|t| t.cancel)}
                    </button>
                    <button
                        type="submit"
                        class="button button--primary"
                        data-testid="start-conversation"
                        disabled=move || submitting.get() || selected.with(Vec::is_empty)
                    >
                        {move || {
                            if is_group() { i18n.t().create_group } else { i18n.t().start_chat }
                        }}
                    </button>
                </div>
            </form>
        </dialog>
    }
}
