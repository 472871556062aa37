//! Security headers: the strict Content-Security-Policy every response gets
//! by default (API answers are data, never pages), the page policy of the
//! single-page app, and HSTS when PUBLIC_URL is https.
//!
//! The SPA's policy never allows inline script by `'unsafe-inline'`: Trunk
//! writes one inline bootstrap `<script type="module">` into index.html, and
//! that exact script is allowed by its SHA-256 hash, read from the served
//! index.html (re-read when the file changes, so a rebuilt SPA keeps working
//! without a restart). `'wasm-unsafe-eval'` lets the page compile its
//! WebAssembly; nothing else may be evaluated. The API reference page
//! (`routes::docs`) sets a looser policy of its own.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use base64::Engine;
use sha2::{Digest, Sha256};

/// For every response that does not set its own: nothing may load, nothing
/// may frame it. A JSON body opened as a page (or an error shown by a proxy)
/// can run nothing.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// HSTS on https: a year; not `includeSubDomains`, since the portal's other
/// hosts are not ours to decide for.
pub const HSTS: &str = "max-age=31536000";

/// The SPA's page policy, allowing the inline scripts with these hashes
/// (`sha256-…` source expressions, without quotes).
///
/// `img-src https:` is there for link-preview images (`og:image` of other
/// sites); images cannot run script. `style-src` has no `'unsafe-inline'`:
/// the app sets styles only through its stylesheet and the CSSOM.
pub fn spa_csp(script_hashes: &[String]) -> String {
    let mut script_src = String::from("'self' 'wasm-unsafe-eval'");
    for h in script_hashes {
        script_src.push_str(" '");
        script_src.push_str(h);
        script_src.push('\'');
    }
    format!(
        "default-src 'self'; script-src {script_src}; style-src 'self'; \
         img-src 'self' data: https:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// `sha256-<base64>` of each inline `<script>` (one without `src`) of a page,
/// hashed as a browser does: the script's text exactly, newlines normalized.
pub fn inline_script_hashes(html: &str) -> Result<Vec<String>, String> {
    use lol_html::html_content::TextChunk;
    use lol_html::{RewriteStrSettings, rewrite_str, text};
    use std::cell::RefCell;

    let current = RefCell::new(String::new());
    let hashes = RefCell::new(Vec::new());
    rewrite_str(
        html,
        RewriteStrSettings::new().append_element_content_handler(text!(
            "script:not([src])",
            |t: &mut TextChunk<'_>| {
                current.borrow_mut().push_str(t.as_str());
                if t.last_in_text_node() {
                    let script = std::mem::take(&mut *current.borrow_mut());
                    // The HTML parser turns CRLF and lone CR into LF first.
                    let script = script.replace("\r\n", "\n").replace('\r', "\n");
                    let digest = Sha256::digest(script.as_bytes());
                    hashes.borrow_mut().push(format!(
                        "sha256-{}",
                        base64::engine::general_purpose::STANDARD.encode(digest)
                    ));
                }
                Ok(())
            }
        )),
    )
    .map_err(|e| e.to_string())?;
    Ok(hashes.into_inner())
}

/// The policy for `index` as it is on disk now (cached until the file's
/// modification time or length change).
pub fn spa_csp_for(index: &Path) -> String {
    struct Cached {
        path: PathBuf,
        modified: Option<SystemTime>,
        len: u64,
        csp: String,
    }
    static CACHE: Mutex<Option<Cached>> = Mutex::new(None);

    let meta = std::fs::metadata(index).ok();
    let modified = meta.as_ref().and_then(|m| m.modified().ok());
    let len = meta.as_ref().map_or(0, |m| m.len());
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = cache.as_ref()
        && c.path == index
        && c.modified == modified
        && c.len == len
    {
        return c.csp.clone();
    }
    let hashes = match std::fs::read_to_string(index)
        .map_err(|e| e.to_string())
        .and_then(|html| inline_script_hashes(&html))
    {
        Ok(h) => h,
        Err(e) => {
            // Strict without the hashes: the page would not start, but nothing
            // unsafe is allowed either.
            tracing::warn!(error = %e, path = %index.display(), "cannot hash the SPA's inline scripts");
            Vec::new()
        }
    };
    let csp = spa_csp(&hashes);
    *cache = Some(Cached {
        path: index.to_owned(),
        modified,
        len,
        csp: csp.clone(),
    });
    csp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_only_inline_scripts_exactly() {
        let html = "<html><head><script src=\"/a.js\"></script>\
                    <script type=\"module\">\r\nimport init from '/x.js';\r\nawait init();\n</script>\
                    <script>alert(1)</script></head><body></body></html>";
        let h = inline_script_hashes(html).unwrap();
        let expect = |s: &str| {
            format!(
                "sha256-{}",
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
            )
        };
        assert_eq!(
            h,
            [
                expect("\nimport init from '/x.js';\nawait init();\n"),
                expect("alert(1)")
            ]
        );
        let csp = spa_csp(&h);
        assert!(csp.contains(&format!("'{}'", h[0])), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }

    #[test]
    fn matches_the_csp_specification_example() {
        assert_eq!(
            inline_script_hashes("<script>alert('Hello, world.');</script>").unwrap(),
            ["sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng="]
        );
    }

    #[test]
    fn a_page_without_inline_scripts_gets_no_hash() {
        assert!(
            inline_script_hashes("<script src=\"/a.js\"></script>")
                .unwrap()
                .is_empty()
        );
    }
}
