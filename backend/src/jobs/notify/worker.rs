//! The outbox worker (zero-to-production's `issue_delivery_worker` shape):
//! claims due rows of `email_outbox`, works out what the member has not
//! read, mails it, and only then deletes the row. Runs in every instance.
//!
//! Claiming: one `UPDATE … SET locked_until = now + lease WHERE id IN
//! (SELECT … due and not leased … FOR UPDATE SKIP LOCKED) RETURNING *`
//! (SQLite serialises writers, so the same statement without the lock
//! clause is just as exclusive). The lease, not a transaction held open
//! across SMTP, is what keeps other instances away: a row claimed by an
//! instance that died becomes claimable again once `locked_until` passes.
//!
//! Exactly once, as far as SMTP allows: a row is deleted only after the
//! server accepted the mail, and only if it is still ours (same lease) and
//! no message arrived meanwhile; otherwise it is re-armed for a new window.
//! "Meanwhile" is told by the conversation's `last_message_id`: the claim
//! copies it into the row, and the delete compares it again, reading the
//! conversation row under a share lock on PostgreSQL. A sender updates that
//! row before it inserts its outbox rows (which lock nothing: senders never
//! wait for each other on outbox rows), so the delete either waits for the
//! sender's commit and sees its message, or runs first and the sender then
//! finds no row and inserts a new one. An instance that dies after the SMTP
//! server accepted but before that delete (a few milliseconds) sends the
//! mail again once its lease ends; the repeat has the same `Message-ID`,
//! which lets mail systems drop it. Sending never holds a database lock.
//!
//! Who is skipped (the row is deleted without mail): members who read the
//! conversation (nothing unread and not deleted after their read position),
//! who are "viewing" it (online, and they moved their read position in this
//! conversation after the batch began: the app marks messages read while
//! the conversation is open), who muted it, left it, turned notifications
//! off, were deactivated or have no address.
//!
//! Failures: an SMTP error puts the row back with `attempts + 1`,
//! `last_error` and `not_before = now + backoff` (MAIL_RETRY_MIN_SECS
//! doubling up to MAIL_RETRY_MAX_SECS); rows are never dropped for an SMTP
//! error, so an outage or a wrong password loses nothing. When the server
//! cannot be reached at all (no SMTP reply), the rest of the batch is handed
//! back untried and the instance pauses MAIL_RETRY_MIN_SECS, so an outage
//! costs one connection attempt per pause, not one per queued mail.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, DurationRound, Utc};
use sea_orm::sea_query::{
    Expr, ExprTrait, Func, LockBehavior, LockType, Order, Query, QueryStatementBuilder,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, UpdateMany,
};
use tracing::Instrument;

use super::mail::{self, Item, Lang, MAX_SHOWN, Notification};
use crate::db::entities::{
    conv_messages, conversation_members as members, conversations, email_outbox, users,
};
use crate::domain::notify::NEW_MESSAGES;
use crate::domain::render;
use crate::state::AppState;

/// Rows claimed per round.
const CLAIM_BATCH: u64 = 5;

/// Starts the worker; it stops after the row in hand when the server shuts
/// down (`AppState::begin_shutdown`).
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(state))
}

