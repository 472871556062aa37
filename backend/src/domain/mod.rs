//! The rules of the service, free of HTTP: handlers and the CLI call these
//! with plain values and a connection.

pub mod attachments;
pub mod conversations;
pub mod messages;
pub mod notify;
pub mod pins;
pub mod presence;
pub mod reactions;
pub mod render;
pub mod send;
pub mod users;

use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("edit window closed")]
    EditWindowClosed,
    #[error("emoji not allowed")]
    EmojiNotAllowed,
    /// The current password given to change it does not match.
    #[error("wrong password")]
    WrongPassword,
    /// Too many of these in a short time; retry after this many seconds.
    #[error("rate limited: retry after {0} s")]
    RateLimited(u64),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<crate::rate_limit::RetryAfter> for DomainError {
    fn from(r: crate::rate_limit::RetryAfter) -> Self {
        Self::RateLimited(r.0)
    }
}

impl DomainError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}
