//! `/api/messages/{id}/reactions`: add and remove the caller's reaction.
//! Thin handlers: the rules (allowed emoji, membership, events) live in
//! `domain::reactions`.

use actix_web::{delete, post, web};
use shared::dto::messages::{AddReaction, ReactionsDto};

use crate::auth::AuthUser;
use crate::domain::reactions as domain;
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(add).service(remove);
}

#[post("/messages/{id}/reactions")]
async fn add(
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<AddReaction>,
    st: web::Data<AppState>,
) -> Result<web::Json<ReactionsDto>, ApiError> {
    Ok(web::Json(
        domain::add(&st, user.id(), *id, &body.emoji).await?,
    ))
}

/// The emoji comes percent-encoded in the path (`%F0%9F%91%8D`); actix
/// decodes path segments before they reach `Path`.
#[delete("/messages/{id}/reactions/{emoji}")]
async fn remove(
    user: AuthUser,
    path: web::Path<(i64, String)>,
    st: web::Data<AppState>,
) -> Result<web::Json<ReactionsDto>, ApiError> {
    let (id, emoji) = path.into_inner();
    Ok(web::Json(domain::remove(&st, user.id(), id, &emoji).await?))
}
