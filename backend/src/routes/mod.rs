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

use actix_web::{HttpResponse, web};

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

/// Unknown paths and methods under `/api`: problem+json 404, not HTML.
pub async fn api_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        shared::ErrorCode::NotFound,
        "No such endpoint; see /api/openapi.json.",
    ))
}
