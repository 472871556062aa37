//! Queues e-mail notification work for a new message through the durable
//! outbox (`email_outbox`), inside the sending transaction, so a restart
//! loses nothing. One row per (recipient, conversation) and window: a second
//! message while a row is pending leaves the row as it is (batching; the
//! send time stays). The worker that sends (and skips
//! members who read the messages in the meantime) is `jobs::notify`.
//! Also the one rule the unsubscribe link applies.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, ExprTrait, QueryFilter};

use super::DomainError;
use crate::db::entities::{conversation_members as members, email_outbox, users};

/// Kind of the outbox rows written here.
pub const NEW_MESSAGES: &str = "new_messages";

/// For every other member who is not muted, wants e-mail and is active:
/// one pending outbox row for this conversation (set-based: one statement).
/// `window` (NOTIFY_BATCH_WINDOW_SECS) is how long after the first unread
/// message the notification waits, collecting further messages.
pub async fn queue_new_message(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    message_id: i64,
    sender_id: i64,
    now: DateTime<Utc>,
    window: Duration,
) -> Result<(), DomainError> {
    // An empty JSON object, typed for each database (PostgreSQL will not
    // take a text literal into a json column from a SELECT).
    let empty_json = match db.get_database_backend() {
        DatabaseBackend::Postgres => Expr::cust("'{}'::json"),
        _ => Expr::cust("'{}'"),
    };
    let mut select = Query::select();
    select
        .column((members::Entity, members::Column::UserId))
        .expr(Expr::val(conversation_id))
        .expr(Expr::val(NEW_MESSAGES))
        .expr(empty_json)
        .expr(Expr::val(now + window))
        .expr(Expr::val(0i32))
        .expr(Expr::val(now))
        .expr(Expr::val(message_id))
        .from(members::Entity)
        .inner_join(
            users::Entity,
            Expr::col((users::Entity, users::Column::Id))
                .equals((members::Entity, members::Column::UserId)),
        )
        .and_where(
            Expr::col((members::Entity, members::Column::ConversationId)).eq(conversation_id),
        )
        .and_where(Expr::col((members::Entity, members::Column::UserId)).ne(sender_id))
        .and_where(Expr::col((members::Entity, members::Column::IsMuted)).eq(false))
        .and_where(Expr::col((users::Entity, users::Column::NotifyEmailMessages)).eq(true))
        .and_where(Expr::col((users::Entity, users::Column::IsActive)).eq(true));
    let mut insert = Query::insert();
    insert
        .into_table(email_outbox::Entity)
        .columns([
            email_outbox::Column::UserId,
            email_outbox::Column::ConversationId,
            email_outbox::Column::Kind,
            email_outbox::Column::Payload,
            email_outbox::Column::NotBefore,
            email_outbox::Column::Attempts,
            email_outbox::Column::CreatedAt,
            email_outbox::Column::LastMessageId,
        ])
        .select_from(select)
        .map_err(|e| DomainError::Internal(format!("outbox insert: {e}")))?
        // A pending row keeps its send time (that is the batching) and is
        // left alone: the worker reads what is unread when it claims the
        // row, and learns of messages that arrive while it mails from the
        // conversation's last message (see `jobs::notify::worker`). DO
        // NOTHING locks no existing row, so a message to a group of 50
        // neither rewrites nor locks its 49 outbox rows.
        .on_conflict(
            OnConflict::columns([
                email_outbox::Column::UserId,
                email_outbox::Column::ConversationId,
                email_outbox::Column::Kind,
            ])
            .do_nothing()
            .to_owned(),
        );
    db.execute(&insert).await?;
    Ok(())
}

/// Turns the user's e-mail notifications off (the one-click unsubscribe
/// link); pending notifications are dropped by the worker when it sees it.
/// `NotFound` when the user no longer exists.
pub async fn unsubscribe(db: &impl ConnectionTrait, user_id: i64) -> Result<(), DomainError> {
    let res = users::Entity::update_many()
        .col_expr(users::Column::NotifyEmailMessages, Expr::val(false))
        .col_expr(users::Column::UpdatedAt, Expr::val(Utc::now()))
        .filter(users::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(DomainError::NotFound);
    }
    Ok(())
}

/// The language and notification setting of a user (the unsubscribe page);
/// `NotFound` when the user no longer exists.
pub async fn email_settings(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<(String, bool), DomainError> {
    let user = users::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok((user.language, user.notify_email_messages))
}
