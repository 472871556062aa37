//! Messages, reactions, pins.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::users::UserBrief;

/// The only reactions allowed.
pub const ALLOWED_EMOJI: [&str; 6] = ["👍", "❤️", "😂", "😮", "😢", "✅"];

/// Longest message, in characters, after trimming.
pub const MAX_MESSAGE_CHARS: usize = 10_000;

/// What a reply shows of the message it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplyPreview {
    pub id: i64,
    pub sender_name: Option<String>,
    /// Plain text, at most 120 characters; empty when deleted.
    pub preview: String,
    pub is_deleted: bool,
}

/// Reactions with one emoji on one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionSummary {
    pub emoji: String,
    pub count: i64,
    pub user_ids: Vec<i64>,
    /// Whether the caller is among them.
    pub me: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentDto {
    pub id: i64,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub url: String,
    pub thumbnail_url: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkPreview {
    pub url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub image: Option<String>,
    pub site_name: Option<String>,
}

/// A message as clients see it. Deleted messages are placeholders: no
/// content, no reactions, no attachments, no preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageDto {
    pub id: i64,
    pub conversation_id: i64,
    pub sender: Option<UserBrief>,
    /// Markdown source.
    pub content: Option<String>,
    /// Sanitized HTML rendered by the server.
    pub content_html: Option<String>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub is_deleted: bool,
    pub is_forwarded: bool,
    pub reply_to: Option<ReplyPreview>,
    pub reactions: Vec<ReactionSummary>,
    pub attachments: Vec<AttachmentDto>,
    pub link_preview: Option<LinkPreview>,
    /// The sender's idempotency key, echoed back.
    pub client_id: Option<String>,
}

/// A page of messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessagePage {
    pub items: Vec<MessageDto>,
    /// Whether more messages lie beyond this page in its direction.
    pub has_more: bool,
}

/// `POST /api/conversations/{id}/messages`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendMessage {
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub reply_to_id: Option<i64>,
    #[serde(default)]
    pub attachment_ids: Vec<i64>,
    /// A UUID chosen by the client; a retried send with the same one
    /// returns the first message instead of creating a second.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// `PATCH /api/messages/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditMessage {
    pub content: String,
}

/// `POST /api/messages/{id}/forward`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForwardMessage {
    pub conversation_id: i64,
}

/// `POST /api/messages/{id}/reactions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddReaction {
    /// One of 👍 ❤️ 😂 😮 😢 ✅ (❤ without the variation selector too).
    #[cfg_attr(feature = "openapi", schema(pattern = "^(👍|❤️|❤|😂|😮|😢|✅)$"))]
    pub emoji: String,
}

/// The reactions of a message after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionsDto {
    pub message_id: i64,
    pub reactions: Vec<ReactionSummary>,
}

/// A pinned message (`GET /api/conversations/{id}/pins`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PinDto {
    pub message: MessageDto,
    pub pinned_by: Option<UserBrief>,
    pub pinned_at: DateTime<Utc>,
}
