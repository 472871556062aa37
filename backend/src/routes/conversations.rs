//! `/api/conversations…`: list, create, details, group settings, members,
//! per-member settings, read position.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use shared::dto::conversations::{
    AddMembers, ConversationDetail, ConversationPage, CreateConversation, MarkRead, ReadState,
    UpdateConversation, UpdateSettings,
};

use crate::auth::AuthUser;
use crate::domain::conversations as domain;
use crate::error::ApiError;
use crate::extract::{Json, OptionalJson};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(detail)
        .service(update)
        .service(remove)
        .service(add_members)
        .service(remove_member)
        .service(settings)
        .service(read);
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Archived conversations instead of the main list.
    #[serde(default)]
    pub archived: bool,
    pub cursor: Option<String>,
    pub limit: Option<u64>,
}

#[get("/conversations")]
async fn list(
    user: AuthUser,
    q: web::Query<ListQuery>,
    st: web::Data<AppState>,
) -> Result<web::Json<ConversationPage>, ApiError> {
    let q = q.into_inner();
    let page = domain::list(&st.db, user.id(), q.archived, q.cursor.as_deref(), q.limit).await?;
    Ok(web::Json(page))
}

#[post("/conversations")]
async fn create(
    user: AuthUser,
    body: Json<CreateConversation>,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (conv, created) = domain::create(&st, user.id(), body.into_inner()).await?;
    Ok(if created {
        HttpResponse::Created().json(conv)
    } else {
        HttpResponse::Ok().json(conv)
    })
}

#[get("/conversations/{id}")]
async fn detail(
    user: AuthUser,
    id: web::Path<i64>,
    st: web::Data<AppState>,
) -> Result<web::Json<ConversationDetail>, ApiError> {
    Ok(web::Json(domain::detail(&st.db, user.id(), *id).await?))
}

#[patch("/conversations/{id}")]
async fn update(
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<UpdateConversation>,
    st: web::Data<AppState>,
) -> Result<web::Json<ConversationDetail>, ApiError> {
    Ok(web::Json(
        domain::update(&st, user.id(), *id, body.into_inner()).await?,
    ))
}

#[delete("/conversations/{id}")]
async fn remove(
    user: AuthUser,
    id: web::Path<i64>,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    domain::delete(&st, user.id(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[post("/conversations/{id}/members")]
async fn add_members(
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<AddMembers>,
    st: web::Data<AppState>,
) -> Result<web::Json<ConversationDetail>, ApiError> {
    Ok(web::Json(
        domain::add_members(&st, user.id(), *id, body.into_inner()).await?,
    ))
}

#[delete("/conversations/{id}/members/{uid}")]
async fn remove_member(
    user: AuthUser,
    path: web::Path<(i64, i64)>,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (id, uid) = path.into_inner();
    domain::remove_member(&st, user.id(), id, uid).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[patch("/conversations/{id}/settings")]
async fn settings(
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<UpdateSettings>,
    st: web::Data<AppState>,
) -> Result<web::Json<ConversationDetail>, ApiError> {
    Ok(web::Json(
        domain::update_settings(&st, user.id(), *id, body.into_inner()).await?,
    ))
}

#[post("/conversations/{id}/read")]
async fn read(
    user: AuthUser,
    id: web::Path<i64>,
    body: OptionalJson<MarkRead>,
    st: web::Data<AppState>,
) -> Result<web::Json<ReadState>, ApiError> {
    let req = body.0;
    Ok(web::Json(
        domain::mark_read(&st, user.id(), *id, req).await?,
    ))
}
