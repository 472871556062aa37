//! The old portal's message HTML turned into the Markdown the service
//! stores (`domain::render` renders it back to sanitized HTML).
//!
//! A streaming pass over html5ever's tokenizer (already built for ammonia),
//! no DOM: links (http, https, mailto), bold, italics, strike-through, code,
//! lists, paragraphs and line breaks survive; the text of `script`, `style`
//! and similar elements is dropped; every other tag is unwrapped to its
//! text. Text is escaped so that characters meaningful in Markdown stay
//! literal.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, CharacterTokens, EndTag, NullCharacterToken, StartTag, TagToken, Token, TokenSink,
    TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// Converts one message's HTML to Markdown.
pub fn to_markdown(html: &str) -> String {
    if html.trim().is_empty() {
        return String::new();
    }
    // Old messages typed as plain text (no block tags) keep their newlines.
    let lower = html.to_ascii_lowercase();
    let has_blocks = [
        "<p", "<br", "<div", "<li", "<pre", "<h1", "<h2", "<h3", "<table",
    ]
    .iter()
    .any(|t| lower.contains(t));
    let sink = Sink {
        w: RefCell::new(Writer {
            keep_newlines: !has_blocks,
            ..Writer::default()
        }),
    };
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let tok = Tokenizer::new(sink, TokenizerOpts::default());
    let _ = tok.feed(&input);
    tok.end();
    tok.sink.w.into_inner().finish()
}

/// Escapes text so Markdown shows it as it is (used for subjects too).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '`' | '[' | ']' | '~' | '<' | '>' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

