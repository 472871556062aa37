//! `GET /api/users?q=&cursor=&limit=`: the user directory for picking
//! members. Authenticated callers only; deactivated users never appear.
//! The matching rules live in `domain::users::directory`.

use actix_web::{get, web};
use serde::Deserialize;
use shared::dto::users::UserPage;

use crate::auth::AuthUser;
use crate::domain::users as domain;
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(directory);
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryQuery {
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u64>,
}

#[get("/users")]
async fn directory(
    _user: AuthUser,
    q: web::Query<DirectoryQuery>,
    st: web::Data<AppState>,
) -> Result<web::Json<UserPage>, ApiError> {
    let q = q.into_inner();
    Ok(web::Json(
        domain::directory(&st.db, q.q.as_deref(), q.cursor.as_deref(), q.limit).await?,
    ))
}
