//! Reactions: adding and removing the caller's emoji on a message, and the
//! per-message summary that goes back to the caller and out as a `reaction`
//! event.
//!
//! Only the six emoji of `ALLOWED_EMOJI` are stored, always in their
//! canonical spelling, so that "❤" and "❤️" are one reaction. Adding twice
//! and removing what is not there are no-ops; the unique index
//! (message_id, user_id, emoji) settles concurrent adds (`ON CONFLICT DO
//! NOTHING`), so a double click never becomes a 500. This module must never
//! reveal whether a message exists to someone outside its conversation.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use shared::Event;
use shared::dto::messages::{ALLOWED_EMOJI, ReactionSummary, ReactionsDto};

use super::DomainError;
use super::conversations::member_ids;
use super::messages::{live_message_for, summarize};
use crate::db::entities::message_reactions;
use crate::state::AppState;

/// U+FE0F VARIATION SELECTOR-16: asks for the emoji (colour) presentation.
/// Keyboards add it or leave it out at will, so it never tells two
/// reactions apart.
const VS16: char = '\u{FE0F}';

/// One of the allowed emoji, in its canonical spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emoji(&'static str);

impl Emoji {
    /// Accepts an allowed emoji with or without VS16 ("❤" is "❤️");
    /// anything else is `EmojiNotAllowed`.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let bare: String = raw.trim().chars().filter(|c| *c != VS16).collect();
        ALLOWED_EMOJI
            .iter()
            .find(|allowed| allowed.chars().filter(|c| *c != VS16).eq(bare.chars()))
            .map(|allowed| Self(allowed))
            .ok_or(DomainError::EmojiNotAllowed)
    }

    /// The canonical spelling, as stored and shown.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// Adds the caller's reaction (a no-op when it is there already) and
/// returns the message's reactions as the caller sees them.
pub async fn add(
    st: &AppState,
    user_id: i64,
    message_id: i64,
    emoji: &str,
) -> Result<ReactionsDto, DomainError> {
    let emoji = Emoji::parse(emoji)?;
    let db = &st.db;
    let msg = live_message_for(db, user_id, message_id).await?;
    let row = message_reactions::ActiveModel {
        message_id: Set(message_id),
        user_id: Set(user_id),
        emoji: Set(emoji.as_str().to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    // A concurrent add of the same reaction loses the race quietly.
    let inserted = message_reactions::Entity::insert(row)
        .on_conflict_do_nothing_on([
            message_reactions::Column::MessageId,
            message_reactions::Column::UserId,
            message_reactions::Column::Emoji,
        ])
        .exec_without_returning(db)
        .await?;
    let changed = matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0);
    finish(st, user_id, msg.conversation_id, message_id, changed).await
}

/// Removes the caller's reaction (a no-op when it is not there) and returns
/// the message's reactions as the caller sees them.
pub async fn remove(
    st: &AppState,
    user_id: i64,
    message_id: i64,
    emoji: &str,
) -> Result<ReactionsDto, DomainError> {
    let emoji = Emoji::parse(emoji)?;
    let db = &st.db;
    let msg = live_message_for(db, user_id, message_id).await?;
    let res = message_reactions::Entity::delete_many()
        .filter(message_reactions::Column::MessageId.eq(message_id))
        .filter(message_reactions::Column::UserId.eq(user_id))
        .filter(message_reactions::Column::Emoji.eq(emoji.as_str()))
        .exec(db)
        .await?;
    finish(
        st,
        user_id,
        msg.conversation_id,
        message_id,
        res.rows_affected > 0,
    )
    .await
}

/// The summary of one message for `viewer`, in one statement.
pub async fn summary(
    db: &impl ConnectionTrait,
    viewer: i64,
    message_id: i64,
) -> Result<Vec<ReactionSummary>, DomainError> {
    let rows = message_reactions::Entity::find()
        .filter(message_reactions::Column::MessageId.eq(message_id))
        .order_by_asc(message_reactions::Column::Id)
        .all(db)
        .await?;
    Ok(summarize(rows, viewer))
}

/// Reads the summary after a change and, when something changed, tells
/// every member (with `me: false`: each client knows who it is).
async fn finish(
    st: &AppState,
    user_id: i64,
    conversation_id: i64,
    message_id: i64,
    changed: bool,
) -> Result<ReactionsDto, DomainError> {
    let reactions = summary(&st.db, user_id, message_id).await?;
    if changed {
        let audience = member_ids(&st.db, conversation_id).await?;
        let mut shared_view = reactions.clone();
        for r in &mut shared_view {
            r.me = false;
        }
        st.bus
            .publish(
                &audience,
                Event::Reaction {
                    conversation_id,
                    message_id,
                    reactions: shared_view,
                },
            )
            .await;
    }
    Ok(ReactionsDto {
        message_id,
        reactions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_allowed_emoji_parses_to_itself() {
        for e in ALLOWED_EMOJI {
            assert_eq!(Emoji::parse(e).unwrap().as_str(), e);
        }
    }

    #[test]
    fn variation_selector_is_optional() {
        assert_eq!(Emoji::parse("\u{2764}").unwrap().as_str(), "❤️");
        assert_eq!(Emoji::parse("\u{2764}\u{FE0F}").unwrap().as_str(), "❤️");
        assert_eq!(Emoji::parse("👍\u{FE0F}").unwrap().as_str(), "👍");
        assert_eq!(Emoji::parse(" ✅ ").unwrap().as_str(), "✅");
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in ["", "\u{FE0F}", "🙂", "👍👍", "👍🏽", "like", ":+1:", "❤️❤️"]
        {
            assert!(
                matches!(Emoji::parse(bad), Err(DomainError::EmojiNotAllowed)),
                "{bad:?}"
            );
        }
    }
}
