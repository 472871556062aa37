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
    pub created_at: DateTime<Utc>,
}
