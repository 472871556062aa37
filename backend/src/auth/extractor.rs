//! `AuthUser`: the authenticated caller of a request, from a bearer token
//! or the session cookie (with the CSRF check for state-changing requests).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use super::{SESSION_COOKIE, api_tokens, csrf, sessions};
use crate::db::entities::users;
use crate::error::ApiError;
use crate::state::AppState;

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVia {
    /// The cookie value of the session.
    Session(String),
    /// The SHA-256 hash of the bearer token (as stored).
    Token(String),
}

#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: users::Model,
    pub via: AuthVia,
}

impl AuthUser {
    pub fn id(&self) -> i64 {
        self.user.id
    }

    pub fn brief(&self) -> shared::dto::users::UserBrief {
        shared::dto::users::UserBrief {
            id: self.user.id,
            name: self.user.name.clone(),
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<Result<String, ApiError>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let parsed = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(ApiError::unauthenticated);
    Some(parsed)
}

async fn authenticate(req: HttpRequest) -> Result<AuthUser, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("AppState missing"))?;
    if let Some(token) = bearer(&req) {
        let token = token?;
        return match api_tokens::user_for(&state.db, &token).await? {
            Some(user) => Ok(AuthUser {
                user,
                via: AuthVia::Token(super::token::hash(&token)),
            }),
            None => Err(ApiError::unauthenticated()),
        };
    }
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Err(ApiError::unauthenticated());
    };
    let value = cookie.value().to_owned();
    let user = sessions::user_for(&state.db, &value)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    csrf::check(&req, &state.config.allowed_origins)?;
    Ok(AuthUser {
        user,
        via: AuthVia::Session(value),
    })
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}
