//! HTTP routes, one module per resource. Handlers are thin: extract, call
//! the domain, map the result.

pub mod attachments;
pub mod auth;
pub mod conversations;
pub mod docs;
pub mod health;
pub mod messages;
pub mod metrics;
pub mod notifications;
pub mod pins;
pub mod reactions;
pub mod spa;
pub mod stream;
pub mod users;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;

/// Everything under `/api`.
pub fn api(cfg: &mut web::ServiceConfig) {
    cfg.configure(auth::routes)
        .configure(conversations::routes)
        .configure(messages::routes)
        .configure(reactions::routes)
        .configure(pins::routes)
        .configure(stream::routes)
        .configure(users::routes)
        .configure(docs::routes)
        .configure(notifications::routes)
        .configure(attachments::routes);
}

/// Unknown paths under `/api`: problem+json 404, not HTML. A known path
/// with a method it does not take: 405 with `Allow` (RFC 9110 §15.5.6).
pub async fn api_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    method_not_allowed(&req)?;
    Err(ApiError::new(
        shared::ErrorCode::NotFound,
        "No such endpoint; see /api/openapi.json.",
    ))
}

/// Unknown paths outside `/api` (not the SPA's): 404, or 405 for a known
/// path (`/healthz`) with another method.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    method_not_allowed(&req)?;
    Err(ApiError::not_found())
}

/// 405 with the methods the API document gives this path, if it is one of
/// its paths (`{param}` matching one segment) and they do not include the
/// request's method.
pub fn method_not_allowed(req: &HttpRequest) -> Result<(), ApiError> {
    match crate::openapi::allowed_methods(req.path()) {
        Some(methods)
            if !methods.is_empty() && !methods.split(", ").any(|m| m == req.method().as_str()) =>
        {
            let mut e = ApiError::new(
                shared::ErrorCode::MethodNotAllowed,
                format!("{} is not allowed here; use {}.", req.method(), methods),
            );
            e.allow = Some(methods);
            Err(e)
        }
        _ => Ok(()),
    }
}
