//! UI texts: Polish by default, English available.
//!
//! Each language is one `Strings` value, so a missing text is a compile
//! error. The chosen language is kept in `localStorage` under `lang`.

mod en;
mod pl;

use leptos::prelude::*;

/// `localStorage` key of the chosen language (`pl` / `en`).
const STORAGE_KEY: &str = "lang";

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Pl,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Pl, Lang::En];

    /// The BCP 47 code, also the stored value.
    pub const fn code(self) -> &'static str {
        match self {
            Lang::Pl => "pl",
            Lang::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|lang| lang.code() == code)
    }

    /// The language's name in itself, for the switcher.
    pub const fn native_name(self) -> &'static str {
        match self {
            Lang::Pl => "Polski",
            Lang::En => "English",
        }
    }

    pub const fn strings(self) -> &'static Strings {
        match self {
            Lang::Pl => &pl::STRINGS,
            Lang::En => &en::STRINGS,
        }
    }
}

/// All texts of the UI in one language.
#[derive(Debug)]
pub struct Strings {
    /// The language these texts are in (for number and date formats).
    pub lang: Lang,
    /// Name of the app (document title, header).
    pub app_name: &'static str,
    /// Accessible name of the language switcher.
    pub language: &'static str,
    pub loading: &'static str,

    pub login_title: &'static str,
    pub email_label: &'static str,
    pub password_label: &'static str,
    pub login_button: &'static str,
    pub login_submitting: &'static str,
    pub invalid_credentials: &'static str,
    /// Rate-limited login; `{n}` is replaced by the seconds to wait.
    pub rate_limited_in: &'static str,
    /// Rate-limited login when the wait is unknown.
    pub rate_limited: &'static str,
    pub network_error: &'static str,
    pub fields_required: &'static str,
    pub unexpected_error: &'static str,

    pub home_empty: &'static str,
    pub logout: &'static str,
    pub retry: &'static str,

    pub new_message: &'static str,
    pub search_conversations: &'static str,
    pub conversations_label: &'static str,
    pub no_conversations: &'static str,
    pub no_matches: &'static str,
    pub muted: &'static str,
    pub unread_count: &'static str,
    pub you_prefix: &'static str,
    pub deleted_message: &'static str,
    pub time_now: &'static str,
    pub time_minutes: &'static str,
    pub time_yesterday: &'static str,
    pub day_today: &'static str,
    pub day_yesterday: &'static str,
    pub back_to_list: &'static str,
    pub load_older: &'static str,
    pub edited: &'static str,
    pub forwarded: &'static str,
    pub reply: &'static str,
    pub react: &'static str,
    pub react_with: &'static str,
    pub edit: &'static str,
    pub delete: &'static str,
    pub cancel: &'static str,
    pub confirm_delete: &'static str,
    pub replying_to: &'static str,
    pub editing_message: &'static str,
    pub cancel_reply: &'static str,
    pub cancel_edit: &'static str,
    pub composer_placeholder: &'static str,
    pub composer_label: &'static str,
    pub send: &'static str,
    pub save: &'static str,
    pub typing_one: &'static str,
    pub typing_many: &'static str,
    pub tick_sent: &'static str,
    pub tick_read: &'static str,
    pub disconnected: &'static str,
    pub send_failed: &'static str,
    /// Sending refused by the message rate limit; `{n}` is the seconds to wait.
    pub sending_too_fast_in: &'static str,
    pub action_failed: &'static str,
    pub edit_window_closed: &'static str,
    pub conversation_missing: &'static str,
    pub search_people: &'static str,
    pub group_name: &'static str,
    pub start_chat: &'static str,
    pub create_group: &'static str,
    pub close: &'static str,
    pub no_people: &'static str,
    pub remove_person: &'static str,
    pub selected_people: &'static str,
    pub messages_label: &'static str,
    pub message_actions: &'static str,
    pub reaction_label: &'static str,
    pub empty_chat: &'static str,
    pub you: &'static str,
    pub members_label: &'static str,
    pub settings: &'static str,
    pub back_to_messages: &'static str,
    pub notifications_heading: &'static str,
    pub notify_email_label: &'static str,
    pub language_hint: &'static str,
    pub password_heading: &'static str,
    pub current_password: &'static str,
    pub new_password: &'static str,
    pub repeat_password: &'static str,
    pub password_hint: &'static str,
    pub change_password_button: &'static str,
    pub password_changed: &'static str,
    pub wrong_password: &'static str,
    pub password_length: &'static str,
    pub passwords_differ: &'static str,
    pub too_many_attempts: &'static str,
    pub saved: &'static str,
    /// Presence: online now.
    pub online: &'static str,
    /// Presence of someone offline; `{when}` is e.g. "5 min temu".
    pub last_seen: &'static str,
    pub just_now: &'static str,
    pub minutes_ago: &'static str,
    pub hours_ago: &'static str,
    pub chat_actions: &'static str,
    pub mute: &'static str,
    pub unmute: &'static str,
    pub archive: &'static str,
    pub unarchive: &'static str,
    pub leave_group: &'static str,
    pub confirm_leave: &'static str,
    pub archived_view: &'static str,
    /// Mark of an archived conversation.
    pub archived: &'static str,
    pub no_archived: &'static str,
    pub pin: &'static str,
    pub unpin: &'static str,
    pub pinned_label: &'static str,
    pub forward: &'static str,
    pub forward_title: &'static str,
    pub forwarded_done: &'static str,
    pub group_settings: &'static str,
    pub add_people: &'static str,
    pub add: &'static str,
    pub remove_member: &'static str,
    pub owner: &'static str,
    pub only_owner: &'static str,
    pub attach_files: &'static str,
    pub attachments_label: &'static str,
    /// `{name}` is the file's name.
    pub remove_attachment: &'static str,
    pub uploading: &'static str,
    pub file_too_large: &'static str,
    pub upload_failed: &'static str,
    pub too_many_files: &'static str,
    pub wait_for_uploads: &'static str,
    pub drop_files: &'static str,
    pub open_image: &'static str,
    pub download_file: &'static str,
    /// `{names}`: the readers, comma-separated.
    pub read_by: &'static str,
    /// The chat header's search button.
    pub search_in_chat: &'static str,
    /// The in-conversation search field.
    pub search_messages: &'static str,
    pub search_results: &'static str,
    pub no_results: &'static str,
    pub more_results: &'static str,
    pub close_search: &'static str,
}

