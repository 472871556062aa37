//! Reads a page's preview metadata while it streams in: `og:title`,
//! `og:description`, `og:image`, `og:site_name`, `<title>` and the meta
//! description, with lol_html (no DOM is built; memory stays bounded).
//!
//! The bytes are decoded in the page's charset: the Content-Type header's
//! when it names one, otherwise a `<meta charset>` / `http-equiv` tag
//! switches the decoder (lol_html), UTF-8 until then. HTML entities are
//! decoded here (lol_html hands out raw text). Nothing read from the page is
//! trusted: values are trimmed, whitespace-collapsed, cut to length, and the
//! image must resolve to an absolute http(s) URL.

use std::sync::{Arc, Mutex, MutexGuard};

use encoding_rs::Encoding;
use lol_html::html_content::{Element, TextChunk};
use lol_html::send::{HtmlRewriter, Settings};
use lol_html::{AsciiCompatibleEncoding, OutputSink, element, text};
use url::Url;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 300;
pub const MAX_SITE_NAME_CHARS: usize = 100;
pub const MAX_IMAGE_URL_CHARS: usize = 2048;
/// Raw text kept per field before cleaning: bounds memory on hostile pages.
const RAW_LIMIT: usize = 4096;

/// What a page says about itself, cleaned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageMeta {
    pub title: Option<String>,
    pub description: Option<String>,
    pub image: Option<String>,
    pub site_name: Option<String>,
}

impl PageMeta {
    /// A preview needs something to show.
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.description.is_none()
    }
}

#[derive(Debug, Default)]
struct Found {
    og_title: Option<String>,
    og_description: Option<String>,
    og_image: Option<String>,
    og_site_name: Option<String>,
    description: Option<String>,
    title: String,
    title_done: bool,
    in_body: bool,
}

struct Discard;

impl OutputSink for Discard {
    fn handle_chunk(&mut self, _: &[u8]) {}
}

/// Feeds on body chunks; `finish` gives the metadata.
pub struct PageParser {
    rewriter: Option<HtmlRewriter<'static, Discard>>,
    found: Arc<Mutex<Found>>,
}

fn lock(found: &Mutex<Found>) -> MutexGuard<'_, Found> {
    // A handler cannot panic while holding it; recover anyway.
    found.lock().unwrap_or_else(|p| p.into_inner())
}

fn keep_first(slot: &mut Option<String>, value: String) {
    if slot.is_none() {
        let mut v = value;
        truncate_bytes(&mut v, RAW_LIMIT);
        *slot = Some(v);
    }
}

fn truncate_bytes(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

impl PageParser {
    /// A parser for a body whose Content-Type named `charset` (if any).
    pub fn new(charset: Option<&str>) -> Self {
        let declared = charset
            .and_then(|c| Encoding::for_label_no_replacement(c.trim().as_bytes()))
            .and_then(AsciiCompatibleEncoding::new);
        let found = Arc::new(Mutex::new(Found::default()));
        let (meta, title, body) = (found.clone(), found.clone(), found.clone());
        let settings = Settings::new_send()
            .with_encoding(declared.unwrap_or_else(AsciiCompatibleEncoding::utf_8))
            // The header wins over the page; without one the page decides.
            .with_adjust_charset_on_meta_tag(declared.is_none())
            // We only read: ambiguous markup is no reason to give up.
            .with_strict(false)
            .append_element_content_handler(element!("meta", move |el: &mut Element<'_, '_, _>| {
                on_meta(&mut lock(&meta), el);
                Ok(())
            }))
            .append_element_content_handler(text!("title", move |t: &mut TextChunk<'_>| {
                let mut f = lock(&title);
                if !f.title_done {
                    if f.title.len() < RAW_LIMIT {
                        f.title.push_str(t.as_str());
                    }
                    f.title_done = t.last_in_text_node();
                }
                Ok(())
            }))
            .append_element_content_handler(element!("body", move |_: &mut Element<'_, '_, _>| {
                lock(&body).in_body = true;
                Ok(())
            }));
        Self {
            rewriter: Some(HtmlRewriter::new(settings, Discard)),
            found,
        }
    }

    /// Parses the next chunk. A page lol_html cannot parse further keeps
    /// what was found so far.
    pub fn write(&mut self, chunk: &[u8]) {
        if let Some(r) = self.rewriter.as_mut()
            && r.write(chunk).is_err()
        {
            self.rewriter = None;
        }
    }

    /// The `<body>` has started: the metadata of `<head>` is complete.
    pub fn head_done(&self) -> bool {
        self.rewriter.is_none() || lock(&self.found).in_body
    }

    /// The cleaned metadata; relative image URLs resolve against `page_url`
    /// (the URL after redirects).
    pub fn finish(mut self, page_url: &Url) -> PageMeta {
        if let Some(r) = self.rewriter.take() {
            let _ = r.end();
        }
        let f = lock(&self.found);
        PageMeta {
            title: f
                .og_title
                .as_deref()
                .and_then(|t| clean(t, MAX_TITLE_CHARS))
                .or_else(|| clean(&f.title, MAX_TITLE_CHARS)),
            description: f
                .og_description
                .as_deref()
                .and_then(|d| clean(d, MAX_DESCRIPTION_CHARS))
                .or_else(|| {
                    f.description
                        .as_deref()
                        .and_then(|d| clean(d, MAX_DESCRIPTION_CHARS))
                }),
            image: f
                .og_image
                .as_deref()
                .and_then(|i| absolute_image(i, page_url)),
            site_name: f
                .og_site_name
                .as_deref()
                .and_then(|s| clean(s, MAX_SITE_NAME_CHARS)),
        }
    }
}

