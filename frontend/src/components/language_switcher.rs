//! Buttons to switch the UI language.

use leptos::prelude::*;

use crate::i18n::{Lang, use_i18n};

#[component]
pub fn LanguageSwitcher() -> impl IntoView {
    let i18n = use_i18n();
    let options = Lang::ALL
        .into_iter()
        .map(|lang| {
            view! {
                <button
                    type="button"
                    class="lang-switcher__option"
                    lang=lang.code()
                    data-testid=format!("lang-{}", lang.code())
                    aria-pressed=move || (i18n.lang() == lang).to_string()
                    on:click=move |_| i18n.set_lang(lang)
                >
                    {lang.native_name()}
                </button>
            }
        })
        .collect_view();
    view! {
        <div class="lang-switcher" role="group" aria-label=i18n.text(|t| t.language)>
            {options}
        </div>
    }
}
