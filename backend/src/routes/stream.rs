//! Real time over Server-Sent Events: `GET /api/messages/stream`, plus the
//! small signals around it (heartbeat, typing, presence lookup).
//!
//! A stream starts with a `retry:` hint and a `connected` event, then the
//! events missed since `Last-Event-ID` (or `resync` when they are beyond the
//! replay window), then live events; a comment every 20 s (SSE_KEEP_ALIVE_SECS) keeps proxies from
//! closing it (and notices clients that vanished). A client too slow to keep up is disconnected and resumes by
//! `Last-Event-ID`: its queue never grows without bound.

use std::collections::VecDeque;
use std::time::Duration;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, Responder, get, post, web};
use actix_web_lab::sse;
use futures_util::stream;
use serde::Deserialize;
use shared::Event;
use shared::dto::users::PresenceDto;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::AuthUser;
use crate::auth::extractor::AuthVia;
use crate::domain::presence as domain;
use crate::error::ApiError;
use crate::realtime::streams::Credential;
use crate::realtime::{Envelope, Live};
use crate::state::AppState;

pub const RETRY: Duration = Duration::from_secs(3);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(stream_events)
        .service(heartbeat)
        .service(typing)
        .service(presence);
}

fn frame(env: &Envelope) -> sse::Event {
    let data = sse::Data::new(env.data.clone()).event(env.kind.clone());
    // Control events (a bus-level `resync`) carry no id: the client's
    // Last-Event-ID stays where it was.
    if env.id.is_empty() {
        sse::Event::Data(data)
    } else {
        sse::Event::Data(data.id(env.id.clone()))
    }
}

fn control(event: &Event) -> sse::Event {
    frame(&Envelope::new(String::new(), event))
}

/// Ends the user's session in presence when the stream goes away.
struct SessionGuard {
    st: AppState,
    user_id: i64,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.st.presence.stream_closed(self.user_id);
    }
}

struct StreamState {
    queue: VecDeque<sse::Event>,
    live: Live,
    shutdown: tokio::sync::watch::Receiver<bool>,
    /// Ends the stream when access is lost (deactivated, logged out, token
    /// revoked).
    access: crate::realtime::streams::Registration,
    _session: SessionGuard,
    _open: crate::metrics::OpenStream,
}

#[derive(Debug, Deserialize)]
pub struct StreamQuery {
    /// For clients that cannot set the `Last-Event-ID` header.
    pub last_event_id: Option<String>,
}

#[get("/messages/stream")]
async fn stream_events(
    req: HttpRequest,
    user: AuthUser,
    q: web::Query<StreamQuery>,
    st: web::Data<AppState>,
) -> impl Responder {
    let user_id = user.id();
    let credential = match &user.via {
        AuthVia::Session(value) => Credential::Session(crate::auth::token::hash(value)),
        AuthVia::Token(hash) => Credential::Token(hash.clone()),
    };
    let last_id = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| q.into_inner().last_event_id)
        .filter(|s| !s.trim().is_empty());
    let opened = st.bus.open(user_id, last_id.as_deref()).await;
    let keep_alive = Duration::from_secs(st.settings.sse_keep_alive_secs);
    let st = st.get_ref().clone();
    if let Some(came) = st.presence.stream_opened(user_id) {
        let st2 = st.clone();
        actix_web::rt::spawn(async move {
            if let Some(change) = came.await
                && let Err(e) = domain::announce(&st2, change).await
            {
                tracing::warn!(error = %e, "presence announcement failed");
            }
        });
    }
    let mut queue = VecDeque::with_capacity(opened.replay.len() + 2);
    queue.push_back(control(&Event::Connected { user_id }));
    if opened.resync {
        queue.push_back(control(&Event::Resync {}));
    }
    queue.extend(opened.replay.iter().map(|e| frame(e)));
    st.metrics.delivered("replay", opened.replay.len() as u64);
    let state = StreamState {
        queue,
        live: opened.live,
        shutdown: st.shutdown.subscribe(),
        access: st.streams.register(user_id, credential),
        _open: st.metrics.stream_opened(),
        _session: SessionGuard { st, user_id },
    };
    let events = stream::unfold(state, |mut s| async move {
        if let Some(ev) = s.queue.pop_front() {
            return Some((ev, s));
        }
        let received = tokio::select! {
            r = s.live.recv() => r,
            // The server is stopping: end the stream; the client reconnects.
            _ = s.shutdown.wait_for(|stopping| *stopping) => return None,
            // Access lost meanwhile: nothing more for this client.
            _ = s.access.closed() => return None,
        };
        match received {
            Ok(env) => {
                // A bus-level `resync` (no id) is control, not an event.
                if !env.id.is_empty() {
                    s._session.st.metrics.delivered("live", 1);
                }
                Some((frame(&env), s))
            }
            // Too slow: close; the client resumes by Last-Event-ID.
            Err(RecvError::Lagged(n)) => {
                s._session.st.metrics.dropped_slow(n);
                tracing::info!(
                    user_id = s._session.user_id,
                    missed = n,
                    "slow stream closed"
                );
                None
            }
            Err(RecvError::Closed) => None,
        }
    });
    let mut res = sse::Sse::from_infallible_stream(events)
        .with_retry_duration(RETRY)
        .with_keep_alive(keep_alive)
        .respond_to(&req);
    res.headers_mut().insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

#[post("/messages/heartbeat")]
async fn heartbeat(user: AuthUser, st: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    domain::heartbeat(&st, user.id()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[post("/conversations/{id}/typing")]
async fn typing(
    user: AuthUser,
    id: web::Path<i64>,
    st: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    domain::typing(&st, user.id(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[get("/users/presence")]
async fn presence(
    user: AuthUser,
    req: HttpRequest,
    st: web::Data<AppState>,
) -> Result<web::Json<Vec<PresenceDto>>, ApiError> {
    // `ids=1&ids=2` (repeated) or `ids=1,2`.
    let mut ids = Vec::new();
    for pair in req.query_string().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k != "ids" {
            return Err(ApiError::invalid(k, "unknown parameter"));
        }
        for part in v.split([',', '+']).filter(|p| !p.is_empty()) {
            let id = part
                .parse::<i64>()
                .map_err(|_| ApiError::invalid("ids", "must be user ids (integers)"))?;
            ids.push(id);
        }
    }
    Ok(web::Json(domain::lookup(&st, user.id(), &ids).await?))
}
