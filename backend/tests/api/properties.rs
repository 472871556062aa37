//! Property tests (proptest) of the two places that turn untrusted text into
//! something a browser shows: message Markdown → HTML, and the link-preview
//! page parser. Inputs are built from known attack pieces mixed with random
//! text; every generated case is checked: no panic, only allowed elements,
//! no event-handler or style attributes, no script-capable URLs, bounded
//! preview fields. Case counts are bounded so this runs in seconds.

use std::cell::RefCell;

use backend::domain::render;
use backend::jobs::link_preview::parse::{
    MAX_DESCRIPTION_CHARS, MAX_IMAGE_URL_CHARS, MAX_SITE_NAME_CHARS, MAX_TITLE_CHARS, PageParser,
};
use lol_html::html_content::Element;
use lol_html::{RewriteStrSettings, element, rewrite_str};
use proptest::prelude::*;
use url::Url;

/// Pieces that have broken sanitizers somewhere.
const ATTACKS: &[&str] = &[
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//x.pl/a.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<p style=\"color:red\">x</p>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "[x](vbscript:msgbox(1))",
    "![i](javascript:alert(1))",
    "![i](https://x.pl/a.png \"t\" onerror=alert(1))",
    "<javascript:alert(1)>",
    "<https://przyklad.pl/?q=<script>>",
    "https://przyklad.pl/a?b=\"onmouseover=alert(1)",
    "[a][r]\n\n[r]: javascript:alert(1)",
    "<details open ontoggle=alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<!--><script>alert(1)</script>-->",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<a href=\"http://ok.pl\" onclick=\"alert(1)\">ok</a>",
    "`<script>`",
    "```\n<script>alert(1)</script>\n```",
    "**",
    "*",
    "_",
    "~~",
    "`",
    "> ",
    "- ",
    "1. ",
    "\n",
    "\n\n",
    "    ",
    "\\",
    "&",
    "&amp;",
    "&#x3c;",
    "\u{0}",
    "\u{202e}",
    "zażółć gęślą jaźń",
    "😂",
];

fn fragments() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(ATTACKS).prop_map(str::to_owned),
        1 => "[a-zA-Z<>\"'=:/ &#;()\\[\\]!*_`\n-]{0,16}",
        1 => any::<String>().prop_map(|s| s.chars().take(8).collect()),
    ]
}

fn markdown() -> impl Strategy<Value = String> {
    proptest::collection::vec(fragments(), 0..10).prop_map(|v| v.concat())
}

const ALLOWED_TAGS: &[&str] = &[
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
];

/// Whether a URL as an attribute carries it could run script: what is left
/// once the browser drops whitespace and control characters.
fn script_capable(url: &str) -> bool {
    let decoded = html_escape::decode_html_entities(url);
    let squeezed: String = decoded
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    ["javascript:", "vbscript:", "data:"]
        .iter()
        .any(|s| squeezed.starts_with(s))
}

/// Every element and attribute of `html`, checked.
fn assert_safe_html(html: &str) -> Result<(), TestCaseError> {
    let problems = RefCell::new(Vec::<String>::new());
    let checked = rewrite_str(
        html,
        RewriteStrSettings::new().append_element_content_handler(element!(
            "*",
            |el: &mut Element<'_, '_>| {
                let tag = el.tag_name();
                if !ALLOWED_TAGS.contains(&tag.as_str()) {
                    problems.borrow_mut().push(format!("element <{tag}>"));
                }
                for a in el.attributes() {
                    let name = a.name();
                    if name.starts_with("on") || name == "style" || name == "srcdoc" {
                        problems.borrow_mut().push(format!("attribute {name}"));
                    }
                    if matches!(name.as_str(), "href" | "src" | "action" | "formaction")
                        && script_capable(&a.value())
                    {
                        problems
                            .borrow_mut()
                            .push(format!("{name}={:?}", a.value()));
                    }
                }
                Ok(())
            }
        )),
    );
    prop_assert!(checked.is_ok(), "unparseable output {html:?}");
    let problems = problems.into_inner();
    prop_assert!(problems.is_empty(), "{problems:?} in {html:?}");
    Ok(())
}

