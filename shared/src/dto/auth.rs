//! `POST /api/auth/login`, `POST /api/auth/logout`, `GET`/`PATCH /api/auth/me`,
//! `POST /api/auth/password`.

use serde::{Deserialize, Serialize};

use super::users::UserDto;

/// Body of `POST /api/auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// Not blank.
    #[cfg_attr(feature = "openapi", schema(pattern = r"\S"))]
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub password: String,
}

/// Answer of a successful login: the user; the session travels as a cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    pub user: UserDto,
}

/// The languages an account can choose (UI and e-mails).
pub const LANGUAGES: [&str; 2] = ["pl", "en"];

/// Body of `PATCH /api/auth/me`: the caller's own settings. Absent fields
/// stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateMe {
    /// `pl` or `en`: the language of e-mails (and of the web app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(pl|en)$"))]
    pub language: Option<String>,
    /// E-mail notifications about new messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_email_messages: Option<bool>,
}

/// Body of `POST /api/auth/password`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangePassword {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub current_password: String,
    /// 8 to 256 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 256))]
    pub new_password: String,
}