async fn run(state: AppState) {
    let mut shutdown = state.shutdown.subscribe();
    let poll = StdDuration::from_millis(state.settings.mail_poll_interval_ms);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let pause = match round(&state).await {
            Ok(Round::Worked) => None,
            Ok(Round::Empty) => Some(poll),
            // The mail server is unreachable: this instance waits before
            // trying anyone else (each failed row also has its own backoff).
            Ok(Round::ServerDown) => {
                Some(StdDuration::from_secs(state.settings.mail_retry_min_secs))
            }
            Err(e) => {
                tracing::warn!(error = %e, "e-mail outbox: claiming failed; retrying");
                Some(poll)
            }
        };
        if let Some(pause) = pause {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    tracing::debug!("e-mail outbox worker stopped");
}

/// How long a claim keeps other instances away: well beyond a batch of
/// SMTP conversations (each step bounded by SMTP_TIMEOUT_SECS; a batch
/// stops at the first server that cannot be reached).
fn lease(state: &AppState) -> Duration {
    let timeout = i64::try_from(state.settings.smtp_timeout_secs).unwrap_or(600);
    Duration::seconds(60 + CLAIM_BATCH as i64 * 2 * timeout)
}

enum Round {
    Empty,
    Worked,
    ServerDown,
}

/// How one row ended.
enum Outcome {
    Done,
    /// Not sent and put back; `reachable`: the server answered (a refusal),
    /// so the other rows may still go.
    Failed {
        reachable: bool,
    },
}

/// Claims and works through one batch.
async fn round(state: &AppState) -> Result<Round, DbErr> {
    // Whole milliseconds: the lease is compared for equality later, and
    // both databases store at least that precision.
    let now = Utc::now()
        .duration_trunc(Duration::milliseconds(1))
        .unwrap_or_else(|_| Utc::now());
    let lease_until = now + lease(state);
    let rows = claim(&state.db, now, lease_until).await?;
    if rows.is_empty() {
        return Ok(Round::Empty);
    }
    for (i, row) in rows.iter().enumerate() {
        let span = tracing::info_span!(
            "email_notification",
            outbox_id = row.id,
            user_id = row.user_id,
            conversation_id = row.conversation_id,
            attempt = row.attempts + 1
        );
        match handle(state, row, lease_until)
            .instrument(span.clone())
            .await
        {
            Ok(Outcome::Failed { reachable: false }) => {
                // Hand the rest back untouched rather than wait out a
                // connect timeout for each.
                release(&state.db, &rows[i + 1..], lease_until).await?;
                return Ok(Round::ServerDown);
            }
            Ok(_) => {}
            // The lease runs out and the row is tried again.
            Err(e) => span.in_scope(|| tracing::warn!(error = %e, "e-mail notification failed")),
        }
    }
    Ok(Round::Worked)
}

/// Gives claimed rows back without an attempt.
async fn release(
    db: &impl ConnectionTrait,
    rows: &[email_outbox::Model],
    lease_until: DateTime<Utc>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    use email_outbox::Column as C;
    email_outbox::Entity::update_many()
        .col_expr(C::LockedUntil, Expr::val(Option::<DateTime<Utc>>::None))
        .filter(C::Id.is_in(rows.iter().map(|r| r.id)))
        .filter(C::LockedUntil.eq(lease_until))
        .exec(db)
        .await?;
    Ok(())
}

/// The claim statement; the one dialect difference is the lock clause.
pub fn claim_statement(
    backend: DatabaseBackend,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> UpdateMany<email_outbox::Entity> {
    use email_outbox::Column as C;
    let mut due = Query::select();
    due.column(C::Id)
        .from(email_outbox::Entity)
        .and_where(Expr::col(C::NotBefore).lte(now))
        .and_where(
            Expr::col(C::LockedUntil)
                .is_null()
                .or(Expr::col(C::LockedUntil).lt(now)),
        )
        .order_by(C::NotBefore, Order::Asc)
        .limit(limit);
    if backend == DatabaseBackend::Postgres {
        due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    email_outbox::Entity::update_many()
        .col_expr(C::LockedUntil, Expr::val(lease_until))
        .col_expr(
            C::LastMessageId,
            Func::coalesce([
                last_message_of(Expr::col((email_outbox::Entity, C::ConversationId)), false),
                Expr::col((email_outbox::Entity, C::LastMessageId)),
            ])
            .into(),
        )
        .filter(Expr::col(C::Id).in_subquery(due))
}

/// `(SELECT last_message_id FROM conversations WHERE id = <conversation>)`;
/// with `share_lock` (PostgreSQL) it waits for a sender that updated the
/// row and has not committed yet, then reads that sender's message.
fn last_message_of(conversation: Expr, share_lock: bool) -> Expr {
    let mut q = Query::select();
    q.column(conversations::Column::LastMessageId)
        .from(conversations::Entity)
        .and_where(Expr::col((conversations::Entity, conversations::Column::Id)).eq(conversation));
    if share_lock {
        q.lock(LockType::Share);
    }
    Expr::SubQuery(None, Box::new(q.into_sub_query_statement()))
}

async fn claim(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Vec<email_outbox::Model>, DbErr> {
    let mut claimed = claim_statement(db.get_database_backend(), now, lease_until, CLAIM_BATCH)
        .exec_with_returning(db)
        .await?;
    claimed.sort_by_key(|r| (r.not_before, r.id));
    Ok(claimed)
}

/// What to do with a claimed row.
enum Plan {
    Skip(&'static str),
    Send(Box<Notification>),
}

async fn handle(
    state: &AppState,
    row: &email_outbox::Model,
    lease_until: DateTime<Utc>,
) -> Result<Outcome, DbErr> {
    let plan = plan(state, row).await?;
    let notification = match plan {
        Plan::Skip(reason) => {
            tracing::info!(reason, "e-mail notification not needed");
            finish(state, row, lease_until).await?;
            return Ok(Outcome::Done);
        }
        Plan::Send(n) => n,
    };
    let message = match mail::compose(&notification, &state.config.mail_from) {
        Ok(m) => m,
        Err(e) => {
            // Cannot happen with validated addresses; keep the row for a
            // fix rather than lose it.
            retry(state, row, lease_until, &format!("composing: {e}")).await?;
            return Ok(Outcome::Failed { reachable: true });
        }
    };
    let name = format!(
        "{}-{}-{}",
        Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        row.id,
        row.last_message_id.unwrap_or(0)
    );
    match state.mailer.transport.send(&message, &name).await {
        Ok(()) => {
            tracing::info!(unread = notification.unread, "e-mail notification sent");
            finish(state, row, lease_until).await?;
            Ok(Outcome::Done)
        }
        Err(e) => {
            if e.permanent {
                tracing::error!(error = %e, "the mail server refused the notification; will retry");
            } else {
                tracing::warn!(error = %e, "e-mail notification not sent; will retry");
            }
            retry(state, row, lease_until, &e.message).await?;
            Ok(Outcome::Failed {
                reachable: e.answered,
            })
        }
    }
}

/// Reads what the member has not read and decides.
async fn plan(state: &AppState, row: &email_outbox::Model) -> Result<Plan, DbErr> {
    let db = &state.db;
    let Some(conversation_id) = row.conversation_id else {
        return Ok(Plan::Skip("no conversation"));
    };
    if row.kind != NEW_MESSAGES {
        return Ok(Plan::Skip("unknown kind"));
    }
    let Some(user) = users::Entity::find_by_id(row.user_id).one(db).await? else {
        return Ok(Plan::Skip("user gone"));
    };
    if !user.is_active || !user.notify_email_messages || user.email.trim().is_empty() {
        return Ok(Plan::Skip("notifications off"));
    }
    let Some(member) = members::Entity::find_by_id((conversation_id, user.id))
        .one(db)
        .await?
    else {
        return Ok(Plan::Skip("not a member"));
    };
    if member.is_muted {
        return Ok(Plan::Skip("muted"));
    }
    let Some(conv) = conversations::Entity::find_by_id(conversation_id)
        .one(db)
        .await?
    else {
        return Ok(Plan::Skip("conversation gone"));
    };
    // The same rule as the unread counts: from others, not deleted, after
    // the read position. Newest first, one more than shown.
    let unread_filter = conv_messages::Column::ConversationId
        .eq(conversation_id)
        .and(conv_messages::Column::Id.gt(member.last_read_message_id.unwrap_or(0)))
        .and(conv_messages::Column::IsDeleted.eq(false))
        .and(
            conv_messages::Column::SenderId
                .ne(user.id)
                .or(conv_messages::Column::SenderId.is_null()),
        );
    let mut recent = conv_messages::Entity::find()
        .filter(unread_filter.clone())
        .order_by_desc(conv_messages::Column::Id)
        .limit(MAX_SHOWN as u64 + 1)
        .all(db)
        .await?;
    if recent.is_empty() {
        return Ok(Plan::Skip("read"));
    }
    let unread = if recent.len() > MAX_SHOWN {
        recent.truncate(MAX_SHOWN);
        conv_messages::Entity::find()
            .filter(unread_filter)
            .count(db)
            .await?
    } else {
        recent.len() as u64
    };
    if member.last_read_at.is_some_and(|t| t >= row.created_at)
        && state.presence.online(&[user.id]).await.first() == Some(&true)
    {
        return Ok(Plan::Skip("viewing"));
    }
    // Names: the senders, and for a 1:1 the other person.
    let other = if conv.is_group {
        None
    } else {
        members::Entity::find()
            .filter(members::Column::ConversationId.eq(conversation_id))
            .filter(members::Column::UserId.ne(user.id))
            .one(db)
            .await?
            .map(|m| m.user_id)
    };
    let mut ids: Vec<i64> = recent.iter().filter_map(|m| m.sender_id).collect();
    ids.extend(other);
    ids.sort_unstable();
    ids.dedup();
    let names: HashMap<i64, String> = users::Entity::find()
        .filter(users::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let lang = Lang::of(&user.language);
    let unknown = match lang {
        Lang::Pl => "Użytkownik usunięty",
        Lang::En => "Deleted user",
    };
    let name_of = |id: Option<i64>| {
        id.and_then(|i| names.get(&i).cloned())
            .unwrap_or_else(|| unknown.to_owned())
    };
    let title = if conv.is_group {
        conv.name.clone().unwrap_or_else(|| match lang {
            Lang::Pl => "Grupa".into(),
            Lang::En => "Group".into(),
        })
    } else {
        name_of(other)
    };
    recent.reverse();
    let items = recent
        .iter()
        .map(|m| Item {
            sender: name_of(m.sender_id),
            preview: render::preview(&m.content),
        })
        .collect();
    let to = lettre::message::Mailbox::new(
        Some(user.name.clone()),
        match user.email.parse() {
            Ok(a) => a,
            Err(_) => return Ok(Plan::Skip("unusable address")),
        },
    );
    let public = &state.config.public_url;
    let domain = state.config.mail_from.email.domain().to_owned();
    Ok(Plan::Send(Box::new(Notification {
        to,
        lang,
        title,
        is_group: conv.is_group,
        items,
        unread,
        link: mail::conversation_link(public, conversation_id),
        unsubscribe: mail::unsubscribe_link(public, &state.mailer.key.token(user.id)),
        message_id: format!(
            "<notify.{}.{}@{domain}>",
            row.id,
            row.last_message_id.unwrap_or(0)
        ),
    })))
}

/// The row's work is done: delete it if it is still ours and no message
/// was queued into it meanwhile; if one was, re-arm it for a new window.
async fn finish(
    state: &AppState,
    row: &email_outbox::Model,
    lease_until: DateTime<Utc>,
) -> Result<(), DbErr> {
    use email_outbox::Column as C;
    let db = &state.db;
    // Nothing newer than what the claim saw (a conversation deleted
    // meanwhile has nothing newer either).
    let newest = Func::coalesce([
        last_message_of(
            Expr::val(row.conversation_id),
            db.get_database_backend() == DatabaseBackend::Postgres,
        ),
        Expr::val(0i64),
    ]);
    let deleted = email_outbox::Entity::delete_many()
        .filter(C::Id.eq(row.id))
        .filter(C::LockedUntil.eq(lease_until))
        .filter(Expr::expr(newest).lte(row.last_message_id.unwrap_or(0)))
        .exec(db)
        .await?;
    if deleted.rows_affected == 1 {
        return Ok(());
    }
    let rearmed = email_outbox::Entity::update_many()
        .col_expr(C::LockedUntil, Expr::val(Option::<DateTime<Utc>>::None))
        .col_expr(
            C::NotBefore,
            Expr::val(Utc::now() + state.settings.notify_batch_window()),
        )
        .col_expr(C::Attempts, Expr::val(0i32))
        .col_expr(C::LastError, Expr::val(Option::<String>::None))
        .filter(C::Id.eq(row.id))
        .filter(C::LockedUntil.eq(lease_until))
        .exec(db)
        .await?;
    if rearmed.rows_affected == 1 {
        tracing::debug!("new messages arrived while sending; the next mail waits a window");
    } else {
        tracing::warn!("the claim on this row ran out before the work was done");
    }
    Ok(())
}

/// Delay before attempt `attempts + 1`: MIN · 2^(attempts-1), capped.
pub fn backoff(attempts: i32, min_secs: u64, max_secs: u64) -> StdDuration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let secs = std::cmp::min(min_secs.saturating_mul(1u64 << exp), max_secs);
    StdDuration::from_secs(secs)
}

/// Puts the row back for a later attempt (never drops it).
async fn retry(
    state: &AppState,
    row: &email_outbox::Model,
    lease_until: DateTime<Utc>,
    error: &str,
) -> Result<(), DbErr> {
    use email_outbox::Column as C;
    let attempts = row.attempts.saturating_add(1);
    let s = &state.settings;
    let delay = backoff(attempts, s.mail_retry_min_secs, s.mail_retry_max_secs);
    let not_before = Utc::now() + Duration::from_std(delay).unwrap_or(Duration::hours(1));
    // Error texts are short, but a server may say a lot.
    let error: String = error.chars().take(1000).collect();
    email_outbox::Entity::update_many()
        .col_expr(C::Attempts, Expr::val(attempts))
        .col_expr(C::LastError, Expr::val(error))
        .col_expr(C::NotBefore, Expr::val(not_before))
        .col_expr(C::LockedUntil, Expr::val(Option::<DateTime<Utc>>::None))
        .filter(C::Id.eq(row.id))
        .filter(C::LockedUntil.eq(lease_until))
        .exec(&state.db)
        .await?;
    tracing::info!(
        retry_in_secs = delay.as_secs(),
        "e-mail notification will be retried"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::QueryTrait;

    #[test]
    fn claim_locks_rows_on_postgres_only() {
        let now = Utc::now();
        let pg = claim_statement(DatabaseBackend::Postgres, now, now, 10)
            .build(DatabaseBackend::Postgres)
            .sql;
        assert!(pg.contains("FOR UPDATE SKIP LOCKED"), "{pg}");
        assert!(pg.contains("\"locked_until\" IS NULL"), "{pg}");
        let lite = claim_statement(DatabaseBackend::Sqlite, now, now, 10)
            .build(DatabaseBackend::Sqlite)
            .sql;
        assert!(!lite.contains("FOR UPDATE"), "{lite}");
        assert!(lite.contains("IN (SELECT"), "{lite}");
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1, 60, 3600).as_secs(), 60);
        assert_eq!(backoff(2, 60, 3600).as_secs(), 120);
        assert_eq!(backoff(3, 60, 3600).as_secs(), 240);
        assert_eq!(backoff(10, 60, 3600).as_secs(), 3600);
        assert_eq!(backoff(1000, 60, 3600).as_secs(), 3600);
    }
}
