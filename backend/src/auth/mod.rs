//! Authentication: argon2id passwords, opaque session tokens (cookie) and
//! personal API tokens (bearer), both stored only as SHA-256 hashes; the
//! `AuthUser` extractor with its CSRF check (the login limits are in
//! `rate_limit`).

pub mod api_tokens;
pub mod csrf;
pub mod extractor;
pub mod password;
pub mod sessions;
pub mod token;

pub use extractor::AuthUser;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "msg_session";
