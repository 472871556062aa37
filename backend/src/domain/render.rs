//! Message content: Markdown source in, sanitized HTML out, plus the plain
//! text used for previews and the lower-cased text used by search.
//!
//! Raw HTML in the source is shown as text, never interpreted; the HTML
//! that pulldown-cmark produces is then cleaned by ammonia (allow-list of
//! tags, only http/https/mailto links, rel=noopener), so no client can be
//! fed script whatever the input.

use std::sync::LazyLock;

use pulldown_cmark::{
    CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, TextMergeStream, html,
};

/// Longest preview in characters.
pub const PREVIEW_CHARS: usize = 120;

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.tags(
        [
            "p",
            "br",
            "strong",
            "em",
            "del",
            "code",
            "pre",
            "a",
            "ul",
            "ol",
            "li",
            "blockquote",
        ]
        .into_iter()
        .collect(),
    )
    .url_schemes(["http", "https", "mailto"].into_iter().collect())
    .link_rel(Some("noopener noreferrer nofollow ugc"))
    .set_tag_attribute_value("a", "target", "_blank");
    b
});

fn options() -> Options {
    Options::ENABLE_STRIKETHROUGH
}

/// Splits bare http(s) URLs in text into links (chat users paste them bare).
fn linkify<'a>(text: CowStr<'a>, out: &mut Vec<Event<'a>>) {
    let s: &str = &text;
    if !s.contains("http://") && !s.contains("https://") {
        out.push(Event::Text(text));
        return;
    }
    let mut rest = s;
    while let Some(start) = find_url_start(rest) {
        let (before, from) = rest.split_at(start);
        let url = bare_url(from);
        if !before.is_empty() {
            out.push(Event::Text(before.to_owned().into()));
        }
        let url_owned: String = url.to_owned();
        out.push(Event::Start(Tag::Link {
            link_type: LinkType::Autolink,
            dest_url: url_owned.clone().into(),
            title: "".into(),
            id: "".into(),
        }));
        out.push(Event::Text(url_owned.into()));
        out.push(Event::End(TagEnd::Link));
        rest = &from[url.len()..];
    }
    if !rest.is_empty() {
        out.push(Event::Text(rest.to_owned().into()));
    }
}

/// The bare URL `from` starts with: up to a space or `<>"`, without the
/// sentence's trailing punctuation.
fn bare_url(from: &str) -> &str {
    let end = from
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
        .unwrap_or(from.len());
    from[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\''])
}

/// Longest link a preview is made for.
pub const MAX_LINK_BYTES: usize = 2048;

/// The first http(s) link a reader of the message sees — a Markdown link,
/// an autolink or a bare URL, not one inside code — normalized (what link
/// previews are made for).
pub fn first_link(markdown: &str) -> Option<String> {
    let absolute = |s: &str| {
        if s.len() > MAX_LINK_BYTES {
            return None;
        }
        let u = url::Url::parse(s).ok()?;
        (matches!(u.scheme(), "http" | "https") && u.host().is_some()).then(|| u.to_string())
    };
    let mut in_code = 0usize;
    // The parser splits text at `[` and `]`: merged, http://[::1]:8080/
    // stays one URL.
    for ev in TextMergeStream::new(Parser::new_ext(markdown, options())) {
        match ev {
            Event::Start(Tag::CodeBlock(_)) => in_code += 1,
            Event::End(TagEnd::CodeBlock) => in_code = in_code.saturating_sub(1),
            Event::Start(Tag::Link { dest_url, .. }) => {
                if let Some(u) = absolute(&dest_url) {
                    return Some(u);
                }
            }
            Event::Text(t) if in_code == 0 => {
                let mut rest: &str = &t;
                while let Some(start) = find_url_start(rest) {
                    let url = bare_url(&rest[start..]);
                    if let Some(u) = absolute(url) {
                        return Some(u);
                    }
                    rest = &rest[start + url.len().max(1)..];
                }
            }
            _ => {}
        }
    }
    None
}

