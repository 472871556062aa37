//! Polish texts (the default language).

use super::Strings;

pub(super) const STRINGS: Strings = Strings {
    app_name: "Wiadomości",
    language: "Język",
    loading: "Ładowanie…",

    login_title: "Zaloguj się",
    email_label: "E-mail",
    password_label: "Hasło",
    login_button: "Zaloguj się",
    login_submitting: "Logowanie…",
    invalid_credentials: "Nieprawidłowy e-mail lub hasło.",
    rate_limited_in: "Zbyt wiele prób logowania. Spróbuj ponownie za {n} s.",
    rate_limited: "Zbyt wiele prób logowania. Spróbuj ponownie później.",
    network_error: "Brak połączenia z serwerem.",
    fields_required: "Podaj e-mail i hasło.",
    unexpected_error: "Coś poszło nie tak. Spróbuj ponownie.",

    home_empty: "Wybierz rozmowę albo zacznij nową.",
    logout: "Wyloguj",
    retry: "Spróbuj ponownie",
};
