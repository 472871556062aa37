//! "Forward": pick one of my conversations for the message in
//! `ChatUi::forwarding`. A modal `<dialog>` like "New message".

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ApiError;
use crate::components::Avatar;
use crate::components::chat::use_chat_ui;
use crate::i18n::{Strings, use_i18n};
use crate::state::chat::use_chat;
use crate::text::lower;

#[component]
pub fn ForwardDialog() -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let ui = use_chat_ui();
    let dialog = NodeRef::<html::Dialog>::new();
    let search_input = NodeRef::<html::Input>::new();
    let query = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<&'static str>);

    Effect::new(move |_| {
        let Some(dialog) = dialog.get() else {
            return;
        };
        if ui.forwarding.with(Option::is_some) {
            query.set(String::new());
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

    let targets = move || {
        let q = query.with(|q| lower(q.trim()));
        chat.conversations.with(|list| {
            list.iter()
                .filter(|c| q.is_empty() || lower(&c.name).contains(&q))
                .map(|c| (c.id, c.name.clone()))
                .collect::<Vec<_>>()
        })
    };

    let forward_to = move |target: i64, name: String| {
        let Some(message) = ui.forwarding.get_untracked() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            let result = chat.forward(message.id, target).await;
            busy.set(false);
            match result {
                Ok(()) => {
                    ui.forwarding.set(None);
                    ui.error.set(None);
                    ui.notice
                        .set(Some(Strings::fill(i18n.t().forwarded_done, "name", &name)));
                }
                Err(err) => {
                    leptos::logging::warn!("forwarding failed: {err}");
                    error.set(Some(match err {
                        ApiError::Network(_) => i18n.t().network_error,
                        _ => i18n.t().action_failed,
                    }));
                }
            }
        });
    };

    view! {
        <dialog
            class="dialog"
            aria-labelledby="forward-title"
            data-testid="forward-dialog"
            node_ref=dialog
            on:close=move |_| ui.forwarding.set(None)
        >
            <div class="dialog__form">
                <div class="dialog__header">
                    <h2 id="forward-title" class="dialog__title">
                        {i18n.text(|t| t.forward_title)}
                    </h2>
                    <button
                        type="button"
                        class="icon-button"
                        aria-label=i18n.text(|t| t.close)
                        on:click=move |_| ui.forwarding.set(None)
                    >
                        "✕"
                    </button>
                </div>
                <input
                    class="field__input"
                    type="search"
                    node_ref=search_input
                    aria-label=i18n.text(|t| t.search_conversations)
                    placeholder=i18n.text(|t| t.search_conversations)
                    prop:value=move || query.get()
                    on:input=move |ev| query.set(event_target_value(&ev))
                />
                <ul class="people" data-testid="forward-targets">
                    <For
                        each=targets
                        key=|(id, name)| (*id, name.clone())
                        children=move |(target, name)| {
                            let picked = name.clone();
                            view! {
                                <li>
                                    <button
                                        type="button"
                                        class="person"
                                        disabled=move || busy.get()
                                        on:click=move |_| forward_to(target, picked.clone())
                                    >
                                        <Avatar name=name.clone() />
                                        <span class="person__name">{name.clone()}</span>
                                    </button>
                                </li>
                            }
                        }
                    />
                </ul>
                <p class="dialog__error" role="alert">
                    {move || error.get()}
                </p>
            </div>
        </dialog>
    }
}
