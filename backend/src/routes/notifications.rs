//! `GET/POST /api/notifications/unsubscribe?token=…`: the unsubscribe link
//! of notification e-mails. GET shows a small confirmation page with a
//! button and changes nothing (mail scanners open links); POST turns the
//! user's e-mail notifications off — it is also the RFC 8058 one-click
//! target mail clients call. The signed token is the authentication, so
//! neither needs a session or a CSRF check. A bad token gets 422 and
//! changes nothing.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;

use crate::domain::notify as domain;
use crate::error::ApiError;
use crate::jobs::notify::mail::Lang;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(unsubscribe_page).service(unsubscribe);
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeQuery {
    pub token: String,
}

fn user_of(st: &AppState, token: &str) -> Result<i64, ApiError> {
    st.mailer
        .key
        .verify(token)
        .ok_or_else(|| ApiError::invalid("token", "is not a valid unsubscribe link"))
}

#[get("/notifications/unsubscribe")]
async fn unsubscribe_page(
    q: web::Query<UnsubscribeQuery>,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user_id = user_of(&st, &q.token)?;
    let (language, on) = domain::email_settings(&st.db, user_id).await?;
    Ok(page(
        Lang::of(&language),
        if on {
            Page::Confirm(&q.token)
        } else {
            Page::AlreadyOff
        },
    ))
}

#[post("/notifications/unsubscribe")]
async fn unsubscribe(
    q: web::Query<UnsubscribeQuery>,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user_id = user_of(&st, &q.token)?;
    domain::unsubscribe(&st.db, user_id).await?;
    let (language, _) = domain::email_settings(&st.db, user_id).await?;
    tracing::info!(
        user_id,
        "e-mail notifications turned off by the unsubscribe link"
    );
    Ok(page(Lang::of(&language), Page::Done))
}

enum Page<'a> {
    Confirm(&'a str),
    AlreadyOff,
    Done,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(lang: Lang, which: Page<'_>) -> HttpResponse {
    let (code, title) = match lang {
        Lang::Pl => ("pl", "Powiadomienia e-mail"),
        Lang::En => ("en", "E-mail notifications"),
    };
    let body = match (lang, which) {
        (Lang::Pl, Page::Confirm(token)) => format!(
            "<h1>Wyłączyć powiadomienia e-mail?</h1>\
             <p>Nie będziesz już dostawać e-maili o nowych wiadomościach.</p>\
             <form method=\"post\" action=\"?token={}\">\
             <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
             <button type=\"submit\">Wyłącz powiadomienia</button></form>",
            escape(token)
        ),
        (Lang::En, Page::Confirm(token)) => format!(
            "<h1>Turn e-mail notifications off?</h1>\
             <p>You will no longer get e-mails about new messages.</p>\
             <form method=\"post\" action=\"?token={}\">\
             <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
             <button type=\"submit\">Turn notifications off</button></form>",
            escape(token)
        ),
        (Lang::Pl, Page::AlreadyOff) => "<h1>Powiadomienia e-mail są wyłączone</h1>\
             <p>Nie dostajesz e-maili o nowych wiadomościach.</p>"
            .to_owned(),
        (Lang::En, Page::AlreadyOff) => "<h1>E-mail notifications are off</h1>\
             <p>You get no e-mails about new messages.</p>"
            .to_owned(),
        (Lang::Pl, Page::Done) => "<h1>Powiadomienia e-mail wyłączone</h1>\
             <p>Nie będziesz już dostawać e-maili o nowych wiadomościach.</p>"
            .to_owned(),
        (Lang::En, Page::Done) => "<h1>E-mail notifications turned off</h1>\
             <p>You will no longer get e-mails about new messages.</p>"
            .to_owned(),
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ))
        .body(format!(
            "<!doctype html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head>\
             <body style=\"font-family:Arial,Helvetica,sans-serif;max-width:32em;margin:3em auto;padding:0 1em\">\
             <main>{body}</main></body></html>\n"
        ))
}
