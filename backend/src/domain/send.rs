//! Storing a sent (or forwarded) message, all or nothing: the message row,
//! its attachments, the members' archive and read state, the
//! conversation's last message and the members' e-mail outbox rows.
//!
//! Sending is the write the service is judged by, so it is the one place
//! besides search where the two databases run different SQL. PostgreSQL
//! does everything in one statement of data-modifying CTEs: one round trip
//! and no BEGIN/COMMIT, which took a send from 7 statements to 2 (with the
//! caller's session) and more than doubled the sends per second (README,
//! "Benchmarks"). SQLite, which has no such CTEs, reads the members and
//! then runs the same writes as sea-orm statements in one transaction. The
//! integration tests send on both databases;
//! `the_postgres_statement_keeps_its_rules` reads the SQL itself.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend,
    DatabaseConnection, EntityTrait, ExprTrait, FromQueryResult, QueryFilter, Statement,
    TransactionTrait, Value,
};

use super::conversations::member_ids;
use super::{DomainError, notify, render};
use crate::db::entities::{
    conv_messages, conversation_members as members, conversations as convs, message_attachments,
};

/// A message to store; `content` is already validated.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: i64,
    pub sender_id: i64,
    pub content: String,
    pub reply_to_id: Option<i64>,
    pub forwarded_from_id: Option<i64>,
    pub client_id: Option<String>,
    /// Sorted and without duplicates.
    pub attachment_ids: Vec<i64>,
}

/// The stored row and the conversation's members when it was stored (the
/// audience of its `new_message` event).
#[derive(Debug, Clone)]
pub struct Stored {
    pub row: conv_messages::Model,
    pub audience: Vec<i64>,
}

/// Stores the message. `NotFound` when the sender is not a member of the
/// conversation (whether or not it exists); `Invalid` on `attachment_ids`
/// unless they are all the sender's own uploads, not attached yet. A
/// `client_id` the sender used before fails with the database's unique
/// violation, which the caller turns into the earlier message.
pub async fn store(
    db: &DatabaseConnection,
    new: NewMessage,
    batch_window: Duration,
) -> Result<Stored, DomainError> {
    let now = Utc::now();
    match db.get_database_backend() {
        DatabaseBackend::Postgres if new.attachment_ids.is_empty() => {
            store_in_one_statement(db, new, now, batch_window).await
        }
        DatabaseBackend::Postgres => {
            // Attachments are claimed in the same statement; when some of
            // them are not claimable the whole message is rolled back.
            let txn = db.begin().await?;
            let stored = store_in_one_statement(&txn, new, now, batch_window).await?;
            txn.commit().await?;
            Ok(stored)
        }
        _ => store_in_a_transaction(db, new, now, batch_window).await,
    }
}

fn attachments_refused() -> DomainError {
    DomainError::invalid(
        "attachment_ids",
        "must be your own uploads that are not attached yet",
    )
}