fn on_meta<H: lol_html::HandlerTypes>(f: &mut Found, el: &Element<'_, '_, H>) {
    let Some(content) = el.get_attribute("content") else {
        return;
    };
    // Open Graph says `property`, many sites write `name`.
    for attr in ["property", "name"] {
        let Some(key) = el.get_attribute(attr) else {
            continue;
        };
        let slot = match key.trim().to_ascii_lowercase().as_str() {
            "og:title" => &mut f.og_title,
            "og:description" => &mut f.og_description,
            "og:image" | "og:image:url" | "og:image:secure_url" => &mut f.og_image,
            "og:site_name" => &mut f.og_site_name,
            "description" => &mut f.description,
            _ => continue,
        };
        keep_first(slot, content);
        return;
    }
}

/// Entities decoded, control characters dropped, whitespace collapsed,
/// at most `max` characters (an ellipsis marks a cut); `None` when empty.
pub fn clean(raw: &str, max: usize) -> Option<String> {
    let decoded = html_escape::decode_html_entities(raw);
    let words: Vec<&str> = decoded
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let text = words.join(" ");
    if text.is_empty() {
        return None;
    }
    if text.chars().count() <= max {
        return Some(text);
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    Some(cut)
}

fn absolute_image(raw: &str, page_url: &Url) -> Option<String> {
    let decoded = html_escape::decode_html_entities(raw);
    let u = page_url.join(decoded.trim()).ok()?;
    let s = u.to_string();
    (matches!(u.scheme(), "http" | "https") && s.len() <= MAX_IMAGE_URL_CHARS).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]], charset: Option<&str>, url: &str) -> PageMeta {
        let mut p = PageParser::new(charset);
        for c in chunks {
            p.write(c);
        }
        p.finish(&Url::parse(url).unwrap())
    }

    #[test]
    fn open_graph_wins_over_title_and_description() {
        let html = br#"<!doctype html><html><head>
            <title>Page title</title>
            <meta name="description" content="Plain description">
            <meta property="og:title" content="OG title">
            <meta property="og:description" content="OG description">
            <meta property="og:image" content="/img/a.png">
            <meta property="og:site_name" content="Example">
            </head><body><p>x</p></body></html>"#;
        let m = parse(&[html], None, "https://example.com/articles/1");
        assert_eq!(m.title.as_deref(), Some("OG title"));
        assert_eq!(m.description.as_deref(), Some("OG description"));
        assert_eq!(m.image.as_deref(), Some("https://example.com/img/a.png"));
        assert_eq!(m.site_name.as_deref(), Some("Example"));
    }

    #[test]
    fn falls_back_to_title_and_meta_description() {
        let html = b"<html><head><title>\n  Only   a title \n</title>\
            <meta name=\"Description\" content=\" Opis strony \"></head></html>";
        let m = parse(&[html], None, "https://example.com/");
        assert_eq!(m.title.as_deref(), Some("Only a title"));
        assert_eq!(m.description.as_deref(), Some("Opis strony"));
        assert_eq!(m.image, None);
        assert!(!m.is_empty());
        assert!(parse(&[b"<html><body>nic</body></html>"], None, "https://e.pl/").is_empty());
    }

    #[test]
    fn entities_are_decoded_in_text_and_attributes() {
        let html = b"<title>Caf&eacute; &amp; Bar &#8211; &quot;menu&quot;</title>\
            <meta property=\"og:description\" content=\"Tom &amp; Jerry &lt;3 &#x17C;&oacute;&#322;w\">\
            <meta property=\"og:image\" content=\"img.png?a=1&amp;b=2\">";
        let m = parse(&[html], None, "https://example.com/dir/page");
        assert_eq!(m.title.as_deref(), Some("Café & Bar – \"menu\""));
        assert_eq!(m.description.as_deref(), Some("Tom & Jerry <3 żółw"));
        assert_eq!(
            m.image.as_deref(),
            Some("https://example.com/dir/img.png?a=1&b=2")
        );
    }

    #[test]
    fn title_split_across_chunks_and_only_the_first_title_counts() {
        let m = parse(
            &[
                b"<head><title>Wiado",
                b"mo",
                b"\xc5",
                b"\x9b\xc4\x87</title></head><svg><title>icon</title></svg>",
            ],
            None,
            "https://e.pl/",
        );
        assert_eq!(m.title.as_deref(), Some("Wiadomość"));
    }

    #[test]
    fn legacy_polish_charsets() {
        // "Zażółć gęślą jaźń" in windows-1250 and ISO-8859-2 (they differ
        // in ś and ź).
        let (cp1250, _, _) = encoding_rs::WINDOWS_1250.encode("Zażółć gęślą jaźń");
        let (latin2, _, _) = encoding_rs::ISO_8859_2.encode("Zażółć gęślą jaźń");
        assert_ne!(cp1250, latin2);
        let page = |charset_meta: &str, body: &[u8]| {
            let mut v = format!("<html><head>{charset_meta}<title>").into_bytes();
            v.extend_from_slice(body);
            v.extend_from_slice(b"</title></head></html>");
            v
        };
        let want = Some("Zażółć gęślą jaźń");
        // From the header.
        let m = parse(&[&page("", &cp1250)], Some("windows-1250"), "https://e.pl/");
        assert_eq!(m.title.as_deref(), want);
        let m = parse(&[&page("", &latin2)], Some("ISO-8859-2"), "https://e.pl/");
        assert_eq!(m.title.as_deref(), want);
        // From <meta charset> and from http-equiv.
        let m = parse(
            &[&page("<meta charset=\"windows-1250\">", &cp1250)],
            None,
            "https://e.pl/",
        );
        assert_eq!(m.title.as_deref(), want);
        let m = parse(
            &[&page(
                "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-2\">",
                &latin2,
            )],
            None,
            "https://e.pl/",
        );
        assert_eq!(m.title.as_deref(), want);
        // The header wins over the page.
        let m = parse(
            &[&page("<meta charset=\"utf-8\">", &latin2)],
            Some("iso-8859-2"),
            "https://e.pl/",
        );
        assert_eq!(m.title.as_deref(), want);
    }

    #[test]
    fn lengths_are_capped() {
        let long = "słowo ".repeat(200);
        let html = format!(
            "<title>{long}</title><meta name=description content=\"{long}\">\
             <meta property=og:site_name content=\"{long}\">"
        );
        let m = parse(&[html.as_bytes()], None, "https://e.pl/");
        let t = m.title.unwrap();
        assert_eq!(t.chars().count(), MAX_TITLE_CHARS);
        assert!(t.ends_with('…'));
        assert!(m.description.unwrap().chars().count() <= MAX_DESCRIPTION_CHARS);
        assert!(m.site_name.unwrap().chars().count() <= MAX_SITE_NAME_CHARS);
    }

    #[test]
    fn image_must_be_http_or_https() {
        for (img, want) in [
            ("javascript:alert(1)", None),
            ("data:image/png;base64,AAAA", None),
            (
                "//cdn.example.com/a.jpg",
                Some("https://cdn.example.com/a.jpg"),
            ),
            ("../up.png", Some("https://e.pl/up.png")),
            ("http://other.pl/x.jpg", Some("http://other.pl/x.jpg")),
        ] {
            let html = format!("<meta property=\"og:image\" content=\"{img}\"><title>t</title>");
            let m = parse(&[html.as_bytes()], None, "https://e.pl/a/b");
            assert_eq!(m.image.as_deref(), want, "{img}");
        }
    }

    #[test]
    fn body_start_ends_the_head() {
        let mut p = PageParser::new(None);
        p.write(b"<html><head><title>t</title></head>");
        assert!(!p.head_done());
        p.write(b"<body>");
        assert!(p.head_done());
    }
}
