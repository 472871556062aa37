//! Authentication: argon2id passwords, opaque session tokens (cookie) and
//! personal API tokens (bearer), both stored only as SHA-256 hashes; the
//! `AuthUser` extractor with its CSRF check (the login limits are in
//! `rate_limit`).

pub mod api_tokens;
pub mod csrf;
pub mod extractor;
pub mod password;
pub mod sessions;
pub mod token;

pub use extractor::AuthUser;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter, QuerySelect,
};

use crate::db::entities::users;

/// The row of `E` (sessions, API tokens) whose `hash_col` is `hash`, with
/// the user its `user_col` points at: one statement per request.
async fn find_with_user<E: EntityTrait>(
    db: &impl ConnectionTrait,
    hash_col: E::Column,
    user_col: E::Column,
    hash: String,
) -> Result<Option<(E::Model, users::Model)>, DbErr> {
    let owner = E::belongs_to(users::Entity)
        .from(user_col)
        .to(users::Column::Id)
        .into();
    let found = E::find()
        .filter(hash_col.eq(hash))
        .join(JoinType::InnerJoin, owner)
        .select_also(users::Entity)
        .one(db)
        .await?;
    Ok(found.and_then(|(row, user)| Some((row, user?))))
}

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "msg_session";
