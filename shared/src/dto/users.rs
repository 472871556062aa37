//! Users as the API shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The signed-in user (`GET /api/auth/me`) or a user seen by an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserDto {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub is_admin: bool,
    /// E-mail notifications about new messages (default on).
    pub notify_email_messages: bool,
    /// `pl` or `en`: the language of e-mails and of the web app.
    pub language: String,
    pub created_at: DateTime<Utc>,
}

/// A user as others see them (members, senders, the directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserBrief {
    pub id: i64,
    pub name: String,
}

/// A page of `GET /api/users?q=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserPage {
    pub items: Vec<UserDirectoryEntry>,
    pub next_cursor: Option<String>,
}

/// An entry of the user directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserDirectoryEntry {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// One user's presence (`GET /api/users/presence`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresenceDto {
    pub user_id: i64,
    pub online: bool,
    /// When the user was last online; null while online or if never seen.
    pub last_seen: Option<DateTime<Utc>>,
}
