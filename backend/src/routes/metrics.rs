//! `GET /metrics`: the Prometheus text format of `crate::metrics`.
//!
//! Not part of the API (not in the OpenAPI document) and never public: it
//! answers only with `METRICS_TOKEN` set and `Authorization: Bearer <it>`
//! (Prometheus' `authorization` setting); without the setting the path does
//! not exist (404), so a deployment that proxies everything to the app
//! exposes nothing by default.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, get, web};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(metrics);
}

/// Compares digests, so the time taken tells nothing about the token.
fn same_token(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[get("/metrics")]
async fn metrics(req: HttpRequest, st: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some(token) = st
        .settings
        .metrics_token
        .as_deref()
        .filter(|t| !t.is_empty())
    else {
        return Err(ApiError::not_found());
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !given.is_some_and(|g| same_token(g, token)) {
        return Err(ApiError::unauthenticated());
    }
    let body = st.metrics.render(&st).await;
    Ok(HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::same_token;

    #[test]
    fn tokens_compare_exactly() {
        assert!(same_token("0123456789abcdef", "0123456789abcdef"));
        assert!(!same_token("0123456789abcdeF", "0123456789abcdef"));
        assert!(!same_token("", "0123456789abcdef"));
    }
}
