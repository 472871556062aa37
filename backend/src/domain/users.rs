//! Accounts: creating users, changing passwords, deactivating. Used by the
//! CLI and the API alike. E-mails are stored trimmed and lower-cased so that
//! lookups are exact on both databases.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
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

/// Changes the caller's own settings (`PATCH /api/auth/me`): language and
/// e-mail notifications. Everything is checked before anything is written.
pub async fn update_me(
    db: &impl ConnectionTrait,
    user_id: i64,
    req: shared::dto::auth::UpdateMe,
) -> Result<users::Model, DomainError> {
    if let Some(lang) = &req.language
        && !shared::dto::auth::LANGUAGES.contains(&lang.as_str())
    {
        return Err(DomainError::invalid(
            "language",
            format!("must be one of {}", shared::dto::auth::LANGUAGES.join(", ")),
        ));
    }
    let user = users::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(DomainError::NotFound)?;
    if req.language.is_none() && req.notify_email_messages.is_none() {
        return Ok(user);
    }
    let mut am: users::ActiveModel = user.into();
    if let Some(lang) = req.language {
        am.language = Set(lang);
    }
    if let Some(notify) = req.notify_email_messages {
        am.notify_email_messages = Set(notify);
    }
    am.updated_at = Set(Utc::now());
    Ok(am.update(db).await?)
}

