//! The one place that maps errors to HTTP: `ApiError` becomes an RFC 9457
//! problem+json response with the stable `code` of `shared::ErrorCode`.
//! Internal details are logged (with the request id of the current span),
//! never sent to the client.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, error as aerr};
use sea_orm::{DbErr, RuntimeErr, SqlxError};
use shared::{ErrorCode, FieldError, Problem};

use crate::domain::DomainError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
    pub retry_after_secs: Option<u64>,
    /// The `Allow` header of a 405: the methods the path takes.
    pub allow: Option<String>,
    /// The cause of a 5xx, for the log only.
    source: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: Some(detail.into()),
            errors: Vec::new(),
            retry_after_secs: None,
            allow: None,
            source: None,
        }
    }

    pub fn code(code: ErrorCode) -> Self {
        Self {
            code,
            detail: None,
            errors: Vec::new(),
            retry_after_secs: None,
            allow: None,
            source: None,
        }
    }

    /// 422 naming one invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::fields(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// 422 naming several invalid fields.
    pub fn fields(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            errors,
            ..Self::new(ErrorCode::ValidationFailed, detail)
        }
    }

    pub fn not_found() -> Self {
        Self::code(ErrorCode::NotFound)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorCode::Unauthenticated,
            "Log in, or send an API token as 'Authorization: Bearer <token>'.",
        )
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(
                ErrorCode::RateLimited,
                format!("Too many requests; retry in {} s.", retry_after_secs.max(1)),
            )
        }
    }

    /// A 500 whose cause goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            source: Some(cause.to_string()),
            ..Self::code(ErrorCode::Internal)
        }
    }

    pub fn problem(&self) -> Problem {
        let mut p = Problem::new(self.code, self.detail.clone());
        p.errors = self.errors.clone();
        p
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code.as_str())?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        if let Some(s) = &self.source {
            write!(f, " ({s})")?;
        }
        Ok(())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if self.status_code().is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(secs) = self.retry_after_secs {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if let Some(allow) = &self.allow {
            res.insert_header((header::ALLOW, allow.clone()));
        }
        res.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

/// Whether a database error means "unreachable for now" (503, worth a
/// retry) rather than a fault of the request or of the code (500): no
/// connection could be had, or the one in use broke — PostgreSQL restarting,
/// an operator or failover terminating backends, the network dropping.
pub fn db_unavailable(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match &**e {
                SqlxError::Io(_)
                | SqlxError::Tls(_)
                | SqlxError::PoolTimedOut
                | SqlxError::PoolClosed
                | SqlxError::WorkerCrashed => true,
                // SQLSTATE class 08 (connection exception), 57P01-03
                // (admin shutdown, crash shutdown, cannot connect now),
                // 53300 (too many connections).
                SqlxError::Database(d) => d.code().is_some_and(|c| {
                    c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03" | "53300")
                }),
                _ => false,
            }
        }
        _ => false,
    }
}

impl From<DbErr> for ApiError {
    fn from(e: DbErr) -> Self {
        if db_unavailable(&e) {
            Self {
                source: Some(e.to_string()),
                ..Self::new(
                    ErrorCode::ServiceUnavailable,
                    "The database is unavailable; retry shortly.",
                )
            }
        } else {
            Self::internal(e)
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { field, message } => Self::invalid(field, message),
            DomainError::NotFound => Self::not_found(),
            DomainError::Conflict(m) => Self::new(ErrorCode::Conflict, m),
            DomainError::Forbidden(m) => Self::new(ErrorCode::Forbidden, m),
            DomainError::EditWindowClosed => Self::new(
                ErrorCode::EditWindowClosed,
                "Messages can be edited only within 24 hours of sending.",
            ),
            DomainError::EmojiNotAllowed => Self {
                errors: vec![FieldError {
                    field: "emoji".into(),
                    message: format!(
                        "must be one of {}",
                        shared::dto::messages::ALLOWED_EMOJI.join(" ")
                    ),
                }],
                ..Self::new(ErrorCode::EmojiNotAllowed, "This emoji is not allowed.")
            },
            DomainError::WrongPassword => {
                Self::new(ErrorCode::WrongPassword, "The current password is wrong.")
            }
            DomainError::RateLimited(secs) => Self::rate_limited(secs),
            DomainError::Db(e) => e.into(),
            DomainError::Internal(m) => Self::internal(m),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(e)
    }
}

/// Maps a serde_json error to 400 (not JSON) or 422 (JSON of the wrong shape).
pub fn from_serde(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => {
            let msg = e.to_string();
            // serde names the field in backticks: "missing field `email`".
            let field = msg
                .split('`')
                .nth(1)
                .filter(|_| msg.contains("field"))
                .unwrap_or("body")
                .to_owned();
            ApiError::invalid(field, msg)
        }
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            ErrorCode::MalformedBody,
            format!("The body is not valid JSON: {e}"),
        ),
    }
}

/// Error handler for query strings.
pub fn query_error(err: aerr::QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::invalid("query", err.to_string()).into()
}

/// Error handler for path parameters: a path that cannot match is unknown,
/// unless it is another path of the API (`PATCH /api/messages/heartbeat`
/// reaches `PATCH /api/messages/{id}`): then its method is not allowed.
pub fn path_error(_err: aerr::PathError, req: &HttpRequest) -> actix_web::Error {
    crate::routes::method_not_allowed(req)
        .err()
        .unwrap_or_else(ApiError::not_found)
        .into()
}

/// Any other payload error (e.g. a body over the global limit).
pub fn payload_error(err: aerr::PayloadError) -> ApiError {
    match err {
        aerr::PayloadError::Overflow => ApiError::code(ErrorCode::PayloadTooLarge),
        other => ApiError::new(ErrorCode::MalformedBody, other.to_string()),
    }
}
