//! "Group settings": the owner renames the group, adds people (from the
//! user directory) and removes members; everyone sees the members and can
//! leave. Others see the changes live (conversation_updated, member_added,
//! member_removed reload the details).

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use shared::dto::conversations::Role;
use shared::dto::users::UserDirectoryEntry;

use crate::api::ApiError;
use crate::components::chat::use_chat_ui;
use crate::components::{Avatar, UserPicker};
use crate::i18n::{Strings, use_i18n};
use crate::state::chat::use_chat;

#[component]
pub fn GroupSettingsDialog(id: i64) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let ui = use_chat_ui();
    let navigate = use_navigate();
    let dialog = NodeRef::<html::Dialog>::new();
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<&'static str>);
    let busy = RwSignal::new(false);

    let detail = move || chat.details.with(|d| d.get(&id).cloned());
    let is_owner = move || {
        chat.details
            .with(|d| d.get(&id).is_some_and(|d| d.role == Role::Owner))
    };

    let fail = move |err: ApiError| {
        leptos::logging::warn!("group change failed: {err}");
        error.set(Some(match err {
            ApiError::Network(_) => i18n.t().network_error,
            ApiError::Problem { problem, .. } if problem.code == shared::ErrorCode::Forbidden => {
                i18n.t().only_owner
            }
            _ => i18n.t().action_failed,
        }));
    };

    Effect::new(move |_| {
        let Some(dialog) = dialog.get() else {
            return;
        };
        if ui.group_settings.get() {
            error.set(None);
            name.set(
                chat.details
                    .with_untracked(|d| d.get(&id).map(|d| d.title.clone().unwrap_or_default()))
                    .unwrap_or_default(),
            );
            if !dialog.open() {
                let _ = dialog.show_modal();
            }
        } else if dialog.open() {
            dialog.close();
        }
    });

    let run = move |action: std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), ApiError>>>,
    >| {
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let result = action.await;
            busy.set(false);
            if let Err(err) = result {
                fail(err);
            }
        });
    };

    let on_rename = move |ev: SubmitEvent| {
        ev.prevent_default();
        let new_name = name.get_untracked().trim().to_owned();
        if new_name.is_empty() || busy.get_untracked() {
            return;
        }
        run(Box::pin(chat.rename(id, new_name)));
    };

    let members_ids = Signal::derive(move || {
        chat.details.with(|d| {
            d.get(&id)
                .map(|d| d.members.iter().map(|m| m.id).collect())
                .unwrap_or_default()
        })
    });
    let on_pick = Callback::new(move |user: UserDirectoryEntry| {
        run(Box::pin(chat.add_members(id, vec![user.id])));
    });
    let on_error = Callback::new(fail);

    let leave = move || {
        let navigate = navigate.clone();
        busy.set(true);
        spawn_local(async move {
            let result = chat.leave(id).await;
            busy.set(false);
            match result {
                Ok(()) => {
                    ui.group_settings.set(false);
                    navigate("/", Default::default());
                }
                Err(err) => fail(err),
            }
        });
    };
    let leave = StoredValue::new_local(leave);

    let members = move || {
        let me = chat.me.get();
        detail()
            .map(|d| d.members)
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let member_id = m.id;
                let label = {
                    let name = m.name.clone();
                    move || Strings::fill(i18n.t().remove_member, "name", &name)
                };
                let removable = move || is_owner() && Some(member_id) != me;
                view! {
                    <li class="member" data-testid="group-member">
                        <Avatar name=m.name.clone() small=true />
                        <span class="member__name">{m.name.clone()}</span>
                        {(m.role == Role::Owner)
                            .then(|| view! { <span class="member__role">{i18n.text(|t| t.owner)}</span> })}
                        <Show when=removable>
                            <button
                                type="button"
                                class="icon-button"
                                aria-label=label.clone()
                                title=label.clone()
                                disabled=move || busy.get()
                                on:click=move |_| run(Box::pin(chat.remove_member(id, member_id)))
                            >
                                "✕"
                            </button>
                        </Show>
                    </li>
                }
            })
            .collect_view()
    };

    view! {
        <dialog
            class="dialog"
            aria-labelledby="group-settings-title"
            data-testid="group-settings-dialog"
            node_ref=dialog
            on:close=move |_| ui.group_settings.set(false)
        >
            <div class="dialog__form">
                <div class="dialog__header">
                    <h2 id="group-settings-title" class="dialog__title">
                        {i18n.text(|t| t.group_settings)}
                    </h2>
                    <button
                        type="button"
                        class="icon-button"
                        aria-label=i18n.text(|t| t.close)
                        on:click=move |_| ui.group_settings.set(false)
                    >
                        "✕"
                    </button>
                </div>
                <Show when=is_owner>
                    <form class="group-settings__rename" novalidate on:submit=on_rename>
                        <div class="field">
                            <label class="field__label" for="group-rename">
                                {i18n.text(|t| t.group_name)}
                            </label>
                            <input
                                id="group-rename"
                                class="field__input"
                                type="text"
                                maxlength="100"
                                prop:value=move || name.get()
                                on:input=move |ev| name.set(event_target_value(&ev))
                            />
                        </div>
                        <button
                            type="submit"
                            class="button button--primary"
                            data-testid="rename-group"
                            disabled=move || busy.get()
                        >
                            {i18n.text(|t| t.save)}
                        </button>
                    </form>
                </Show>
                <h3 class="dialog__subtitle">{i18n.text(|t| t.members_label)}</h3>
                <ul class="members" data-testid="group-members">
                    {move || members()}
                </ul>
                <Show when=is_owner>
                    <UserPicker
                        input_id="group-add-search"
                        label=|t| t.add_people
                        testid="group-add-results"
                        active=ui.group_settings
                        exclude=members_ids
                        busy=busy
                        pick_label=|t, name| format!("{}: {name}", t.add)
                        on_pick=on_pick
                        on_error=on_error
                    />
                </Show>
                <p class="dialog__error" role="alert">
                    {move || error.get()}
                </p>
                <div class="dialog__actions">
                    <button
                        type="button"
                        class="button button--danger"
                        data-testid="dialog-leave-group"
                        disabled=move || busy.get()
                        on:click=move |_| leave.with_value(|leave| leave())
                    >
                        {i18n.text(|t| t.leave_group)}
                    </button>
                </div>
            </div>
        </dialog>
    }
}
