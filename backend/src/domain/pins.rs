//! Pins: any member pins or unpins a message of their conversation; the
//! conversation's pinned messages are listed newest pin first.
//!
//! Pinning twice and unpinning what is not pinned are no-ops (the unique
//! index (conversation_id, message_id) settles concurrent pins with `ON
//! CONFLICT DO NOTHING`). Deleted messages are never pinned and never
//! listed: deleting a message removes its pins, and the listing skips a
//! pin that raced with a delete. The listing runs a fixed number of
//! statements however many pins there are. This module must never reveal
//! whether a message or conversation exists to a non-member.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use shared::Event;
use shared::dto::messages::PinDto;
use shared::dto::users::UserBrief;

use super::DomainError;
use super::conversations::{member_ids, membership};
use super::messages::{live_message_for, to_dtos};
use crate::db::entities::{conv_messages, message_pins, users};
use crate::state::AppState;

/// Pins a message (a no-op when it is pinned already) and returns the pin.
pub async fn pin(st: &AppState, user_id: i64, message_id: i64) -> Result<PinDto, DomainError> {
    let db = &st.db;
    let msg = live_message_for(db, user_id, message_id).await?;
    let conversation_id = msg.conversation_id;
    let row = message_pins::ActiveModel {
        conversation_id: Set(conversation_id),
        message_id: Set(message_id),
        pinned_by_id: Set(Some(user_id)),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    // A concurrent pin of the same message loses the race quietly.
    let inserted = message_pins::Entity::insert(row)
        .on_conflict_do_nothing_on([
            message_pins::Column::ConversationId,
            message_pins::Column::MessageId,
        ])
        .exec_without_returning(db)
        .await?;
    let changed = matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0);
    // The pin as stored: after a no-op, the first pinner and time stay.
    let pin = message_pins::Entity::find()
        .filter(message_pins::Column::ConversationId.eq(conversation_id))
        .filter(message_pins::Column::MessageId.eq(message_id))
        .one(db)
        .await?
        // Unpinned or deleted between the insert and this read.
        .ok_or(DomainError::NotFound)?;
    let dto = pin_dtos(db, user_id, vec![pin], vec![msg])
        .await?
        .pop()
        .ok_or(DomainError::NotFound)?;
    if changed {
        let audience = member_ids(db, conversation_id).await?;
        st.bus
            .publish(
                &audience,
                Event::MessagePinned {
                    conversation_id,
                    message_id,
                    pinned_by: dto.pinned_by.clone(),
                },
            )
            .await;
    }
    Ok(dto)
}

/// Unpins a message (a no-op when it is not pinned).
pub async fn unpin(st: &AppState, user_id: i64, message_id: i64) -> Result<(), DomainError> {
    let db = &st.db;
    let msg = live_message_for(db, user_id, message_id).await?;
    let conversation_id = msg.conversation_id;
    let res = message_pins::Entity::delete_many()
        .filter(message_pins::Column::ConversationId.eq(conversation_id))
        .filter(message_pins::Column::MessageId.eq(message_id))
        .exec(db)
        .await?;
    if res.rows_affected > 0 {
        let audience = member_ids(db, conversation_id).await?;
        st.bus
            .publish(
                &audience,
                Event::MessageUnpinned {
                    conversation_id,
                    message_id,
                },
            )
            .await;
    }
    Ok(())
}

/// The pinned messages of a conversation, newest pin first, in at most
/// eight statements whatever their number.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: i64,
    conversation_id: i64,
) -> Result<Vec<PinDto>, DomainError> {
    membership(db, conversation_id, user_id).await?;
    let pins = message_pins::Entity::find()
        .filter(message_pins::Column::ConversationId.eq(conversation_id))
        .order_by_desc(message_pins::Column::CreatedAt)
        .order_by_desc(message_pins::Column::Id)
        .all(db)
        .await?;
    if pins.is_empty() {
        return Ok(Vec::new());
    }
    let messages = conv_messages::Entity::find()
        .filter(conv_messages::Column::Id.is_in(pins.iter().map(|p| p.message_id)))
        .filter(conv_messages::Column::ConversationId.eq(conversation_id))
        .filter(conv_messages::Column::IsDeleted.eq(false))
        .all(db)
        .await?;
    pin_dtos(db, user_id, pins, messages).await
}

/// Pins in their given order, with their messages (as `viewer` sees them)
/// and pinners; a pin whose message is not among `messages` is skipped.
/// At most five statements.
async fn pin_dtos(
    db: &impl ConnectionTrait,
    viewer: i64,
    pins: Vec<message_pins::Model>,
    messages: Vec<conv_messages::Model>,
) -> Result<Vec<PinDto>, DomainError> {
    let mut by_id: HashMap<i64, _> = to_dtos(db, viewer, messages)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let pinner_ids: Vec<i64> = pins.iter().filter_map(|p| p.pinned_by_id).collect();
    let pinners: HashMap<i64, String> = if pinner_ids.is_empty() {
        HashMap::new()
    } else {
        users::Entity::find()
            .filter(users::Column::Id.is_in(pinner_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect()
    };
    Ok(pins
        .into_iter()
        .filter_map(|p| {
            let message = by_id.remove(&p.message_id)?;
            let pinned_by = p.pinned_by_id.and_then(|id| {
                pinners.get(&id).map(|name| UserBrief {
                    id,
                    name: name.clone(),
                })
            });
            Some(PinDto {
                message,
                pinned_by,
                pinned_at: p.created_at,
            })
        })
        .collect())
}
