//! `/wiadomosci/logowanie`: the sign-in form.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use shared::ErrorCode;
use shared::dto::auth::LoginRequest;

use crate::api::{self, ApiError};
use crate::components::LanguageSwitcher;
use crate::i18n::{Strings, use_i18n};
use crate::state::auth::use_auth;

/// Why the last attempt failed.
#[derive(Debug, Clone, PartialEq)]
enum LoginFailure {
    /// Checked before sending: a field is empty.
    EmptyFields,
    Api(ApiError),
}

impl LoginFailure {
    fn message(&self, t: &Strings) -> String {
        let text = match self {
            Self::EmptyFields => t.fields_required,
            Self::Api(ApiError::Network(_)) => t.network_error,
            Self::Api(ApiError::UnexpectedResponse { .. }) => t.unexpected_error,
            Self::Api(ApiError::Problem {
                problem,
                retry_after,
            }) => match problem.code {
                ErrorCode::InvalidCredentials => t.invalid_credentials,
                ErrorCode::RateLimited => return t.rate_limited_message(*retry_after),
                ErrorCode::ValidationFailed | ErrorCode::MalformedBody => t.fields_required,
                _ => t.unexpected_error,
            },
        };
        text.to_owned()
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    let navigate = use_navigate();

    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let submitting = RwSignal::new(false);
    let failure = RwSignal::new(None::<LoginFailure>);
    let email_input = NodeRef::<html::Input>::new();
    let password_input = NodeRef::<html::Input>::new();

    // Already signed in (e.g. the session check finished): go home.
    Effect::new(move |_| {
        if auth.user.with(Option::is_some) {
            let target = auth.return_to.try_update(Option::take).flatten();
            navigate(
                target.as_deref().unwrap_or("/"),
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });

    Effect::new(move |_| {
        if let Some(input) = email_input.get() {
            let _ = input.focus();
        }
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if submitting.get_untracked() {
            return;
        }
        let request = LoginRequest {
            email: email.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
        };
        if request.email.is_empty() || request.password.is_empty() {
            failure.set(Some(LoginFailure::EmptyFields));
            let empty = if request.email.is_empty() {
                email_input
            } else {
                password_input
            };
            if let Some(input) = empty.get_untracked() {
                let _ = input.focus();
            }
            return;
        }
        submitting.set(true);
        failure.set(None);
        spawn_local(async move {
            let result = api::login(&request).await;
            submitting.set(false);
            match result {
                Ok(response) => {
                    password.set(String::new());
                    // The effect above navigates home.
                    auth.signed_in(response.user);
                }
                Err(err) => {
                    let wrong_password = err.code() == Some(ErrorCode::InvalidCredentials);
                    failure.set(Some(LoginFailure::Api(err)));
                    if wrong_password && let Some(input) = password_input.get_untracked() {
                        input.select();
                        let _ = input.focus();
                    }
                }
            }
        });
    };

    let message = move || failure.with(|f| f.as_ref().map(|f| f.message(i18n.t())));
    let invalid = move || failure.with(Option::is_some).to_string();

    view! {
        <main class="login">
            <section class="login__card" aria-labelledby="login-title">
                <div class="login__top">
                    <span class="login__brand">{i18n.text(|t| t.app_name)}</span>
                    <LanguageSwitcher />
                </div>
                <h1 id="login-title" class="login__title">
                    {i18n.text(|t| t.login_title)}
                </h1>
                <form class="login__form" novalidate on:submit=on_submit>
                    <div class="field">
                        <label class="field__label" for="login-email">
                            {i18n.text(|t| t.email_label)}
                        </label>
                        <input
                            class="field__input"
                            id="login-email"
                            name="email"
                            type="email"
                            autocomplete="username"
                            inputmode="email"
                            aria-invalid=invalid
                            aria-describedby="login-error"
                            node_ref=email_input
                            prop:value=move || email.get()
                            on:input=move |ev| email.set(event_target_value(&ev))
                        />
                    </div>
                    <div class="field">
                        <label class="field__label" for="login-password">
                            {i18n.text(|t| t.password_label)}
                        </label>
                        <input
                            class="field__input"
                            id="login-password"
                            name="password"
                            type="password"
                            autocomplete="current-password"
                            aria-invalid=invalid
                            aria-describedby="login-error"
                            node_ref=password_input
                            prop:value=move || password.get()
                            on:input=move |ev| password.set(event_target_value(&ev))
                        />
                    </div>
                    <p id="login-error" class="login__error" role="alert">
                        {move || message()}
                    </p>
                    <button
                        type="submit"
                        class="button button--primary login__submit"
                        disabled=move || submitting.get()
                        aria-busy=move || submitting.get().to_string()
                    >
                        {move || {
                            let t = i18n.t();
                            if submitting.get() { t.login_submitting } else { t.login_button }
                        }}
                    </button>
                </form>
            </section>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use shared::Problem;

    use super::*;
    use crate::i18n::Lang;

    fn problem(code: ErrorCode, retry_after: Option<u64>) -> LoginFailure {
        LoginFailure::Api(ApiError::Problem {
            problem: Problem::new(code, None),
            retry_after,
        })
    }

    #[test]
    fn messages_in_polish() {
        let t = Lang::Pl.strings();
        assert_eq!(
            problem(ErrorCode::InvalidCredentials, None).message(t),
            "Nieprawidłowy e-mail lub hasło."
        );
        assert_eq!(
            problem(ErrorCode::RateLimited, Some(7)).message(t),
            "Zbyt wiele prób logowania. Spróbuj ponownie za 7 s."
        );
        assert_eq!(
            problem(ErrorCode::ValidationFailed, None).message(t),
            "Podaj e-mail i hasło."
        );
        assert_eq!(
            LoginFailure::EmptyFields.message(t),
            "Podaj e-mail i hasło."
        );
        assert_eq!(
            LoginFailure::Api(ApiError::Network("refused".into())).message(t),
            "Brak połączenia z serwerem."
        );
    }
}
