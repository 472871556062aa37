//! Accounts: creating users, changing passwords, deactivating. Used by the
//! CLI and the API alike. E-mails are stored trimmed and lower-cased so that
//! lookups are exact on both databases.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use super::DomainError;
use crate::auth::password;
use crate::db::entities::{sessions, users};

pub const MIN_PASSWORD_LEN: usize = 8;
/// Argon2 cost grows with the input; an upper bound keeps login cheap to refuse.
pub const MAX_PASSWORD_LEN: usize = 256;
pub const MAX_NAME_LEN: usize = 200;

/// A deliberately simple check: one @, something on both sides, a dot in the
/// domain, no spaces. Real validation is the confirmation e-mail.
pub fn is_valid_email(email: &str) -> bool {
    let email = email.trim();
    if email.len() > 320 || email.chars().any(char::is_whitespace) {
        return false;
    }
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        None => false,
    }
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn validate_password(password: &str) -> Result<(), DomainError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(DomainError::invalid(
            "password",
            format!("must have at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if n > MAX_PASSWORD_LEN {
        return Err(DomainError::invalid(
            "password",
            format!("must have at most {MAX_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password: String,
    pub is_admin: bool,
}

/// Creates an active user with an argon2id password hash.
pub async fn create(db: &impl ConnectionTrait, new: NewUser) -> Result<users::Model, DomainError> {
    let email = normalize_email(&new.email);
    if !is_valid_email(&email) {
        return Err(DomainError::invalid(
            "email",
            "is not a valid e-mail address",
        ));
    }
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(DomainError::invalid(
            "name",
            format!("must have 1 to {MAX_NAME_LEN} characters"),
        ));
    }
    validate_password(&new.password)?;
    if find_by_email(db, &email).await?.is_some() {
        return Err(DomainError::Conflict(format!(
            "a user with e-mail {email} exists"
        )));
    }
    let hash = password::hash_blocking(new.password).await?;
    let now = Utc::now();
    let user = users::ActiveModel {
        email: Set(email),
        name: Set(name),
        password_hash: Set(Some(hash)),
        is_admin: Set(new.is_admin),
        is_active: Set(true),
        notify_email_messages: Set(true),
        language: Set("pl".into()),
        last_seen_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(user)
}

pub async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<users::Model>, DomainError> {
    Ok(users::Entity::find()
        .filter(users::Column::Email.eq(normalize_email(email)))
        .one(db)
        .await?)
}

pub async fn get_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<users::Model, DomainError> {
    find_by_email(db, email).await?.ok_or(DomainError::NotFound)
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64, DomainError> {
    Ok(users::Entity::find().count(db).await?)
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<users::Model>, DomainError> {
    Ok(users::Entity::find()
        .order_by_asc(users::Column::Id)
        .all(db)
        .await?)
}

/// Sets a new password and ends every session of the user (a password
/// change must lock out whoever knew the old one).
pub async fn set_password(
    db: &DatabaseConnection,
    user_id: i64,
    new_password: String,
) -> Result<(), DomainError> {
    validate_password(&new_password)?;
    let hash = password::hash_blocking(new_password).await?;
    let txn = db.begin().await?;
    let user = users::Entity::find_by_id(user_id)
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound)?;
    let mut am: users::ActiveModel = user.into();
    am.password_hash = Set(Some(hash));
    am.updated_at = Set(Utc::now());
    am.update(&txn).await?;
    sessions::Entity::delete_many()
        .filter(sessions::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Deactivates a user: they can no longer log in, and their sessions end.
/// Their API tokens stop working because authentication checks `is_active`.
pub async fn deactivate(db: &DatabaseConnection, user_id: i64) -> Result<(), DomainError> {
    let txn = db.begin().await?;
    let user = users::Entity::find_by_id(user_id)
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound)?;
    let mut am: users::ActiveModel = user.into();
    am.is_active = Set(false);
    am.updated_at = Set(Utc::now());
    am.update(&txn).await?;
    sessions::Entity::delete_many()
        .filter(sessions::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_validation() {
        for ok in ["a@b.pl", " Anna.Nowak@firma.com.pl ", "x+y@sub.example.org"] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "a@", "@b.pl", "a@b", "a b@c.pl", "a@b@c.pl", "a@.pl", "a@pl.",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn password_bounds() {
        assert!(validate_password("1234567").is_err());
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }
}
