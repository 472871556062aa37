//! `/wiadomosci/ustawienia`: the signed-in user's own settings — e-mail
//! notifications, language (of the app and of e-mails) and the password.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::ErrorCode;
use shared::dto::auth::{ChangePassword, UpdateMe};

use crate::api::{self, ApiError};
use crate::app::BASE;
use crate::components::AppHeader;
use crate::i18n::{Lang, Strings, use_i18n};
use crate::pages::messenger::{SessionPending, redirect_when_signed_out};
use crate::state::auth::use_auth;

/// What a settings change answered, shown next to the control.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    Saved,
    Failed(&'static str),
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    redirect_when_signed_out();
    let signed_in = move || auth.user.with(Option::is_some);

    view! {
        <Show when=signed_in fallback=move || view! { <SessionPending /> }>
            <div class="settings-page">
                <AppHeader />
                <main class="settings">
                    <div class="settings__top">
                        <a class="button button--secondary" href=format!("{BASE}/")>
                            <span aria-hidden="true">"←"</span>
                            {i18n.text(|t| t.back_to_messages)}
                        </a>
                        <h2 class="settings__title">{i18n.text(|t| t.settings)}</h2>
                    </div>
                    <PreferencesSection />
                    <PasswordSection />
                </main>
            </div>
        </Show>
    }
}

fn error_text(err: &ApiError, t: &'static Strings) -> &'static str {
    match err {
        ApiError::Network(_) => t.network_error,
        _ => t.action_failed,
    }
}

/// E-mail notifications and language, each saved as soon as it changes.
#[component]
fn PreferencesSection() -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    let status = RwSignal::new(None::<Status>);
    let busy = RwSignal::new(false);

    let save = move |request: UpdateMe| {
        busy.set(true);
        status.set(None);
        spawn_local(async move {
            let result = api::update_me(&request).await;
            busy.set(false);
            match result {
                Ok(user) => {
                    if let Some(lang) = Lang::from_code(&user.language) {
                        i18n.set_lang(lang);
                    }
                    auth.user.set(Some(user));
                    status.set(Some(Status::Saved));
                }
                Err(err) => {
                    leptos::logging::warn!("saving settings failed: {err}");
                    status.set(Some(Status::Failed(error_text(&err, i18n.t()))));
                }
            }
        });
    };

    let notify = move || {
        auth.user
            .with(|u| u.as_ref().is_some_and(|u| u.notify_email_messages))
    };
    let account_lang = move || {
        auth.user
            .with(|u| u.as_ref().and_then(|u| Lang::from_code(&u.language)))
            .unwrap_or_default()
    };

    let languages = Lang::ALL
        .into_iter()
        .map(|lang| {
            view! {
                <label class="settings__choice" lang=lang.code()>
                    <input
                        type="radio"
                        name="language"
                        value=lang.code()
                        data-testid=format!("settings-lang-{}", lang.code())
                        prop:checked=move || account_lang() == lang
                        disabled=move || busy.get()
                        on:change=move |_| {
                            save(UpdateMe {
                                language: Some(lang.code().to_owned()),
                                notify_email_messages: None,
                            })
                        }
                    />
                    {lang.native_name()}
                </label>
            }
        })
        .collect_view();

    let status_text = move || {
        status.get().map(|s| match s {
            Status::Saved => i18n.t().saved,
            Status::Failed(text) => text,
        })
    };

    view! {
        <section class="settings__section" aria-labelledby="settings-notifications">
            <h3 id="settings-notifications" class="settings__heading">
                {i18n.text(|t| t.notifications_heading)}
            </h3>
            <label class="settings__choice">
                <input
                    type="checkbox"
                    data-testid="settings-notify"
                    prop:checked=notify
                    disabled=move || busy.get()
                    on:change=move |ev| {
                        save(UpdateMe {
                            language: None,
                            notify_email_messages: Some(event_target_checked(&ev)),
                        })
                    }
                />
                {i18n.text(|t| t.notify_email_label)}
            </label>
        </section>
        <section class="settings__section">
            <fieldset class="settings__fieldset">
                <legend class="settings__heading">{i18n.text(|t| t.language)}</legend>
                <p class="settings__hint">{i18n.text(|t| t.language_hint)}</p>
                {languages}
            </fieldset>
            <p
                class="settings__status"
                class:settings__status--error=move || matches!(status.get(), Some(Status::Failed(_)))
                role="status"
                data-testid="settings-status"
            >
                {move || status_text()}
            </p>
        </section>
    }
}

