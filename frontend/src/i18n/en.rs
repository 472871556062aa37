//! English texts.

use super::Strings;

pub(super) const STRINGS: Strings = Strings {
    app_name: "Messages",
    language: "Language",
    loading: "Loading…",

    login_title: "Sign in",
    email_label: "E-mail",
    password_label: "Password",
    login_button: "Sign in",
    login_submitting: "Signing in…",
    invalid_credentials: "Incorrect e-mail or password.",
    rate_limited_in: "Too many sign-in attempts. Try again in {n} s.",
    rate_limited: "Too many sign-in attempts. Try again later.",
    network_error: "Cannot connect to the server.",
    fields_required: "Enter your e-mail and password.",
    unexpected_error: "Something went wrong. Please try again.",

    home_empty: "Choose a conversation or start a new one.",
    logout: "Sign out",
    retry: "Try again",
};