fn find_url_start(s: &str) -> Option<usize> {
    match (s.find("https://"), s.find("http://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Markdown to sanitized HTML.
pub fn to_html(markdown: &str) -> String {
    let mut events = Vec::new();
    let mut in_link = 0usize;
    let mut in_code = 0usize;
    for ev in Parser::new_ext(markdown, options()) {
        match ev {
            // Raw HTML is shown, not interpreted.
            Event::Html(h) | Event::InlineHtml(h) => events.push(Event::Text(h)),
            // A chat message's line breaks are meant.
            Event::SoftBreak => events.push(Event::HardBreak),
            Event::Start(Tag::Link { .. }) => {
                in_link += 1;
                events.push(ev);
            }
            Event::End(TagEnd::Link) => {
                in_link = in_link.saturating_sub(1);
                events.push(ev);
            }
            Event::Start(Tag::CodeBlock(_)) => {
                in_code += 1;
                events.push(ev);
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = in_code.saturating_sub(1);
                events.push(ev);
            }
            // Images are not embedded from arbitrary URLs: show the alt text.
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => {}
            Event::Text(t) if in_link == 0 && in_code == 0 => linkify(t, &mut events),
            other => events.push(other),
        }
    }
    let mut raw = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut raw, events.into_iter());
    CLEANER.clean(&raw).to_string().trim_end().to_owned()
}

/// The text a reader sees, without Markdown syntax, on one line.
pub fn plain_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for ev in Parser::new_ext(markdown, options()) {
        match ev {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                out.push_str(&t)
            }
            Event::SoftBreak | Event::HardBreak | Event::End(_)
                if !out.ends_with(' ') && !out.is_empty() =>
            {
                out.push(' ')
            }
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A short plain-text preview (lists, reply quotes, pins, notifications).
pub fn preview(markdown: &str) -> String {
    let text = plain_text(markdown);
    if text.chars().count() <= PREVIEW_CHARS {
        return text;
    }
    let cut: String = text.chars().take(PREVIEW_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// What search matches against: Unicode lower case of the source (ą/Ą).
pub fn search_text(markdown: &str) -> String {
    markdown.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_markdown() {
        assert_eq!(
            to_html("**bold** _it_ `code`"),
            "<p><strong>bold</strong> <em>it</em> <code>code</code></p>"
        );
        assert_eq!(to_html("a\nb"), "<p>a<br>\nb</p>");
    }

    #[test]
    fn raw_html_and_scripts_are_text() {
        let h = to_html("<script>alert(1)</script><img src=x onerror=alert(1)>");
        assert!(!h.contains("<script"), "{h}");
        assert!(!h.contains("<img"), "{h}");
        assert!(h.contains("&lt;script&gt;"), "{h}");
    }

    #[test]
    fn javascript_links_are_dropped() {
        let h = to_html("[x](javascript:alert(1)) [y](data:text/html,hi)");
        assert!(!h.contains("javascript:"), "{h}");
        assert!(!h.contains("data:"), "{h}");
    }

    #[test]
    fn links_get_safe_rel_and_bare_urls_are_linked() {
        let h = to_html("zobacz https://example.pl/a?b=1.");
        assert!(h.contains("<a href=\"https://example.pl/a?b=1\""), "{h}");
        assert!(h.contains("noopener"), "{h}");
        assert!(h.ends_with(".</p>"), "{h}");
        let h = to_html("[portal](https://portal.pl)");
        assert!(h.contains("href=\"https://portal.pl\""), "{h}");
        // Not inside code.
        let h = to_html("`https://x.pl`");
        assert!(!h.contains("<a"), "{h}");
    }

    #[test]
    fn previews_are_plain_and_short() {
        assert_eq!(preview("**Cześć** _Anno_\n\n- a\n- b"), "Cześć Anno a b");
        let long = "ż".repeat(500);
        let p = preview(&long);
        assert_eq!(p.chars().count(), PREVIEW_CHARS);
        assert!(p.ends_with('…'));
    }

    #[test]
    fn first_link_is_what_the_reader_sees_first() {
        assert_eq!(
            first_link("zobacz https://example.pl/a?b=1. i http://x.pl").as_deref(),
            Some("https://example.pl/a?b=1")
        );
        assert_eq!(
            first_link("[portal](https://Portal.PL) https://x.pl").as_deref(),
            Some("https://portal.pl/")
        );
        assert_eq!(
            first_link("<https://auto.pl/x>").as_deref(),
            Some("https://auto.pl/x")
        );
        // Code spans and blocks are not links.
        assert_eq!(
            first_link("`https://code.pl` a potem https://po.pl").as_deref(),
            Some("https://po.pl/")
        );
        assert_eq!(
            first_link("```\nhttps://blok.pl\n```\nhttps://po.pl").as_deref(),
            Some("https://po.pl/")
        );
        assert_eq!(
            first_link("ipv6 http://[::1]:8080/x i [::ffff:127.0.0.1]").as_deref(),
            Some("http://[::1]:8080/x")
        );
        assert_eq!(first_link("bez linku"), None);
        assert_eq!(first_link("ftp://x.pl mailto:a@b.pl"), None);
        assert_eq!(first_link("[rel](/a/b) http://"), None);
        assert_eq!(
            first_link("http://[zle https://dobre.pl").as_deref(),
            Some("https://dobre.pl/")
        );
        let long = format!("https://x.pl/{}", "a".repeat(MAX_LINK_BYTES));
        assert_eq!(first_link(&long), None);
    }

    #[test]
    fn search_text_folds_polish_case() {
        assert_eq!(search_text("ŻÓŁTA Łódź"), "żółta łódź");
    }
}
