//! Pins: `POST/DELETE /api/messages/{id}/pin` and
//! `GET /api/conversations/{id}/pins`. Thin handlers: the rules live in
//! `domain::pins`.

use actix_web::{HttpResponse, delete, get, post, web};
use shared::dto::messages::PinDto;

use crate::auth::AuthUser;
use crate::domain::pins as domain;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(pin).service(unpin);
}

#[get("/conversations/{id}/pins")]
async fn list(
    user: AuthUser,
    id: web::Path<i64>,
    st: web::Data<AppState>,
) -> Result<web::Json<Vec<PinDto>>, ApiError> {
    Ok(web::Json(domain::list(&st.db, user.id(), *id).await?))
}

#[post("/messages/{id}/pin")]
async fn pin(
    user: AuthUser,
    id: web::Path<i64>,
    st: web::Data<AppState>,
) -> Result<web::Json<PinDto>, ApiError> {
    Ok(web::Json(domain::pin(&st, user.id(), *id).await?))
}

#[delete("/messages/{id}/pin")]
async fn unpin(
    user: AuthUser,
    id: web::Path<i64>,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    domain::unpin(&st, user.id(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