impl Strings {
    /// A text with `{key}` replaced by `value`.
    pub fn fill(text: &str, key: &str, value: &str) -> String {
        text.replace(&format!("{{{key}}}"), value)
    }

    /// The rate-limit message, with the wait when it is known.
    pub fn rate_limited_message(&self, retry_after: Option<u64>) -> String {
        match retry_after {
            Some(seconds) => self.rate_limited_in.replace("{n}", &seconds.to_string()),
            None => self.rate_limited.to_owned(),
        }
    }
}

/// The current language, provided as context by the app root.
#[derive(Debug, Clone, Copy)]
pub struct I18n {
    lang: RwSignal<Lang>,
}

impl I18n {
    /// Starts with the language stored in `localStorage`, else Polish.
    pub fn from_storage() -> Self {
        let lang = local_storage()
            .and_then(|storage| storage.get_item(STORAGE_KEY).ok().flatten())
            .and_then(|code| Lang::from_code(&code))
            .unwrap_or_default();
        Self {
            lang: RwSignal::new(lang),
        }
    }

    /// The current language (tracked).
    pub fn lang(&self) -> Lang {
        self.lang.get()
    }

    /// The texts of the current language (tracked).
    pub fn t(&self) -> &'static Strings {
        self.lang().strings()
    }

    /// One text of the current language, as a reactive view value
    /// (`aria-label=i18n.text(|t| t.close)`). Every call returns the same
    /// closure type, so all the texts in views share one copy of the
    /// rendering code instead of one per text: a large part of the wasm.
    pub fn text(
        self,
        pick: fn(&'static Strings) -> &'static str,
    ) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
        move || pick(self.t())
    }

    /// Switches the language and remembers it.
    pub fn set_lang(&self, lang: Lang) {
        self.lang.set(lang);
        if let Some(storage) = local_storage() {
            // Storage can be full or blocked; the choice then lasts only
            // for this page.
            let _ = storage.set_item(STORAGE_KEY, lang.code());
        }
    }
}

/// The app's `I18n` (provided by `App`).
pub fn use_i18n() -> I18n {
    expect_context::<I18n>()
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for lang in Lang::ALL {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
        }
        assert_eq!(Lang::from_code("de"), None);
    }

    #[test]
    fn rate_limit_message_has_the_wait() {
        let pl = Lang::Pl.strings();
        assert_eq!(
            pl.rate_limited_message(Some(42)),
            "Zbyt wiele prób logowania. Spróbuj ponownie za 42 s."
        );
        assert!(!pl.rate_limited_message(None).contains("{n}"));
        for lang in Lang::ALL {
            assert!(lang.strings().rate_limited_in.contains("{n}"));
        }
    }
}