struct Sink {
    w: RefCell<Writer>,
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut w = self.w.borrow_mut();
        match token {
            CharacterTokens(t) => w.text(&t),
            NullCharacterToken => {}
            TagToken(tag) => {
                let name: &str = &tag.name;
                match tag.kind {
                    StartTag => {
                        let href = tag
                            .attrs
                            .iter()
                            .find(|a| &*a.name.local == "href")
                            .map(|a| a.value.to_string());
                        let raw = w.start(name, href, tag.self_closing);
                        // The tokenizer alone does not know that a script's
                        // body is not markup: tell it, as a tree builder would.
                        if let Some(kind) = raw {
                            return TokenSinkResult::RawData(kind);
                        }
                    }
                    EndTag => w.end(name),
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// Elements whose content is never shown.
const SKIPPED: [&str; 9] = [
    "script", "style", "head", "title", "noscript", "template", "iframe", "object", "svg",
];

#[derive(Default)]
struct Writer {
    out: String,
    keep_newlines: bool,
    /// Inside a skipped element (nesting depth).
    skip: usize,
    pre: usize,
    /// Open lists: `None` bullets, `Some(n)` the next number.
    lists: Vec<Option<u32>>,
    /// Open inline markers: (marker, written yet). A marker is written only
    /// when text follows, so `<b> </b>` leaves nothing behind.
    marks: Vec<(&'static str, bool)>,
    /// Open links: (href if allowed, where the link text starts in `out`).
    links: Vec<(Option<String>, usize)>,
}

fn mark_for(tag: &str) -> Option<&'static str> {
    match tag {
        "b" | "strong" => Some("**"),
        "i" | "em" => Some("*"),
        "s" | "strike" | "del" => Some("~~"),
        "code" => Some("`"),
        _ => None,
    }
}

fn is_block(tag: &str) -> bool {
    matches!(
        tag,
        "p" | "div"
            | "section"
            | "article"
            | "blockquote"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "table"
            | "tr"
            | "pre"
            | "hr"
            | "header"
            | "footer"
    )
}

fn allowed_href(href: &str) -> Option<String> {
    let h = href.trim();
    let lower = h.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:"))
        .then(|| {
            h.replace(' ', "%20")
                .replace('(', "%28")
                .replace(')', "%29")
                .replace('<', "%3C")
                .replace('>', "%3E")
        })
}

impl Writer {
    fn indent(&self) -> String {
        " ".repeat(self.lists.len().saturating_sub(1) * 3)
    }

    fn at_line_start(&self) -> bool {
        self.out.is_empty() || self.out.ends_with('\n')
    }

    fn newline(&mut self) {
        while self.out.ends_with(' ') {
            self.out.pop();
        }
        if !self.out.is_empty() {
            self.out.push('\n');
        }
    }

    /// A blank line (a paragraph break), never more than one.
    fn block_break(&mut self) {
        while self.out.ends_with(' ') {
            self.out.pop();
        }
        if self.out.is_empty() {
            return;
        }
        if !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        if !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn start(&mut self, tag: &str, href: Option<String>, self_closing: bool) -> Option<RawKind> {
        if SKIPPED.contains(&tag) {
            if !self_closing {
                self.skip += 1;
            }
            return match tag {
                "script" => Some(RawKind::ScriptData),
                "style" | "iframe" | "noscript" => Some(RawKind::Rawtext),
                "title" => Some(RawKind::Rcdata),
                _ => None,
            };
        }
        if self.skip > 0 {
            return None;
        }
        if let Some(m) = mark_for(tag) {
            self.marks.push((m, false));
            return None;
        }
        match tag {
            "br" => {
                self.newline();
                let indent = self.indent();
                if !self.lists.is_empty() {
                    self.out.push_str(&indent);
                    self.out.push_str("   ");
                }
            }
            "a" => {
                let pos = self.out.len();
                self.links
                    .push((href.as_deref().and_then(allowed_href), pos));
            }
            "ul" | "ol" => {
                if self.lists.is_empty() {
                    self.block_break();
                } else {
                    self.newline();
                }
                self.lists.push((tag == "ol").then_some(1));
            }
            "li" => {
                if !self.at_line_start() {
                    self.newline();
                }
                let indent = self.indent();
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "- ".to_owned(),
                };
                self.out.push_str(&indent);
                self.out.push_str(&marker);
            }
            t if is_block(t) => {
                self.block_break();
                if t == "pre" {
                    self.pre += 1;
                }
            }
            _ => {}
        }
        None
    }

    fn end(&mut self, tag: &str) {
        if SKIPPED.contains(&tag) {
            self.skip = self.skip.saturating_sub(1);
            return;
        }
        if self.skip > 0 {
            return;
        }
        if let Some(m) = mark_for(tag) {
            // Close the innermost marker of this kind.
            if let Some(pos) = self.marks.iter().rposition(|(k, _)| *k == m) {
                let (mark, written) = self.marks.remove(pos);
                if written {
                    // Emphasis must hug its text: trailing spaces go after.
                    let trimmed = self.out.trim_end_matches(' ').len();
                    let spaces = self.out.len() - trimmed;
                    self.out.truncate(trimmed);
                    self.out.push_str(mark);
                    self.out.push_str(&" ".repeat(spaces));
                }
            }
            return;
        }
        match tag {
            "a" => {
                if let Some((href, pos)) = self.links.pop() {
                    let text = self.out[pos..].trim().to_owned();
                    if let Some(url) = href {
                        self.out.truncate(pos);
                        if text.is_empty() || text == escape(&url) {
                            self.out.push('<');
                            self.out.push_str(&url);
                            self.out.push('>');
                        } else {
                            self.out.push('[');
                            self.out.push_str(&text);
                            self.out.push_str("](");
                            self.out.push_str(&url);
                            self.out.push(')');
                        }
                    }
                }
            }
            "ul" | "ol" => {
                self.lists.pop();
                if self.lists.is_empty() {
                    self.block_break();
                }
            }
            "li" => self.newline(),
            t if is_block(t) => {
                if t == "pre" {
                    self.pre = self.pre.saturating_sub(1);
                }
                self.block_break();
            }
            _ => {}
        }
    }

    fn text(&mut self, t: &str) {
        if self.skip > 0 {
            return;
        }
        let t = t.replace('\u{a0}', " ");
        let literal = self.pre > 0 || self.keep_newlines;
        let mut buf = String::with_capacity(t.len());
        if literal {
            for line in t.split_inclusive('\n') {
                let (body, nl) = match line.strip_suffix('\n') {
                    Some(b) => (b.trim_end_matches('\r'), true),
                    None => (line, false),
                };
                buf.push_str(&escape(body));
                if nl {
                    buf.push('\n');
                }
            }
        } else {
            // HTML collapses whitespace; a line start drops it.
            let mut last_space = self.out.ends_with(' ') || self.at_line_start();
            for c in t.chars() {
                if c.is_whitespace() {
                    if !last_space {
                        buf.push(' ');
                        last_space = true;
                    }
                } else {
                    last_space = false;
                    buf.push(c);
                }
            }
            buf = escape(&buf);
        }
        if buf.trim().is_empty() {
            if literal {
                self.out.push_str(&buf);
                return;
            }
            if !buf.is_empty() && !self.at_line_start() && !self.out.ends_with(' ') {
                self.out.push(' ');
            }
            return;
        }
        // Pending markers open right before the first visible character.
        let lead = buf.len() - buf.trim_start().len();
        self.out.push_str(&buf[..lead]);
        let mut opened = String::new();
        for (m, written) in self.marks.iter_mut() {
            if !*written {
                opened.push_str(m);
                *written = true;
            }
        }
        self.out.push_str(&opened);
        let rest = &buf[lead..];
        // A line that starts like a list item or a numbered one stays text.
        if self.at_line_start() && opened.is_empty() {
            if let Some(first) = rest.chars().next()
                && matches!(first, '-' | '+' | '=')
            {
                self.out.push('\\');
            } else {
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                if digits > 0 && rest[digits..].starts_with(['.', ')']) {
                    self.out.push_str(&rest[..digits]);
                    self.out.push('\\');
                    self.out.push_str(&rest[digits..]);
                    return;
                }
            }
        }
        self.out.push_str(rest);
    }

    fn finish(self) -> String {
        let mut out = String::with_capacity(self.out.len());
        let mut blank = 0;
        for line in self.out.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                blank += 1;
                continue;
            }
            if !out.is_empty() {
                out.push_str(if blank > 0 { "\n\n" } else { "\n" });
            }
            blank = 0;
            out.push_str(line);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::render;

    #[test]
    fn paragraphs_links_bold_italics() {
        assert_eq!(
            to_markdown(
                r#"<p>Cześć <b>Bolek</b>, zobacz <a href="https://portal.pl/w">wydarzenia</a>.</p><p>Drugi <i>akapit</i></p>"#
            ),
            "Cześć **Bolek**, zobacz [wydarzenia](https://portal.pl/w).\n\nDrugi *akapit*"
        );
    }

    #[test]
    fn line_breaks_and_lists() {
        assert_eq!(to_markdown("<p>Dzięki!<br>Będę.</p>"), "Dzięki!\nBędę.");
        assert_eq!(
            to_markdown("<ul><li>jeden</li><li>dwa</li></ul>"),
            "- jeden\n- dwa"
        );
        assert_eq!(
            to_markdown("<p>Plan:</p><ol><li>a</li><li>b<ul><li>c</li></ul></li></ol>"),
            "Plan:\n\n1. a\n2. b\n   - c"
        );
        let html = render::to_html(&to_markdown("<ul><li>jeden</li><li>dwa</li></ul>"));
        assert!(html.contains("<li>jeden</li>"), "{html}");
    }

    #[test]
    fn scripts_and_styles_are_dropped() {
        let md = to_markdown(
            "<script>alert('</p>x')</script><style>p { color: red }</style><p>bez <i>skryptów</i></p>",
        );
        assert_eq!(md, "bez *skryptów*");
    }

    #[test]
    fn markdown_characters_stay_literal() {
        let md = to_markdown("<div>a &amp; b &lt;tag&gt; 2 * 3 = 6, _x_ &nbsp;[1]</div>");
        assert_eq!(md, r"a & b \<tag\> 2 \* 3 = 6, \_x\_ \[1\]");
        let html = render::to_html(&md);
        assert_eq!(html, "<p>a &amp; b &lt;tag&gt; 2 * 3 = 6, _x_ [1]</p>");
        assert_eq!(to_markdown("<p>1. nie lista</p>"), r"1\. nie lista");
        assert_eq!(to_markdown("<p>- nie lista</p>"), r"\- nie lista");
    }

    #[test]
    fn plain_text_keeps_its_newlines() {
        assert_eq!(
            to_markdown("pierwsza linia\r\ndruga linia"),
            "pierwsza linia\ndruga linia"
        );
    }

    #[test]
    fn unsafe_links_become_text_and_bare_urls_stay_links() {
        assert_eq!(
            to_markdown(
                r#"<a href="javascript:alert(1)">zły</a> i <a href="https://x.pl">https://x.pl</a>"#
            ),
            "zły i <https://x.pl>"
        );
        let html = render::to_html("<https://x.pl>");
        assert!(html.contains("href=\"https://x.pl\""), "{html}");
    }

    #[test]
    fn nested_and_spaced_emphasis() {
        assert_eq!(
            to_markdown("<p><strong>bold <em>both</em></strong> and<b> </b>x <b>spaced </b>y</p>"),
            "**bold *both*** and x **spaced** y"
        );
        let html = render::to_html("**bold *both*** and x **spaced** y");
        assert!(
            html.contains("<strong>bold <em>both</em></strong>"),
            "{html}"
        );
    }

    #[test]
    fn empty_input() {
        assert_eq!(to_markdown(""), "");
        assert_eq!(to_markdown("<p> </p>"), "");
    }
}
