//! Searching the open conversation (`GET …/messages/search`): the search
//! bar under the chat header and its results. It owns the query and the
//! results only; a picked result is shown through `ChatUi::jump_to`, the
//! same way as pins and reply quotes.

use std::time::Duration;

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::dto::messages::MessageDto;

use crate::api;
use crate::components::chat::use_chat_ui;
use crate::i18n::use_i18n;
use crate::state::chat::use_chat;
use crate::text::lower;
use crate::time;

/// Typing pause before the search runs.
const SEARCH_DELAY: Duration = Duration::from_millis(250);
/// Results of one request.
const PAGE_SIZE: u32 = 20;
/// Characters of context shown before the match.
const CONTEXT_BEFORE: usize = 30;
/// Longest snippet, in characters.
const SNIPPET_CHARS: usize = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Nothing asked yet (empty field).
    Idle,
    Searching,
    Done,
    Failed,
}

#[component]
pub fn MessageSearch(id: i64) -> impl IntoView {
    let i18n = use_i18n();
    let chat = use_chat();
    let ui = use_chat_ui();
    let input = NodeRef::<html::Input>::new();
    let query = RwSignal::new(String::new());
    // Each result with the query that found it: a new query redraws even
    // the messages it finds again (their marked match differs).
    let results = RwSignal::new(Vec::<(String, MessageDto)>::new());
    let has_more = RwSignal::new(false);
    let status = RwSignal::new(Status::Idle);
    // Bumped by every keystroke and request: only the latest answer counts.
    let generation = StoredValue::new(0u64);

    // One page of results for `q`: the first (replacing) or older ones.
    let fetch = move |q: String, before: Option<i64>| {
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        status.set(Status::Searching);
        spawn_local(async move {
            let result = api::search_messages(id, &q, before, PAGE_SIZE).await;
            if generation.get_value() != mine {
                return;
            }
            match result {
                Ok(page) => {
                    results.update(|r| {
                        if before.is_none() {
                            r.clear();
                        }
                        r.extend(page.items.into_iter().map(|m| (q.clone(), m)));
                    });
                    has_more.set(page.has_more);
                    status.set(Status::Done);
                }
                Err(err) => {
                    leptos::logging::warn!("message search failed: {err}");
                    status.set(Status::Failed);
                }
            }
        });
    };
    let on_input = move |text: String| {
        query.set(text.clone());
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        if text.trim().is_empty() {
            results.set(Vec::new());
            has_more.set(false);
            status.set(Status::Idle);
            return;
        }
        set_timeout(
            move || {
                if generation.get_value() == mine {
                    fetch(text.trim().to_owned(), None);
                }
            },
            SEARCH_DELAY,
        );
    };
    let close = move || {
        ui.searching.set(false);
        ui.focus_composer();
    };

    // The field takes the focus when the bar opens.
    Effect::new(move |_| {
        if let Some(input) = input.get() {
            let _ = input.focus();
        }
    });

    view! {
        <section
            class="message-search"
            role="search"
            aria-label=i18n.text(|t| t.search_in_chat)
            data-testid="message-search"
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    ev.prevent_default();
                    close();
                }
            }
        >
            <div class="message-search__bar">
                <input
                    class="field__input message-search__input"
                    type="search"
                    autocomplete="off"
                    node_ref=input
                    data-testid="message-search-input"
                    aria-label=i18n.text(|t| t.search_messages)
                    placeholder=i18n.text(|t| t.search_messages)
                    prop:value=move || query.get()
                    on:input=move |ev| on_input(event_target_value(&ev))
                />
                <button
                    type="button"
                    class="icon-button"
                    data-testid="message-search-close"
                    aria-label=i18n.text(|t| t.close_search)
                    title=i18n.text(|t| t.close_search)
                    on:click=move |_| close()
                >
                    "✕"
                </button>
            </div>
            <div
                class="message-search__results"
                aria-busy=move || (status.get() == Status::Searching).to_string()
            >
                <ul
                    class="message-search__items"
                    aria-label=i18n.text(|t| t.search_results)
                    data-testid="message-search-results"
                >
                    <For
                        each=move || results.get()
                        key=|(q, m)| (m.id, q.clone())
                        children=move |(q, message)| {
                            let message_id = message.id;
                            let sender = message
                                .sender
                                .as_ref()
                                .map(|s| s.name.clone())
                                .unwrap_or_default();
                            let (before, found, after) = snippet(
                                message.content.as_deref().unwrap_or_default(),
                                &q,
                            );
                            let at = message.created_at;
                            view! {
                                <li>
                                    <button
                                        type="button"
                                        class="search-result"
                                        data-testid="message-search-result"
                                        on:click=move |_| ui.jump_to(chat, id, message_id)
                                    >
                                        <span class="search-result__head">
                                            <span class="search-result__sender">{sender}</span>
                                            <time class="search-result__time">
                                                {move || time::full(at, i18n.t())}
                                            </time>
                                        </span>
                                        <span class="search-result__text">
                                            {before}
                                            <mark>{found}</mark>
                                            {after}
                                        </span>
                                    </button>
                                </li>
                            }
                        }
                    />
                </ul>
                <Show when=move || status.get() == Status::Done && results.with(Vec::is_empty)>
                    <p class="message-search__status" role="status" data-testid="message-search-empty">
                        {i18n.text(|t| t.no_results)}
                    </p>
                </Show>
                <Show when=move || status.get() == Status::Failed>
                    <p class="message-search__status" role="alert">
                        {i18n.text(|t| t.unexpected_error)}
                    </p>
                </Show>
                <Show when=move || has_more.get()>
                    <button
                        type="button"
                        class="button button--secondary message-search__more"
                        data-testid="message-search-more"
                        disabled=move || status.get() == Status::Searching
                        on:click=move |_| {
                            // The next page of the query shown, not of
                            // text typed since (its search is on its way).
                            let last = results.with(|r| r.last().map(|(q, m)| (q.clone(), m.id)));
                            if let Some((q, before)) = last {
                                fetch(q, Some(before));
                            }
                        }
                    >
                        {i18n.text(|t| t.more_results)}
                    </button>
                </Show>
            </div>
        </section>
    }
}

