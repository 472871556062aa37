//! `POST /api/auth/login`, `POST /api/auth/logout`, `GET /api/auth/me`.

use serde::{Deserialize, Serialize};

use super::users::UserDto;

/// Body of `POST /api/auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// Answer of a successful login: the user; the session travels as a cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    pub user: UserDto,
}