/// Changing the password: current, new, repeated.
#[component]
fn PasswordSection() -> impl IntoView {
    let i18n = use_i18n();
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let repeat = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let status = RwSignal::new(None::<Status>);

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let t = i18n.t();
        let (current_pw, new_pw) = (current.get_untracked(), new.get_untracked());
        let length = new_pw.chars().count();
        let problem = if current_pw.is_empty() || new_pw.is_empty() {
            Some(t.fields_required)
        } else if !(8..=256).contains(&length) {
            Some(t.password_length)
        } else if new_pw != repeat.get_untracked() {
            Some(t.passwords_differ)
        } else {
            None
        };
        if let Some(text) = problem {
            status.set(Some(Status::Failed(text)));
            return;
        }
        busy.set(true);
        status.set(None);
        let request = ChangePassword {
            current_password: current_pw,
            new_password: new_pw,
        };
        spawn_local(async move {
            let result = api::change_password(&request).await;
            busy.set(false);
            let t = i18n.t();
            match result {
                Ok(()) => {
                    current.set(String::new());
                    new.set(String::new());
                    repeat.set(String::new());
                    status.set(Some(Status::Saved));
                }
                Err(err) => {
                    leptos::logging::warn!("changing the password failed: {err}");
                    let text = match err.code() {
                        Some(ErrorCode::WrongPassword) => t.wrong_password,
                        Some(ErrorCode::ValidationFailed) => t.password_length,
                        Some(ErrorCode::RateLimited) => t.too_many_attempts,
                        _ => error_text(&err, t),
                    };
                    status.set(Some(Status::Failed(text)));
                }
            }
        });
    };

    let field = move |id: &'static str,
                      label: fn(&Strings) -> &'static str,
                      value: RwSignal<String>,
                      autocomplete: &'static str| {
        view! {
            <div class="field">
                <label class="field__label" for=id>
                    {move || label(i18n.t())}
                </label>
                <input
                    id=id
                    class="field__input"
                    type="password"
                    autocomplete=autocomplete
                    prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))
                />
            </div>
        }
    };

    let status_text = move || {
        status.get().map(|s| match s {
            Status::Saved => i18n.t().password_changed,
            Status::Failed(text) => text,
        })
    };

    view! {
        <section class="settings__section" aria-labelledby="settings-password">
            <h3 id="settings-password" class="settings__heading">
                {i18n.text(|t| t.password_heading)}
            </h3>
            <form class="settings__form" novalidate on:submit=on_submit>
                {field("current-password", |t| t.current_password, current, "current-password")}
                {field("new-password", |t| t.new_password, new, "new-password")}
                <p class="settings__hint">{i18n.text(|t| t.password_hint)}</p>
                {field("repeat-password", |t| t.repeat_password, repeat, "new-password")}
                <p
                    class="settings__status"
                    class:settings__status--error=move || matches!(status.get(), Some(Status::Failed(_)))
                    role="status"
                    data-testid="password-status"
                >
                    {move || status_text()}
                </p>
                <button
                    type="submit"
                    class="button button--primary"
                    data-testid="change-password"
                    disabled=move || busy.get()
                >
                    {i18n.text(|t| t.change_password_button)}
                </button>
            </form>
        </section>
    }
}
