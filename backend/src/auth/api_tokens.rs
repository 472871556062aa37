//! Personal API tokens for third-party clients (`Authorization: Bearer`).
//! Created and revoked with `messaging token …`; shown once, stored hashed.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::token;
use crate::db::entities::{api_tokens, users};
use crate::domain::DomainError;

/// `last_used_at` is refreshed at most this often.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::minutes(5);

/// Creates a token for the user; returns the row and the token (shown once).
pub async fn create(
    db: &impl ConnectionTrait,
    user_id: i64,
    name: &str,
) -> Result<(api_tokens::Model, String), DomainError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(DomainError::invalid(
            "name",
            "must have 1 to 200 characters",
        ));
    }
    let value = token::generate(token::API_TOKEN_PREFIX)?;
    let row = api_tokens::ActiveModel {
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        token_hash: Set(token::hash(&value)),
        token_prefix: Set(value.chars().take(12).collect()),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        expires_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok((row, value))
}

pub async fn list(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Vec<api_tokens::Model>, DomainError> {
    Ok(api_tokens::Entity::find()
        .filter(api_tokens::Column::UserId.eq(user_id))
        .order_by_asc(api_tokens::Column::Id)
        .all(db)
        .await?)
}

/// Revokes the user's token with this id; revoking twice is a no-op.
pub async fn revoke(db: &impl ConnectionTrait, user_id: i64, id: i64) -> Result<(), DomainError> {
    let row = api_tokens::Entity::find_by_id(id)
        .filter(api_tokens::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(DomainError::NotFound)?;
    if row.revoked_at.is_none() {
        let mut am: api_tokens::ActiveModel = row.into();
        am.revoked_at = Set(Some(Utc::now()));
        am.update(db).await?;
    }
    Ok(())
}

/// Which of these token hashes no longer authenticate (revoked, expired or
/// gone): one statement.
pub async fn ended_among(
    db: &impl ConnectionTrait,
    hashes: &[String],
) -> Result<Vec<String>, DomainError> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let valid: std::collections::HashSet<String> = api_tokens::Entity::find()
        .select_only()
        .column(api_tokens::Column::TokenHash)
        .filter(api_tokens::Column::TokenHash.is_in(hashes.iter().cloned()))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .filter(
            api_tokens::Column::ExpiresAt
                .is_null()
                .or(api_tokens::Column::ExpiresAt.gt(now)),
        )
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(hashes
        .iter()
        .filter(|h| !valid.contains(*h))
        .cloned()
        .collect())
}

/// The active user behind a bearer token, if it is valid and not revoked.
pub async fn user_for(
    db: &impl ConnectionTrait,
    value: &str,
) -> Result<Option<users::Model>, DomainError> {
    let now = Utc::now();
    let Some((row, user)) = super::find_with_user::<api_tokens::Entity>(
        db,
        api_tokens::Column::TokenHash,
        api_tokens::Column::UserId,
        token::hash(value),
    )
    .await?
    else {
        return Ok(None);
    };
    if row.revoked_at.is_some() || row.expires_at.is_some_and(|e| e <= now) || !user.is_active {
        return Ok(None);
    }
    if row.last_used_at.is_none_or(|t| now - t > TOUCH_EVERY) {
        let id = row.id;
        let mut am: api_tokens::ActiveModel = row.into();
        am.last_used_at = Set(Some(now));
        if let Err(e) = am.update(db).await {
            tracing::warn!(token_id = id, error = %e, "could not refresh token use");
        }
    }
    Ok(Some(user))
}