/// The caller changes their own password (`POST /api/auth/password`): the
/// current one must match; the new one follows the rules of
/// [`validate_password`]. Every other session of the user ends (whoever
/// knew the old password is locked out); the session whose token hash is
/// `keep_session` (the caller's own) stays. API tokens are not touched.
pub async fn change_password(
    db: &DatabaseConnection,
    user: &users::Model,
    keep_session: Option<String>,
    current_password: String,
    new_password: String,
) -> Result<(), DomainError> {
    if current_password.is_empty() {
        return Err(DomainError::invalid("current_password", "is required"));
    }
    validate_password(&new_password).map_err(|e| match e {
        DomainError::Invalid { message, .. } => DomainError::invalid("new_password", message),
        other => other,
    })?;
    // Over-long input is refused without hashing it, like at login.
    let ok = current_password.chars().count() <= MAX_PASSWORD_LEN
        && password::verify_blocking(user.password_hash.clone(), current_password).await;
    if !ok {
        return Err(DomainError::WrongPassword);
    }
    let hash = password::hash_blocking(new_password).await?;
    let txn = db.begin().await?;
    let mut am: users::ActiveModel = user.clone().into();
    am.password_hash = Set(Some(hash));
    am.updated_at = Set(Utc::now());
    am.update(&txn).await?;
    let mut others = sessions::Entity::delete_many().filter(sessions::Column::UserId.eq(user.id));
    if let Some(keep) = keep_session {
        others = others.filter(sessions::Column::TokenHash.ne(keep));
    }
    others.exec(&txn).await?;
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

/// Which of `ids` are deactivated (or gone): one statement.
pub async fn deactivated_among(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<i64>, DomainError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let active: std::collections::HashSet<i64> = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::Id.is_in(ids.iter().copied()))
        .filter(users::Column::IsActive.eq(true))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(ids
        .iter()
        .copied()
        .filter(|id| !active.contains(id))
        .collect())
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

/// Longest directory query, in characters.
pub const MAX_DIRECTORY_QUERY_CHARS: usize = 100;
pub const DEFAULT_DIRECTORY_PAGE: u64 = 20;
pub const MAX_DIRECTORY_PAGE: u64 = 100;

/// The directory (`GET /api/users?q=`): active users whose name, a word of
/// their name (after a space or a hyphen: surnames, "Nowak-Kowalska") or
/// e-mail starts with `q`, case-insensitively in any alphabet; ordered by
/// name then id (in the database's collation), in pages of `limit` after
/// `cursor`. An empty `q` lists everyone active.
///
/// Case folding is done per character by [`directory::fold`], the same in
/// SQL and in Rust: SQLite's `lower()` and `LIKE` fold ASCII only (and
/// PostgreSQL's `lower()` depends on the database locale), so the SQL
/// lower-cases the ASCII letters with `LOWER` and maps the upper-case form
/// of each non-ASCII letter of `q` (e.g. Ł for "łuc") with nested `REPLACE`.
/// That makes the SQL filter match at least every user the Rust check
/// accepts, and it is what narrows the scan; the Rust check then drops
/// what a locale-aware `lower()` may add. No schema change is needed, and
/// it scans the users table without an index, which suits a directory of
/// thousands. E-mails are stored lower-cased (`normalize_email`), so they
/// are compared with the lower-cased `q` directly.
pub async fn directory(
    db: &impl ConnectionTrait,
    q: Option<&str>,
    cursor: Option<&str>,
    limit: Option<u64>,
) -> Result<shared::dto::users::UserPage, DomainError> {
    use sea_orm::{QuerySelect, sea_query::Condition};

    let raw = q.unwrap_or_default();
    if raw.chars().count() > MAX_DIRECTORY_QUERY_CHARS {
        return Err(DomainError::invalid(
            "q",
            format!("must have at most {MAX_DIRECTORY_QUERY_CHARS} characters"),
        ));
    }
    let limit = limit.unwrap_or(DEFAULT_DIRECTORY_PAGE);
    if !(1..=MAX_DIRECTORY_PAGE).contains(&limit) {
        return Err(DomainError::invalid(
            "limit",
            format!("must be 1 to {MAX_DIRECTORY_PAGE}"),
        ));
    }
    let mut after = cursor.map(directory::decode_cursor).transpose()?;
    let filter = directory::Filter::new(raw.trim());

    let mut found: Vec<shared::dto::users::UserDirectoryEntry> = Vec::new();
    // Rows the Rust check drops are rare (a locale-aware lower() folding
    // more than ours), so this loop almost always runs once.
    loop {
        let mut find = users::Entity::find()
            .select_only()
            .columns([users::Column::Id, users::Column::Name, users::Column::Email])
            .filter(users::Column::IsActive.eq(true))
            .order_by_asc(users::Column::Name)
            .order_by_asc(users::Column::Id)
            .limit(limit + 1);
        if let Some(cond) = filter.sql() {
            find = find.filter(cond);
        }
        if let Some((name, id)) = &after {
            find = find.filter(
                Condition::any()
                    .add(users::Column::Name.gt(name.as_str()))
                    .add(
                        Condition::all()
                            .add(users::Column::Name.eq(name.as_str()))
                            .add(users::Column::Id.gt(*id)),
                    ),
            );
        }
        let rows: Vec<(i64, String, String)> = find.into_tuple().all(db).await?;
        let exhausted = (rows.len() as u64) <= limit;
        after = rows.last().map(|(id, name, _)| (name.clone(), *id));
        for (id, name, email) in rows {
            if filter.accepts(&name, &email) {
                found.push(shared::dto::users::UserDirectoryEntry { id, name, email });
            }
        }
        if exhausted || found.len() as u64 > limit {
            break;
        }
    }
    let has_more = found.len() as u64 > limit;
    found.truncate(limit as usize);
    let next_cursor = if has_more {
        found
            .last()
            .map(|u| directory::encode_cursor(&u.name, u.id))
    } else {
        None
    };
    Ok(shared::dto::users::UserPage {
        items: found,
        next_cursor,
    })
}

/// The pieces of [`directory`]: case folding, the filter in SQL and in
/// Rust, the cursor.
pub mod directory {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sea_orm::sea_query::{Condition, Expr, Func, LikeExpr};
    use sea_orm::{ColumnTrait, ExprTrait};

    use super::DomainError;
    use crate::db::entities::users;

    /// Lower-cases one character when that is a one-to-one mapping and
    /// the character is the lower-case letter itself or its canonical
    /// upper-case form; leaves it alone otherwise (e.g. İ, whose lower case
    /// is two characters, or the Kelvin sign). One character in, one out,
    /// so positions in the folded text match positions in the SQL.
    pub fn fold_char(c: char) -> char {
        let mut lower = c.to_lowercase();
        match (lower.next(), lower.next()) {
            (Some(l), None) if l == c || single(l.to_uppercase()) == Some(c) => l,
            _ => c,
        }
    }

    /// `fold_char` over a string.
    pub fn fold(s: &str) -> String {
        s.chars().map(fold_char).collect()
    }

    fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
        match (it.next(), it.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    }

    /// Characters that match themselves in a LIKE pattern with `\` escape.
    fn escape_like(s: &str) -> String {
        s.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    }

    /// A directory query, folded once.
    #[derive(Debug)]
    pub struct Filter {
        /// `fold(q)`, for names.
        name: String,
        /// `q` as e-mails are stored (`normalize_email`).
        email: String,
    }

    impl Filter {
        /// `q` already trimmed; empty matches everyone.
        pub fn new(q: &str) -> Self {
            Self {
                name: fold(q),
                email: super::normalize_email(q),
            }
        }

        /// The upper-case letters whose lower-case form appears in the
        /// query and that SQL `LOWER` may not fold (anything not ASCII).
        fn replacements(&self) -> Vec<(char, char)> {
            let mut out: Vec<(char, char)> = Vec::new();
            for l in self.name.chars().filter(|c| !c.is_ascii()) {
                if let Some(u) = single(l.to_uppercase())
                    && u != l
                    && fold_char(u) == l
                    && !out.contains(&(u, l))
                {
                    out.push((u, l));
                }
            }
            out
        }

        /// The name folded in SQL the way `fold` folds it for this query.
        fn folded_name(&self) -> Expr {
            let mut e = Expr::col(users::Column::Name);
            for (u, l) in self.replacements() {
                e = Func::cust("REPLACE")
                    .arg(e)
                    .arg(u.to_string())
                    .arg(l.to_string())
                    .into();
            }
            Func::lower(e).into()
        }

        /// The SQL condition: every user `accepts` takes, maybe a few more.
        pub fn sql(&self) -> Option<Condition> {
            if self.name.is_empty() {
                return None;
            }
            let name = escape_like(&self.name);
            let like = |p: String| LikeExpr::new(p).escape('\\');
            let folded = self.folded_name();
            Some(
                Condition::any()
                    .add(users::Column::Email.like(like(format!("{}%", escape_like(&self.email)))))
                    .add(folded.clone().like(like(format!("{name}%"))))
                    .add(folded.clone().like(like(format!("% {name}%"))))
                    .add(folded.like(like(format!("%-{name}%")))),
            )
        }

        /// The exact check.
        pub fn accepts(&self, name: &str, email: &str) -> bool {
            if self.name.is_empty() {
                return true;
            }
            let folded = fold(name);
            email.starts_with(&self.email)
                || folded.starts_with(&self.name)
                || folded.contains(&format!(" {}", self.name))
                || folded.contains(&format!("-{}", self.name))
        }
    }

    /// Opaque to clients: the (name, id) the next page starts after.
    pub fn encode_cursor(name: &str, id: i64) -> String {
        URL_SAFE_NO_PAD.encode(format!("{id}:{name}"))
    }

    /// The (name, id) of `encode_cursor`, or 422 naming `cursor`.
    pub fn decode_cursor(s: &str) -> Result<(String, i64), DomainError> {
        let bad = || DomainError::invalid("cursor", "is not a cursor returned by this endpoint");
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (id, name) = text.split_once(':').ok_or_else(bad)?;
        let id = id.parse::<i64>().map_err(|_| bad())?;
        Ok((name.to_owned(), id))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use sea_orm::{DbBackend, EntityTrait, QueryFilter, QueryTrait};

        #[test]
        fn folds_polish_and_leaves_odd_letters_alone() {
            assert_eq!(fold("ŁUCJA Żak"), "łucja żak");
            assert_eq!(fold("ĄĆĘŁŃÓŚŹŻ"), "ąćęłńóśźż");
            assert_eq!(fold("Ünal"), "ünal");
            // Two characters in lower case: kept, so positions stay aligned.
            assert_eq!(fold("İ"), "İ");
            // Not the canonical upper case of 'k'.
            assert_eq!(fold("\u{212A}"), "\u{212A}");
        }

        #[test]
        fn accepts_name_word_and_email_prefixes() {
            let f = Filter::new("łuc");
            assert!(f.accepts("Łucja Żak", "lucja@firma.pl"));
            assert!(Filter::new("ŁUC").accepts("Łucja Żak", "x@y.pl"));
            assert!(Filter::new("żak").accepts("Łucja Żak", "x@y.pl"));
            assert!(Filter::new("kowal").accepts("Anna Nowak-Kowalska", "x@y.pl"));
            assert!(Filter::new("Lucja@").accepts("X", "lucja@firma.pl"));
            assert!(!f.accepts("Anna Nowak", "anna@firma.pl"));
            assert!(!Filter::new("ucja").accepts("Łucja Żak", "x@y.pl"));
            assert!(Filter::new("").accepts("Anyone", "a@b.pl"));
        }

        #[test]
        fn sql_folds_the_query_letters_and_escapes_like() {
            let cond = Filter::new("Ł_%").sql().unwrap();
            let sqlite = users::Entity::find()
                .filter(cond.clone())
                .build(DbBackend::Sqlite)
                .to_string();
            for part in [
                r#""email" LIKE 'ł\_\%%' ESCAPE '\'"#,
                r#"LOWER(REPLACE("name", 'Ł', 'ł')) LIKE 'ł\_\%%' ESCAPE '\'"#,
                r#"LOWER(REPLACE("name", 'Ł', 'ł')) LIKE '% ł\_\%%' ESCAPE '\'"#,
                r#"LOWER(REPLACE("name", 'Ł', 'ł')) LIKE '%-ł\_\%%' ESCAPE '\'"#,
            ] {
                assert!(sqlite.contains(part), "{part} in {sqlite}");
            }
            // The same statement on PostgreSQL, with bound values.
            let pg = users::Entity::find()
                .filter(cond)
                .build(DbBackend::Postgres);
            assert!(pg.sql.contains(r#"LOWER(REPLACE("name", $"#), "{}", pg.sql);
            assert_eq!(pg.sql.matches("ESCAPE").count(), 4, "{}", pg.sql);
            assert!(Filter::new("").sql().is_none());
            // ASCII needs no REPLACE: LOWER folds it on both databases.
            let ascii = Filter::new("Anna").sql().unwrap();
            let sql = users::Entity::find()
                .filter(ascii)
                .build(DbBackend::Sqlite)
                .to_string();
            assert!(sql.contains(r#"LOWER("name") LIKE 'anna%'"#), "{sql}");
        }

        #[test]
        fn cursor_round_trip() {
            let c = encode_cursor("Łucja: Żak", 42);
            assert_eq!(decode_cursor(&c).unwrap(), ("Łucja: Żak".to_owned(), 42));
            for bad in ["", "!!", "bm9wZQ", &URL_SAFE_NO_PAD.encode("x:Anna")] {
                assert!(decode_cursor(bad).is_err(), "{bad}");
            }
        }
    }
}
