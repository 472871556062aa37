//! `POST /api/auth/login`, `POST /api/auth/logout`, `GET /api/auth/me`,
//! `PATCH /api/auth/me` (own settings), `POST /api/auth/password`.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use shared::dto::auth::{ChangePassword, LoginRequest, LoginResponse, UpdateMe};
use shared::dto::users::UserDto;
use shared::{ErrorCode, FieldError};

use crate::auth::{AuthUser, SESSION_COOKIE, csrf, extractor::AuthVia, password, sessions, token};
use crate::domain::users::{self as users_domain, MAX_PASSWORD_LEN};
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login)
        .service(logout)
        .service(me)
        .service(update_me)
        .service(change_password);
}

/// The client IP for rate limits: the socket peer, or the proxy's
/// forwarded address when the operator said the proxy is trusted.
fn client_ip(req: &HttpRequest, trust_proxy: bool) -> String {
    let info = req.connection_info();
    let ip = if trust_proxy {
        info.realip_remote_addr().map(str::to_owned)
    } else {
        req.peer_addr().map(|a| a.ip().to_string())
    };
    ip.unwrap_or_else(|| "unknown".into())
}

fn session_cookie(st: &AppState, value: String, max_age_days: i64) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(st.config.secure_cookies)
        .max_age(CookieDuration::days(max_age_days))
        .finish()
}

#[post("/auth/login")]
async fn login(
    req: HttpRequest,
    body: Json<LoginRequest>,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    csrf::check_if_present(&req, &st.config.allowed_origins)?;
    let LoginRequest { email, password } = body.into_inner();
    let mut errors = Vec::new();
    if email.trim().is_empty() {
        errors.push(FieldError {
            field: "email".into(),
            message: "is required".into(),
        });
    }
    if password.is_empty() {
        errors.push(FieldError {
            field: "password".into(),
            message: "is required".into(),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }

    let ip_key = format!(
        "login:ip:{}",
        client_ip(&req, st.settings.trust_proxy_headers)
    );
    let account_key = format!("login:account:{}", users_domain::normalize_email(&email));
    let limiter = &st.limiter;
    let account_rate = st.settings.login_account_rate();
    limiter
        .acquire(&ip_key, st.settings.login_ip_rate())
        .await
        .map_err(|r| ApiError::rate_limited(r.0))?;
    limiter
        .check(&account_key, account_rate)
        .await
        .map_err(|r| ApiError::rate_limited(r.0))?;

    // Over-long passwords are refused without hashing them (no CPU bomb),
    // but with the same answer as a wrong password.
    let user = users_domain::find_by_email(&st.db, &email).await?;
    let ok = password.chars().count() <= MAX_PASSWORD_LEN
        && password::verify_blocking(
            user.as_ref().and_then(|u| u.password_hash.clone()),
            password,
        )
        .await;
    let user = match user {
        Some(u) if ok && u.is_active => u,
        _ => {
            limiter.hit(&account_key, account_rate).await;
            tracing::info!(account = %account_key, "login failed");
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "The e-mail or password is wrong.",
            ));
        }
    };
    limiter.reset(&account_key).await;

    let ttl_days = i64::from(st.settings.session_ttl_days);
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let value = sessions::create(
        &st.db,
        user.id,
        chrono::Duration::days(ttl_days),
        user_agent,
        Some(client_ip(&req, st.settings.trust_proxy_headers)),
    )
    .await?;
    tracing::info!(user_id = user.id, "logged in");
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(&st, value, ttl_days))
        .json(LoginResponse { user: user.into() }))
}

#[post("/auth/logout")]
async fn logout(user: AuthUser, st: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut res = HttpResponse::NoContent();
    if let AuthVia::Session(value) = &user.via {
        sessions::delete(&st.db, value).await?;
        let mut gone = session_cookie(&st, String::new(), 0);
        gone.make_removal();
        res.cookie(gone);
    }
    Ok(res.finish())
}

#[get("/auth/me")]
async fn me(user: AuthUser) -> web::Json<UserDto> {
    web::Json(user.user.into())
}

#[patch("/auth/me")]
async fn update_me(
    user: AuthUser,
    body: Json<UpdateMe>,
    st: web::Data<AppState>,
) -> Result<web::Json<UserDto>, ApiError> {
    let updated = users_domain::update_me(&st.db, user.id(), body.into_inner()).await?;
    Ok(web::Json(updated.into()))
}

#[post("/auth/password")]
async fn change_password(
    user: AuthUser,
    body: Json<ChangePassword>,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let ChangePassword {
        current_password,
        new_password,
    } = body.into_inner();
    // Wrong current passwords count against the account like failed
    // logins, so a stolen session cannot guess its way to the password.
    let account_key = format!("login:account:{}", user.user.email);
    let limiter = &st.limiter;
    let account_rate = st.settings.login_account_rate();
    limiter
        .check(&account_key, account_rate)
        .await
        .map_err(|r| ApiError::rate_limited(r.0))?;
    let keep = match &user.via {
        AuthVia::Session(value) => Some(token::hash(value)),
        AuthVia::Token(_) => None,
    };
    let result =
        users_domain::change_password(&st.db, &user.user, keep, current_password, new_password)
            .await;
    match result {
        Err(crate::domain::DomainError::WrongPassword) => {
            limiter.hit(&account_key, account_rate).await;
            tracing::info!(
                user_id = user.id(),
                "password change: wrong current password"
            );
            Err(crate::domain::DomainError::WrongPassword.into())
        }
        Err(e) => Err(e.into()),
        Ok(()) => {
            limiter.reset(&account_key).await;
            tracing::info!(user_id = user.id(), "password changed");
            Ok(HttpResponse::NoContent().finish())
        }
    }
}