/// The PostgreSQL statement. Every CTE sees the snapshot the statement
/// started with, so `member` and `audience` read the members as they were.
/// The rules are those of `store_in_a_transaction`, in the same order:
/// - nothing is written unless the sender is a member (`member`);
/// - a new message brings an archived conversation back to the main list,
///   and what I sent, I have read (`moved`);
/// - the conversation row, which every sender of the conversation updates,
///   is locked last; the outbox insert reads the updated row (`FROM
///   conversation`), so it runs after that lock is taken: the e-mail
///   worker reads the conversation's last message under a share lock
///   before it deletes a mailed row (`jobs::notify::worker`), so it either
///   waits for this statement's commit or this one waits for it and then
///   finds the row gone;
/// - outbox rows as in `notify::queue_new_message`: the other members who
///   are not muted, active and want e-mail; a pending row is left alone
///   (DO NOTHING locks no existing row).
///
/// `$10` is the attachment ids as text ("4,7"), so that every send is the
/// same prepared statement whatever the number of attachments.
const STORE_SQL: &str = "\
WITH member AS (
    SELECT 1 FROM conversation_members WHERE conversation_id = $1 AND user_id = $2
), m AS (
    INSERT INTO conv_messages (conversation_id, sender_id, content, content_html,
        content_search, reply_to_id, forwarded_from_id, client_id, is_deleted, created_at)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, false, $9 FROM member
    RETURNING *
), attached AS (
    UPDATE message_attachments a SET message_id = m.id
    FROM m
    WHERE a.id = ANY (string_to_array($10, ',')::bigint[])
      AND a.uploader_id = $2 AND a.message_id IS NULL
    RETURNING a.id
), moved AS (
    UPDATE conversation_members cm SET is_archived = false,
        last_read_message_id = CASE WHEN cm.user_id = $2 THEN m.id
                                    ELSE cm.last_read_message_id END,
        last_read_at = CASE WHEN cm.user_id = $2 THEN $9 ELSE cm.last_read_at END
    FROM m
    WHERE cm.conversation_id = $1 AND (cm.is_archived OR cm.user_id = $2)
), conversation AS (
    UPDATE conversations c SET last_message_id = m.id, updated_at = $9
    FROM m
    WHERE c.id = $1
    RETURNING c.id
), outbox AS (
    INSERT INTO email_outbox (user_id, conversation_id, kind, payload, not_before,
        attempts, created_at, last_message_id)
    SELECT cm.user_id, conversation.id, $11, '{}'::json, $12, 0, $9, m.id
    FROM conversation, m, conversation_members cm JOIN users u ON u.id = cm.user_id
    WHERE cm.conversation_id = $1 AND cm.user_id <> $2 AND NOT cm.is_muted
      AND u.notify_email_messages AND u.is_active
    ON CONFLICT (user_id, conversation_id, kind) DO NOTHING
)
SELECT m.*,
    (SELECT string_agg(user_id::text, ',') FROM conversation_members
     WHERE conversation_id = $1) AS audience,
    (SELECT count(*) FROM attached) AS attached
FROM m";

async fn store_in_one_statement(
    db: &impl ConnectionTrait,
    new: NewMessage,
    now: DateTime<Utc>,
    batch_window: Duration,
) -> Result<Stored, DomainError> {
    let attachments = new
        .attachment_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let html = render::to_html(&new.content);
    let search = render::search_text(&new.content);
    let values: [Value; 12] = [
        new.conversation_id.into(),
        new.sender_id.into(),
        new.content.into(),
        html.into(),
        search.into(),
        new.reply_to_id.into(),
        new.forwarded_from_id.into(),
        new.client_id.into(),
        now.into(),
        attachments.into(),
        notify::NEW_MESSAGES.into(),
        (now + batch_window).into(),
    ];
    let stmt = Statement::from_sql_and_values(DatabaseBackend::Postgres, STORE_SQL, values);
    let Some(found) = db.query_one_raw(stmt).await? else {
        return Err(DomainError::NotFound);
    };
    let attached: i64 = found.try_get("", "attached")?;
    if attached != new.attachment_ids.len() as i64 {
        // Only ever inside the transaction of `store`, which drops it.
        return Err(attachments_refused());
    }
    let audience: Option<String> = found.try_get("", "audience")?;
    let audience = audience
        .unwrap_or_default()
        .split(',')
        .filter_map(|id| id.parse().ok())
        .collect();
    let row = conv_messages::Model::from_query_result(&found, "")?;
    Ok(Stored { row, audience })
}

