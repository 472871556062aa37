//! Letter case for search and initials. In the browser it goes through
//! `String.prototype.toLowerCase`/`toUpperCase`: Rust's own Unicode case
//! tables would add about 20 KB to the wasm for what the browser already
//! has. Elsewhere (unit tests on the host) the standard library does it.

#[cfg(target_arch = "wasm32")]
pub fn lower(text: &str) -> String {
    js_sys::JsString::from(text).to_lower_case().into()
}

#[cfg(target_arch = "wasm32")]
pub fn upper(text: &str) -> String {
    js_sys::JsString::from(text).to_upper_case().into()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn lower(text: &str) -> String {
    text.to_lowercase()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn upper(text: &str) -> String {
    text.to_uppercase()
}
