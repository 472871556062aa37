//! Cookie sessions: created at login, looked up per request, ended at
//! logout, password change or deactivation.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect,
};

use super::token;
use crate::db::entities::{sessions, users};
use crate::domain::DomainError;

/// `last_used_at` is refreshed at most this often, so reads stay reads.
const TOUCH_EVERY: Duration = Duration::minutes(5);

/// Creates a session and returns the cookie value (shown once, stored hashed).
pub async fn create(
    db: &impl ConnectionTrait,
    user_id: i64,
    ttl: Duration,
    user_agent: Option<String>,
    ip: Option<String>,
) -> Result<String, DomainError> {
    let value = token::generate("")?;
    let now = Utc::now();
    sessions::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(token::hash(&value)),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(now + ttl),
        user_agent: Set(user_agent.map(|s| s.chars().take(500).collect())),
        ip: Set(ip),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(value)
}

/// The active user behind a session cookie value, if the session is valid.
pub async fn user_for(
    db: &impl ConnectionTrait,
    value: &str,
) -> Result<Option<users::Model>, DomainError> {
    let now = Utc::now();
    let Some((session, user)) = super::find_with_user::<sessions::Entity>(
        db,
        sessions::Column::TokenHash,
        sessions::Column::UserId,
        token::hash(value),
    )
    .await?
    else {
        return Ok(None);
    };
    if session.expires_at <= now {
        sessions::Entity::delete_by_id(session.id).exec(db).await?;
        return Ok(None);
    }
    if !user.is_active {
        return Ok(None);
    }
    if now - session.last_used_at > TOUCH_EVERY {
        let id = session.id;
        let mut am: sessions::ActiveModel = session.into();
        am.last_used_at = Set(now);
        if let Err(e) = am.update(db).await {
            tracing::warn!(session_id = id, error = %e, "could not refresh session");
        }
    }
    Ok(Some(user))
}

/// Which of these session hashes no longer authenticate (logged out,
/// ended by a password change or deactivation, expired): one statement.
pub async fn ended_among(
    db: &impl ConnectionTrait,
    hashes: &[String],
) -> Result<Vec<String>, DomainError> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let valid: std::collections::HashSet<String> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::TokenHash)
        .filter(sessions::Column::TokenHash.is_in(hashes.iter().cloned()))
        .filter(sessions::Column::ExpiresAt.gt(Utc::now()))
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

/// Ends the session with this cookie value (no error if there is none).
pub async fn delete(db: &impl ConnectionTrait, value: &str) -> Result<(), DomainError> {
    sessions::Entity::delete_many()
        .filter(sessions::Column::TokenHash.eq(token::hash(value)))
        .exec(db)
        .await?;
    Ok(())
}