async fn store_in_a_transaction(
    db: &DatabaseConnection,
    new: NewMessage,
    now: DateTime<Utc>,
    batch_window: Duration,
) -> Result<Stored, DomainError> {
    // Read before the transaction, which then starts with its first write:
    // a SQLite transaction that reads first cannot take the write lock
    // once another connection has committed since (SQLITE_BUSY at once,
    // not after the busy timeout).
    let audience = member_ids(db, new.conversation_id).await?;
    if !audience.contains(&new.sender_id) {
        return Err(DomainError::NotFound);
    }
    let txn = db.begin().await?;
    let row = conv_messages::ActiveModel {
        conversation_id: Set(new.conversation_id),
        sender_id: Set(Some(new.sender_id)),
        content_html: Set(render::to_html(&new.content)),
        content_search: Set(render::search_text(&new.content)),
        content: Set(new.content),
        reply_to_id: Set(new.reply_to_id),
        forwarded_from_id: Set(new.forwarded_from_id),
        client_id: Set(new.client_id),
        edited_at: Set(None),
        is_deleted: Set(false),
        deleted_at: Set(None),
        link_preview: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    if !new.attachment_ids.is_empty() {
        let res = message_attachments::Entity::update_many()
            .col_expr(message_attachments::Column::MessageId, Expr::val(row.id))
            .filter(message_attachments::Column::Id.is_in(new.attachment_ids.iter().copied()))
            .filter(message_attachments::Column::UploaderId.eq(new.sender_id))
            .filter(message_attachments::Column::MessageId.is_null())
            .exec(&txn)
            .await?;
        if res.rows_affected != new.attachment_ids.len() as u64 {
            txn.rollback().await?;
            return Err(attachments_refused());
        }
    }
    let me = Expr::col(members::Column::UserId).eq(new.sender_id);
    members::Entity::update_many()
        .col_expr(members::Column::IsArchived, Expr::val(false))
        .col_expr(
            members::Column::LastReadMessageId,
            Expr::case(me.clone(), Expr::val(row.id))
                .finally(Expr::col(members::Column::LastReadMessageId))
                .into(),
        )
        .col_expr(
            members::Column::LastReadAt,
            Expr::case(me.clone(), Expr::val(now))
                .finally(Expr::col(members::Column::LastReadAt))
                .into(),
        )
        .filter(members::Column::ConversationId.eq(new.conversation_id))
        .filter(members::Column::IsArchived.eq(true).or(me))
        .exec(&txn)
        .await?;
    // Last, the conversation row, then the outbox (see `STORE_SQL`).
    convs::Entity::update_many()
        .col_expr(convs::Column::LastMessageId, Expr::val(row.id))
        .col_expr(convs::Column::UpdatedAt, Expr::val(now))
        .filter(convs::Column::Id.eq(new.conversation_id))
        .exec(&txn)
        .await?;
    notify::queue_new_message(
        &txn,
        new.conversation_id,
        row.id,
        new.sender_id,
        now,
        batch_window,
    )
    .await?;
    txn.commit().await?;
    Ok(Stored { row, audience })
}

#[cfg(test)]
mod tests {
    use super::STORE_SQL;

    /// The statement's rules, read off its text: the integration tests show
    /// what it does; this keeps a later edit from dropping a guard that no
    /// test happens to exercise.
    #[test]
    fn the_postgres_statement_keeps_its_rules() {
        let sql = STORE_SQL.split_whitespace().collect::<Vec<_>>().join(" ");
        for rule in [
            // Nothing is written for a non-member.
            "FROM member RETURNING *",
            // Only the sender's own, unattached uploads.
            "a.uploader_id = $2 AND a.message_id IS NULL",
            // The outbox insert runs after the conversation row's lock.
            "FROM conversation, m, conversation_members cm",
            "ON CONFLICT (user_id, conversation_id, kind) DO NOTHING",
            "AND NOT cm.is_muted AND u.notify_email_messages AND u.is_active",
        ] {
            assert!(sql.contains(rule), "{rule}");
        }
        // Every placeholder is bound by `store_in_one_statement`.
        for n in 1..=12 {
            assert!(sql.contains(&format!("${n}")), "${n}");
        }
        assert!(!sql.contains("$13"));
    }
}
