//! HTTP routes, one module per resource. Handlers are thin: extract, call
//! the domain, map the result.

pub mod auth;
pub mod health;
pub mod spa;

use actix_web::{HttpResponse, web};

use crate::error::ApiError;

/// Everything under `/api`.
pub fn api(cfg: &mut web::ServiceConfig) {
    cfg.configure(auth::routes);
}

/// Unknown paths and methods under `/api`: problem+json 404, not HTML.
pub async fn api_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        shared::ErrorCode::NotFound,
        "No such endpoint; see /api/openapi.json.",
    ))
}
