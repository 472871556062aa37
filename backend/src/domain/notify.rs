//! Queues e-mail notification work for a new message through the durable
//! outbox (`email_outbox`), inside the sending transaction, so a restart
//! loses nothing. One row per (recipient, conversation) and window: a second
//! message while a row is pending adds nothing (batching). The worker that
//! sends (and skips members who read the messages in the meantime) belongs
//! to the notifications work.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseBackend, ExprTrait};

use super::DomainError;
use crate::db::entities::{conversation_members as members, email_outbox, users};

/// Kind of the outbox rows written here.
pub const NEW_MESSAGES: &str = "new_messages";

/// How long after the first unread message a notification waits (and
/// collects further messages) before it may be sent.
pub const BATCH_WINDOW: Duration = Duration::minutes(10);

/// For every other member who is not muted, wants e-mail and is active:
/// one pending outbox row for this conversation (set-based: one statement).
pub async fn queue_new_message(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    sender_id: i64,
    now: DateTime<Utc>,
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
        .expr(Expr::val(now + BATCH_WINDOW))
        .expr(Expr::val(0i32))
        .expr(Expr::val(now))
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
        ])
        .select_from(select)
        .map_err(|e| DomainError::Internal(format!("outbox insert: {e}")))?
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
