//! RFC 9457 problem details with a stable machine-readable `code`.
//!
//! The codes are part of the public API: clients (the SPA included) match on
//! them, so a code is never renamed or reused for another meaning.

use serde::{Deserialize, Serialize};

/// Stable error codes. Serialised in snake_case (`not_a_member`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON or does not have the expected shape.
    MalformedBody,
    /// A field failed validation; `errors` names it.
    ValidationFailed,
    /// No valid session cookie or bearer token.
    Unauthenticated,
    /// E-mail or password is wrong (or the account is deactivated).
    InvalidCredentials,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// A state-changing cookie request without a matching Origin.
    CsrfRejected,
    /// The resource does not exist (or the caller may not know it exists).
    NotFound,
    /// The caller is not a member of the conversation.
    NotAMember,
    /// Editing is only possible within 24 h of sending.
    EditWindowClosed,
    /// Only 👍 ❤️ 😂 😮 😢 ✅ are allowed.
    EmojiNotAllowed,
    /// The state of the resource does not allow this (e.g. adding members to a 1:1).
    Conflict,
    /// The request body is larger than allowed.
    PayloadTooLarge,
    /// The media type of the body is not supported.
    UnsupportedMediaType,
    /// Too many requests; see `Retry-After`.
    RateLimited,
    /// The method is not allowed on this path.
    MethodNotAllowed,
    /// A dependency (database, Redis) is unavailable; retry later.
    ServiceUnavailable,
    /// Something went wrong on the server; the details are in its log.
    Internal,
    /// The current password given to change it is wrong.
    WrongPassword,
}

impl ErrorCode {
    /// The HTTP status that goes with the code: one table, used by the server.
    pub const fn status(self) -> u16 {
        match self {
            Self::MalformedBody => 400,
            Self::Unauthenticated | Self::InvalidCredentials => 401,
            Self::Forbidden | Self::CsrfRejected | Self::EditWindowClosed => 403,
            Self::WrongPassword => 403,
            Self::NotFound | Self::NotAMember => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::ValidationFailed | Self::EmojiNotAllowed => 422,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::ServiceUnavailable => 503,
        }
    }

    /// A short English title, stable for a code (RFC 9457 `title`).
    pub const fn title(self) -> &'static str {
        match self {
            Self::MalformedBody => "Malformed request body",
            Self::ValidationFailed => "Validation failed",
            Self::Unauthenticated => "Authentication required",
            Self::InvalidCredentials => "Invalid e-mail or password",
            Self::Forbidden => "Forbidden",
            Self::CsrfRejected => "Cross-site request rejected",
            Self::NotFound => "Not found",
            Self::NotAMember => "Not found",
            Self::EditWindowClosed => "Edit window closed",
            Self::EmojiNotAllowed => "Emoji not allowed",
            Self::Conflict => "Conflict",
            Self::PayloadTooLarge => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::RateLimited => "Too many requests",
            Self::MethodNotAllowed => "Method not allowed",
            Self::ServiceUnavailable => "Service unavailable",
            Self::Internal => "Internal server error",
            Self::WrongPassword => "Wrong password",
        }
    }

    /// The snake_case wire name of the code.
    /// Kept in step with the serde names by the `codes_round_trip` test.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedBody => "malformed_body",
            Self::ValidationFailed => "validation_failed",
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Forbidden => "forbidden",
            Self::CsrfRejected => "csrf_rejected",
            Self::NotFound => "not_found",
            Self::NotAMember => "not_a_member",
            Self::EditWindowClosed => "edit_window_closed",
            Self::EmojiNotAllowed => "emoji_not_allowed",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited => "rate_limited",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::ServiceUnavailable => "service_unavailable",
            Self::Internal => "internal",
            Self::WrongPassword => "wrong_password",
        }
    }
}

/// One invalid field of a request (`errors` of a `validation_failed` problem).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The field's name as it appears in the request (`email`, `member_ids[2]`).
    pub field: String,
    /// What is wrong with it, in English.
    pub message: String,
}

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the problem type (`/problems/<code>`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The stable machine-readable code.
    pub code: ErrorCode,
    /// Invalid fields, for `validation_failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request id, to find the server log lines of this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Problem {
    pub fn new(code: ErrorCode, detail: impl Into<Option<String>>) -> Self {
        Self {
            kind: format!("/problems/{}", code.as_str().replace('_', "-")),
            title: code.title().to_owned(),
            status: code.status(),
            detail: detail.into(),
            code,
            errors: Vec::new(),
            request_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorCode; 18] = [
        ErrorCode::MalformedBody,
        ErrorCode::ValidationFailed,
        ErrorCode::Unauthenticated,
        ErrorCode::InvalidCredentials,
        ErrorCode::Forbidden,
        ErrorCode::CsrfRejected,
        ErrorCode::NotFound,
        ErrorCode::NotAMember,
        ErrorCode::EditWindowClosed,
        ErrorCode::EmojiNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RateLimited,
        ErrorCode::MethodNotAllowed,
        ErrorCode::ServiceUnavailable,
        ErrorCode::Internal,
        ErrorCode::WrongPassword,
    ];

    #[test]
    fn codes_round_trip() {
        for code in ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::Value::String(code.as_str().into()));
            let back: ErrorCode = serde_json::from_value(json).unwrap();
            assert_eq!(back, code);
        }
    }

    #[test]
    fn client_errors_are_4xx_and_only_internal_is_500() {
        for code in ALL {
            let s = code.status();
            match code {
                ErrorCode::Internal => assert_eq!(s, 500),
                ErrorCode::ServiceUnavailable => assert_eq!(s, 503),
                _ => assert!((400..500).contains(&s), "{code:?} -> {s}"),
            }
        }
    }

    #[test]
    fn problem_json_shape() {
        let p = Problem::new(ErrorCode::NotAMember, None);
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "type": "/problems/not-a-member",
                "title": "Not found",
                "status": 404,
                "code": "not_a_member"
            })
        );
    }
}
