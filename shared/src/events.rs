//! Real-time events: one tagged enum, the SSE payload and the SPA's reducer
//! input. On the wire: `event: <type>` and `data: <this enum as JSON>` (the
//! JSON carries the same `type`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dto::messages::{MessageDto, ReactionSummary};
use crate::dto::users::UserBrief;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// First event of every stream.
    Connected {
        user_id: i64,
    },
    /// The client was away longer than the replay window: refetch state.
    Resync {},
    /// A new message; `reactions[].me` is false (the client knows who it is).
    NewMessage {
        message: MessageDto,
    },
    /// Content, edit time or link preview changed.
    MessageEdited {
        message: MessageDto,
    },
    MessageDeleted {
        conversation_id: i64,
        message_id: i64,
    },
    /// The full reaction summary of a message after a change.
    Reaction {
        conversation_id: i64,
        message_id: i64,
        reactions: Vec<ReactionSummary>,
    },
    MessagePinned {
        conversation_id: i64,
        message_id: i64,
        pinned_by: Option<UserBrief>,
    },
    MessageUnpinned {
        conversation_id: i64,
        message_id: i64,
    },
    MessageRead {
        conversation_id: i64,
        user_id: i64,
        last_read_message_id: Option<i64>,
    },
    Typing {
        conversation_id: i64,
        user_id: i64,
        user_name: String,
    },
    Presence {
        user_id: i64,
        online: bool,
        last_seen: Option<DateTime<Utc>>,
    },
    ConversationCreated {
        conversation_id: i64,
    },
    ConversationUpdated {
        conversation_id: i64,
    },
    ConversationDeleted {
        conversation_id: i64,
    },
    MemberAdded {
        conversation_id: i64,
        user_id: i64,
    },
    MemberRemoved {
        conversation_id: i64,
        user_id: i64,
    },
}

impl Event {
    /// The SSE `event:` name (the serde tag).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connected { .. } => "connected",
            Self::Resync {} => "resync",
            Self::NewMessage { .. } => "new_message",
            Self::MessageEdited { .. } => "message_edited",
            Self::MessageDeleted { .. } => "message_deleted",
            Self::Reaction { .. } => "reaction",
            Self::MessagePinned { .. } => "message_pinned",
            Self::MessageUnpinned { .. } => "message_unpinned",
            Self::MessageRead { .. } => "message_read",
            Self::Typing { .. } => "typing",
            Self::Presence { .. } => "presence",
            Self::ConversationCreated { .. } => "conversation_created",
            Self::ConversationUpdated { .. } => "conversation_updated",
            Self::ConversationDeleted { .. } => "conversation_deleted",
            Self::MemberAdded { .. } => "member_added",
            Self::MemberRemoved { .. } => "member_removed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_matches_the_serde_tag() {
        let events = [
            Event::MessageDeleted {
                conversation_id: 1,
                message_id: 2,
            },
            Event::ConversationCreated { conversation_id: 1 },
            Event::MessageRead {
                conversation_id: 1,
                user_id: 2,
                last_read_message_id: Some(3),
            },
            Event::Typing {
                conversation_id: 1,
                user_id: 2,
                user_name: "Anna".into(),
            },
        ];
        for e in events {
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["type"], e.kind());
        }
    }
}