/// The checker itself finds what it looks for (so the property can fail).
#[test]
fn the_html_checker_catches_unsafe_output() {
    for bad in [
        "<script>alert(1)</script>",
        "<p onclick=\"x\">a</p>",
        "<a href=\" java&#115;cript:alert(1)\">a</a>",
        "<p style=\"color:red\">a</p>",
        "<img src=\"x\">",
        "<a href=\"data:text/html,x\">a</a>",
    ] {
        assert!(assert_safe_html(bad).is_err(), "{bad}");
    }
    assert!(
        assert_safe_html(
            "<p><a href=\"https://x.pl\" rel=\"noopener\">x</a> javascript:alert(1)</p>"
        )
        .is_ok()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn rendered_markdown_is_always_safe_html(md in markdown()) {
        let html = render::to_html(&md);
        assert_safe_html(&html)?;
        // The other renderings never panic either.
        let _ = render::plain_text(&md);
        let _ = render::preview(&md);
        let _ = render::search_text(&md);
        if let Some(link) = render::first_link(&md) {
            let u = Url::parse(&link);
            prop_assert!(
                u.as_ref().is_ok_and(|u| matches!(u.scheme(), "http" | "https")),
                "first_link {link:?}"
            );
        }
    }
}

/// Head pieces of a page, hostile and plain.
const PAGE_PARTS: &[&str] = &[
    "<meta property=\"og:title\" content=\"<script>alert(1)</script>\">",
    "<meta property=\"og:title\" content=\"Tytuł &amp; więcej\">",
    "<meta property=\"og:description\" content=\"",
    "<meta name=\"description\" content=\"opis\">",
    "<meta property=\"og:image\" content=\"javascript:alert(1)\">",
    "<meta property=\"og:image\" content=\"data:image/png;base64,AAAA\">",
    "<meta property=\"og:image\" content=\"/obrazek.png\">",
    "<meta property=\"og:image\" content=\"//cdn.example.pl/a.png\">",
    "<meta property=\"og:image\" content=\"  JaVaScRiPt:alert(1)\">",
    "<meta property=\"og:site_name\" content=\"Portal\">",
    "<meta charset=\"windows-1250\">",
    "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-2\">",
    "<title>",
    "</title>",
    "<title>Strona <b>x</b></title>",
    "<head>",
    "</head>",
    "<body>",
    "<!--",
    "-->",
    "<![CDATA[",
    "<script>",
    "</script>",
    "&#0;",
    "&#x110000;",
    "&nbsp;",
    "\u{0}",
    "\r\n",
    "\u{feff}",
];

fn page() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::sample::select(PAGE_PARTS).prop_map(|s| s.as_bytes().to_vec()),
            1 => "[a-zA-Z<>\"'=:/ &#;!-]{0,24}".prop_map(String::into_bytes),
            1 => proptest::collection::vec(any::<u8>(), 0..12),
        ],
        0..14,
    )
    .prop_map(|v| v.concat())
}

fn parse(
    page: &[u8],
    cuts: &[usize],
    charset: Option<&str>,
) -> backend::jobs::link_preview::parse::PageMeta {
    let mut p = PageParser::new(charset);
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (page.len() + 1)).collect();
    cuts.sort_unstable();
    for c in cuts {
        p.write(&page[at..c]);
        at = c;
    }
    p.write(&page[at..]);
    let base = Url::parse("https://strona.example.pl/artykul/1").expect("url");
    p.finish(&base)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_preview_parser_never_panics_and_keeps_its_bounds(
        page in page(),
        cuts in proptest::collection::vec(any::<usize>(), 0..4),
        charset in proptest::option::of(proptest::sample::select(&["utf-8", "windows-1250", "iso-8859-2", "bogus"][..])),
    ) {
        let meta = parse(&page, &cuts, charset);
        let chars = |s: &Option<String>| s.as_ref().map_or(0, |s| s.chars().count());
        prop_assert!(chars(&meta.title) <= MAX_TITLE_CHARS);
        prop_assert!(chars(&meta.description) <= MAX_DESCRIPTION_CHARS);
        prop_assert!(chars(&meta.site_name) <= MAX_SITE_NAME_CHARS);
        if let Some(image) = &meta.image {
            prop_assert!(image.len() <= MAX_IMAGE_URL_CHARS);
            let u = Url::parse(image);
            prop_assert!(
                u.as_ref().is_ok_and(|u| matches!(u.scheme(), "http" | "https")),
                "image {image:?}"
            );
        }
        for field in [&meta.title, &meta.description, &meta.site_name].into_iter().flatten() {
            prop_assert!(!field.chars().any(|c| c.is_control() && c != '\n'), "control character in {field:?}");
        }
        // However the bytes arrive, the result is the same.
        prop_assert_eq!(&meta, &parse(&page, &[], charset));
    }
}
