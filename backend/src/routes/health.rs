//! `/healthz`: the process is up. `/readyz`: the database answers.

use actix_web::{HttpResponse, get, web};
use shared::ErrorCode;

use crate::error::ApiError;
use crate::state::AppState;

#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

#[get("/readyz")]
pub async fn readyz(st: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match tokio::time::timeout(std::time::Duration::from_secs(3), st.db.ping()).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ready" }))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            Err(ApiError::new(
                ErrorCode::ServiceUnavailable,
                "The database is unreachable.",
            ))
        }
        Err(_) => Err(ApiError::new(
            ErrorCode::ServiceUnavailable,
            "The database did not answer within 3 s.",
        )),
    }
}