/// The part of `text` around the first match of `needle` (any letter
/// case, as the server matches): before, the match, after. Whitespace is
/// collapsed; a cut is marked with "…". Unmarked when lower case changes
/// the number of characters (rare letters such as "İ").
fn snippet(text: &str, needle: &str) -> (String, String, String) {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let chars: Vec<char> = text.chars().collect();
    let folded: Vec<char> = lower(&text).chars().collect();
    let needle: Vec<char> = lower(needle.trim()).chars().collect();
    let at = (!needle.is_empty() && folded.len() == chars.len())
        .then(|| {
            folded
                .windows(needle.len())
                .position(|w| w == needle.as_slice())
        })
        .flatten();
    let Some(at) = at else {
        let head: String = chars.iter().take(SNIPPET_CHARS).collect();
        return (head, String::new(), String::new());
    };
    let end = at + needle.len();
    let start = at.saturating_sub(CONTEXT_BEFORE);
    let stop = chars.len().min((start + SNIPPET_CHARS).max(end));
    let mut before: String = chars[start..at].iter().collect();
    if start > 0 {
        before.insert(0, '…');
    }
    let mut after: String = chars[end..stop].iter().collect();
    if stop < chars.len() {
        after.push('…');
    }
    (before, chars[at..end].iter().collect(), after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_marks_the_match_in_any_case() {
        let (before, found, after) = snippet("Zażółć  gęślą jaźń", "GĘŚLĄ");
        assert_eq!(
            (before.as_str(), found.as_str(), after.as_str()),
            ("Zażółć ", "gęślą", " jaźń")
        );
    }

    #[test]
    fn snippet_cuts_long_text() {
        let text = format!("{} igła {}", "a".repeat(100), "b".repeat(200));
        let (before, found, after) = snippet(&text, "igła");
        assert!(before.starts_with('…'));
        assert_eq!(found, "igła");
        assert!(after.ends_with('…'));
    }
}
