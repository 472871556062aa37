//! Conversations: list items, details, creation and settings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::users::UserBrief;

/// A member's role in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "owner" {
            Self::Owner
        } else {
            Self::Member
        }
    }
}

/// The newest message of a conversation, as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LastMessage {
    pub id: i64,
    pub sender: Option<UserBrief>,
    /// Plain text, at most 120 characters; empty for deleted messages.
    pub preview: String,
    pub created_at: DateTime<Utc>,
    pub is_deleted: bool,
}

/// One entry of `GET /api/conversations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationSummary {
    pub id: i64,
    /// The group's name, or the other members' names ("Anna, Jan, Ola +2").
    pub name: String,
    pub is_group: bool,
    pub members: Vec<UserBrief>,
    /// The caller's role.
    pub role: Role,
    pub is_muted: bool,
    pub is_archived: bool,
    /// Messages from others after the caller's last-read position.
    pub unread_count: i64,
    pub last_message: Option<LastMessage>,
    pub updated_at: DateTime<Utc>,
}

/// A page of conversations; pass `next_cursor` as `cursor` for the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationPage {
    pub items: Vec<ConversationSummary>,
    pub next_cursor: Option<String>,
}

/// A member as the details show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberDto {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// Last message id this member has read (read receipts).
    pub last_read_message_id: Option<i64>,
    pub last_read_at: Option<DateTime<Utc>>,
    pub joined_at: DateTime<Utc>,
}

/// `GET /api/conversations/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationDetail {
    pub id: i64,
    /// The display name (as in the list).
    pub name: String,
    /// The group's own name; null for 1:1 and unnamed groups.
    pub title: Option<String>,
    pub description: Option<String>,
    pub is_group: bool,
    pub owner_id: Option<i64>,
    pub members: Vec<MemberDto>,
    pub role: Role,
    pub is_muted: bool,
    pub is_archived: bool,
    pub unread_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/conversations`: one other member and no name makes a 1:1.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateConversation {
    /// The other members (the caller is added anyway).
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub member_ids: Vec<i64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// `PATCH /api/conversations/{id}` (owner, groups). Absent fields stay.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateConversation {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /api/conversations/{id}/members`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddMembers {
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub user_ids: Vec<i64>,
}

/// `PATCH /api/conversations/{id}/settings`: the caller's own settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateSettings {
    #[serde(default)]
    pub is_muted: Option<bool>,
    #[serde(default)]
    pub is_archived: Option<bool>,
}

/// `POST /api/conversations/{id}/read`: up to `message_id`, or everything.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MarkRead {
    #[serde(default)]
    pub message_id: Option<i64>,
}

/// The caller's read position after `POST …/read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadState {
    pub conversation_id: i64,
    pub last_read_message_id: Option<i64>,
    pub unread_count: i64,
}
