//! Presence as the API shows it, and who hears about a user's presence:
//! everyone who shares a conversation with them.

use chrono::Utc;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter};
use shared::Event;
use shared::dto::users::PresenceDto;

use super::DomainError;
use crate::db::entities::{conversation_members as members, users};
use crate::realtime::presence::Change;
use crate::state::AppState;

pub const MAX_IDS: usize = 50;

/// Users who share at least one conversation with `user_id` (one statement).
pub async fn contacts(db: &impl ConnectionTrait, user_id: i64) -> Result<Vec<i64>, DomainError> {
    let mut mine = Query::select();
    mine.column(members::Column::ConversationId)
        .from(members::Entity)
        .and_where(Expr::col(members::Column::UserId).eq(user_id));
    let rows = members::Entity::find()
        .filter(members::Column::ConversationId.in_subquery(mine))
        .filter(members::Column::UserId.ne(user_id))
        .all(db)
        .await?;
    let mut ids: Vec<i64> = rows.into_iter().map(|m| m.user_id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Tells a user's contacts that they came online or went offline (and
/// records `last_seen` when they leave).
pub async fn announce(st: &AppState, change: Change) -> Result<(), DomainError> {
    let (user_id, online) = match change {
        Change::Online(u) => (u, true),
        Change::Offline(u) => (u, false),
    };
    let now = Utc::now();
    if !online {
        users::Entity::update_many()
            .col_expr(users::Column::LastSeenAt, Expr::val(now))
            .filter(users::Column::Id.eq(user_id))
            .exec(&st.db)
            .await?;
    }
    let audience = contacts(&st.db, user_id).await?;
    st.bus
        .publish(
            &audience,
            Event::Presence {
                user_id,
                online,
                last_seen: (!online).then_some(now),
            },
        )
        .await;
    Ok(())
}

/// Presence of 1–50 users as `viewer` may see it: one statement and one
/// presence lookup. A user sees the presence of themselves and of the
/// people they share a conversation with (those who hear their `presence`
/// events); anyone else is left out, like an unknown id.
pub async fn lookup(
    st: &AppState,
    viewer: i64,
    ids: &[i64],
) -> Result<Vec<PresenceDto>, DomainError> {
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(DomainError::invalid(
            "ids",
            format!("give 1 to {MAX_IDS} user ids"),
        ));
    }
    let mut mine = Query::select();
    mine.column(members::Column::ConversationId)
        .from(members::Entity)
        .and_where(Expr::col(members::Column::UserId).eq(viewer));
    let mut contacts = Query::select();
    contacts
        .column(members::Column::UserId)
        .from(members::Entity)
        .and_where(Expr::col(members::Column::ConversationId).in_subquery(mine));
    let found = users::Entity::find()
        .filter(users::Column::Id.is_in(ids.iter().copied()))
        .filter(users::Column::IsActive.eq(true))
        .filter(
            users::Column::Id
                .eq(viewer)
                .or(users::Column::Id.in_subquery(contacts)),
        )
        .all(&st.db)
        .await?;
    let known: Vec<&users::Model> = ids
        .iter()
        .filter_map(|id| found.iter().find(|u| u.id == *id))
        .collect();
    let ids: Vec<i64> = known.iter().map(|u| u.id).collect();
    let online = st.presence.online(&ids).await;
    Ok(known
        .into_iter()
        .zip(online)
        .map(|(u, online)| PresenceDto {
            user_id: u.id,
            online,
            last_seen: if online { None } else { u.last_seen_at },
        })
        .collect())
}

/// One typing event per user and conversation this often.
pub const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Refreshes the caller's presence; a heartbeat sooner than the throttle
/// allows (`Settings::heartbeat_rate`) changes nothing and is not an error:
/// the one before keeps the user online.
pub async fn heartbeat(st: &AppState, user_id: i64) -> Result<(), DomainError> {
    let key = format!("heartbeat:{user_id}");
    if st
        .limiter
        .acquire(&key, st.settings.heartbeat_rate())
        .await
        .is_err()
    {
        return Ok(());
    }
    if let Some(change) = st.presence.heartbeat(user_id).await {
        announce(st, change).await?;
    }
    Ok(())
}

/// Tells the other members that `user_id` is typing, at most once per 2 s
/// per user and conversation; extra calls are silent no-ops.
pub async fn typing(st: &AppState, user_id: i64, conversation_id: i64) -> Result<(), DomainError> {
    super::conversations::membership(&st.db, conversation_id, user_id).await?;
    let key = format!("typing:{user_id}:{conversation_id}");
    let rate = crate::rate_limit::Rate {
        burst: 1,
        every: TYPING_EVERY,
    };
    if st.limiter.acquire(&key, rate).await.is_err() {
        return Ok(());
    }
    let user_name = users::Entity::find_by_id(user_id)
        .one(&st.db)
        .await?
        .map(|u| u.name)
        .unwrap_or_default();
    let audience: Vec<i64> = super::conversations::member_ids(&st.db, conversation_id)
        .await?
        .into_iter()
        .filter(|u| *u != user_id)
        .collect();
    st.bus
        .publish(
            &audience,
            Event::Typing {
                conversation_id,
                user_id,
                user_name,
            },
        )
        .await;
    Ok(())
}
