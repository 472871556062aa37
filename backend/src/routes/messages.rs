//! Messages: paging and sending in a conversation, search, editing,
//! deleting, forwarding.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use shared::dto::messages::{EditMessage, ForwardMessage, MessageDto, MessagePage, SendMessage};

use crate::auth::AuthUser;
use crate::domain::messages as domain;
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // `search` before `{id}`-style routes of the same prefix.
    cfg.service(search)
        .service(page)
        .service(send)
        .service(edit)
        .service(remove)
        .service(forward);
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub before_id: Option<i64>,
    pub after_id: Option<i64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    pub q: String,
    pub before_id: Option<i64>,
    pub limit: Option<u64>,
}

#[get("/conversations/{id}/messages")]
async fn page(
    user: AuthUser,
    id: web::Path<i64>,
    q: web::Query<PageQuery>,
    st: web::Data<AppState>,
) -> Result<web::Json<MessagePage>, ApiError> {
    let q = q.into_inner();
    Ok(web::Json(
        domain::page(&st.db, user.id(), *id, q.before_id, q.after_id, q.limit).await?,
    ))
}

#[get("/conversations/{id}/messages/search")]
async fn search(
    user: AuthUser,
    id: web::Path<i64>,
    q: web::Query<SearchQuery>,
    st: web::Data<AppState>,
) -> Result<web::Json<MessagePage>, ApiError> {
    let q = q.into_inner();
    Ok(web::Json(
        domain::search(&st.db, user.id(), *id, &q.q, q.before_id, q.limit).await?,
    ))
}

#[post("/conversations/{id}/messages")]
async fn send(
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<SendMessage>,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (msg, created) = domain::send(&st, user.brief(), *id, body.into_inner()).await?;
    Ok(if created {
        HttpResponse::Created().json(msg)
    } else {
        HttpResponse::Ok().json(msg)
    })
}

#[patch("/messages/{id}")]
async fn edit(
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<EditMessage>,
    st: web::Data<AppState>,
) -> Result<web::Json<MessageDto>, ApiError> {
    Ok(web::Json(
        domain::edit(&st, user.id(), *id, body.into_inner().content).await?,
    ))
}

#[delete("/messages/{id}")]
async fn remove(
    user: AuthUser,
    id: web::Path<i64>,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    domain::delete(&st, user.id(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[post("/messages/{id}/forward")]
async fn forward(
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<ForwardMessage>,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let msg = domain::forward(&st, user.id(), *id, body.conversation_id).await?;
    Ok(HttpResponse::Created().json(msg))
}
