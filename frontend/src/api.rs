//! The one typed client of the server's JSON API (`/api`, same origin).
//!
//! Every call returns `Result<T, ApiError>` with the `shared` DTOs;
//! components call these functions and never build URLs themselves. The
//! session travels as an HttpOnly cookie, which same-origin `fetch` sends by
//! default.

use std::fmt;

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::{Serialize, de::DeserializeOwned};
use shared::dto::auth::{ChangePassword, LoginRequest, LoginResponse, UpdateMe};
use shared::dto::conversations::{
    AddMembers, ConversationDetail, ConversationPage, CreateConversation, MarkRead, ReadState,
    UpdateConversation, UpdateSettings,
};
use shared::dto::messages::{
    AddReaction, AttachmentDto, EditMessage, ForwardMessage, MessageDto, MessagePage, PinDto,
    ReactionsDto, SendMessage,
};
use shared::dto::users::{PresenceDto, UserDto, UserPage};
use shared::{ErrorCode, Problem};

/// Where the API lives, relative to the page's origin.
const API_BASE: &str = "/api";

/// Why an API call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The server answered with a problem document (`application/problem+json`).
    Problem {
        problem: Problem,
        /// Seconds from the `Retry-After` header, when it was sent as a number.
        retry_after: Option<u64>,
    },
    /// The server answered an error status without a problem document, or a
    /// body that is not what the API promises (e.g. a proxy's error page).
    UnexpectedResponse { status: u16 },
    /// The request did not reach the server or its answer never arrived.
    Network(String),
}

impl ApiError {
    /// The problem's stable code, when the server sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Problem { problem, .. } => Some(problem.code),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Problem { problem, .. } => {
                write!(f, "{} ({})", problem.title, problem.code.as_str())
            }
            Self::UnexpectedResponse { status } => write!(f, "unexpected response (HTTP {status})"),
            Self::Network(message) => write!(f, "network error: {message}"),
        }
    }
}

/// `POST /api/auth/login`: checks the credentials; the server sets the
/// session cookie.
pub async fn login(request: &LoginRequest) -> Result<LoginResponse, ApiError> {
    let response = send_json(Request::post(&url("/auth/login")), request).await?;
    read_json(response).await
}

/// `GET /api/auth/me`: the signed-in user, or `unauthenticated`.
pub async fn me() -> Result<UserDto, ApiError> {
    let response = send(Request::get(&url("/auth/me"))).await?;
    read_json(response).await
}

/// `POST /api/auth/logout`: ends the session (204).
pub async fn logout() -> Result<(), ApiError> {
    send(Request::post(&url("/auth/logout"))).await.map(drop)
}

/// `PATCH /api/auth/me`: the caller's own settings (language, e-mails).
pub async fn update_me(request: &UpdateMe) -> Result<UserDto, ApiError> {
    read_json(send_json(Request::patch(&url("/auth/me")), request).await?).await
}

/// `POST /api/auth/password` (204); other sessions of the user end.
pub async fn change_password(request: &ChangePassword) -> Result<(), ApiError> {
    send_json(Request::post(&url("/auth/password")), request)
        .await
        .map(drop)
}

/// `GET /api/conversations`: one page of the caller's conversations (the
/// main list, or the archived ones), most recently active first.
pub async fn conversations(
    archived: bool,
    cursor: Option<&str>,
) -> Result<ConversationPage, ApiError> {
    let mut builder = Request::get(&url("/conversations")).query([("limit", "100")]);
    if archived {
        builder = builder.query([("archived", "true")]);
    }
    if let Some(cursor) = cursor {
        builder = builder.query([("cursor", cursor)]);
    }
    read_json(send(builder).await?).await
}

/// Every page of `GET /api/conversations` (the list filters client-side).
pub async fn all_conversations(archived: bool) -> Result<ConversationPage, ApiError> {
    let mut page = conversations(archived, None).await?;
    // A bounded number of pages: 20 × 100 conversations is plenty for a list.
    for _ in 0..20 {
        let Some(cursor) = page.next_cursor.take() else {
            break;
        };
        let next = conversations(archived, Some(&cursor)).await?;
        page.items.extend(next.items);
        page.next_cursor = next.next_cursor;
    }
    Ok(page)
}

/// `GET /api/conversations/{id}`: details with members and read positions.
pub async fn conversation(id: i64) -> Result<ConversationDetail, ApiError> {
    read_json(send(Request::get(&url(&format!("/conversations/{id}")))).await?).await
}

/// `POST /api/conversations`: a 1:1 (one member, no name; an existing one
/// is returned) or a group.
pub async fn create_conversation(
    request: &CreateConversation,
) -> Result<ConversationDetail, ApiError> {
    read_json(send_json(Request::post(&url("/conversations")), request).await?).await
}

/// `PATCH /api/conversations/{id}/settings`: my mute/archive settings.
pub async fn update_settings(
    id: i64,
    request: &UpdateSettings,
) -> Result<ConversationDetail, ApiError> {
    let builder = Request::patch(&url(&format!("/conversations/{id}/settings")));
    read_json(send_json(builder, request).await?).await
}

/// `PATCH /api/conversations/{id}`: rename a group (owner).
pub async fn update_conversation(
    id: i64,
    request: &UpdateConversation,
) -> Result<ConversationDetail, ApiError> {
    let builder = Request::patch(&url(&format!("/conversations/{id}")));
    read_json(send_json(builder, request).await?).await
}

/// `POST /api/conversations/{id}/members` (owner).
pub async fn add_members(id: i64, user_ids: Vec<i64>) -> Result<ConversationDetail, ApiError> {
    let builder = Request::post(&url(&format!("/conversations/{id}/members")));
    read_json(send_json(builder, &AddMembers { user_ids }).await?).await
}

/// `DELETE /api/conversations/{id}/members/{user_id}`: removes a member
/// (owner) or leaves (my own id).
pub async fn remove_member(id: i64, user_id: i64) -> Result<(), ApiError> {
    send(Request::delete(&url(&format!(
        "/conversations/{id}/members/{user_id}"
    ))))
    .await
    .map(drop)
}

/// `GET /api/conversations/{id}/pins`.
pub async fn pins(id: i64) -> Result<Vec<PinDto>, ApiError> {
    read_json(send(Request::get(&url(&format!("/conversations/{id}/pins")))).await?).await
}

/// `POST /api/messages/{id}/pin`.
pub async fn pin(message_id: i64) -> Result<PinDto, ApiError> {
    read_json(send(Request::post(&url(&format!("/messages/{message_id}/pin")))).await?).await
}

/// `DELETE /api/messages/{id}/pin`.
pub async fn unpin(message_id: i64) -> Result<(), ApiError> {
    send(Request::delete(&url(&format!(
        "/messages/{message_id}/pin"
    ))))
    .await
    .map(drop)
}

/// `POST /api/messages/{id}/forward` into another conversation of mine.
pub async fn forward(message_id: i64, conversation_id: i64) -> Result<MessageDto, ApiError> {
    let builder = Request::post(&url(&format!("/messages/{message_id}/forward")));
    read_json(send_json(builder, &ForwardMessage { conversation_id }).await?).await
}

/// `GET /api/users/presence?ids=1&ids=2` (at most 50 ids a request).
pub async fn presence(ids: &[i64]) -> Result<Vec<PresenceDto>, ApiError> {
    let mut all = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(50) {
        let builder = Request::get(&url("/users/presence"))
            .query(chunk.iter().map(|id| ("ids", id.to_string())));
        all.extend(read_json::<Vec<PresenceDto>>(send(builder).await?).await?);
    }
    Ok(all)
}

/// `POST /api/conversations/{id}/read`: marks everything (or up to
/// `message_id`) read.
pub async fn mark_read(id: i64, message_id: Option<i64>) -> Result<ReadState, ApiError> {
    let body = MarkRead { message_id };
    let builder = Request::post(&url(&format!("/conversations/{id}/read")));
    read_json(send_json(builder, &body).await?).await
}

/// `POST /api/conversations/{id}/typing`.
pub async fn typing(id: i64) -> Result<(), ApiError> {
    send(Request::post(&url(&format!("/conversations/{id}/typing"))))
        .await
        .map(drop)
}

/// `GET /api/conversations/{id}/messages`: newest first, older than
/// `before_id` when given.
pub async fn messages(
    id: i64,
    before_id: Option<i64>,
    limit: u32,
) -> Result<MessagePage, ApiError> {
    let mut builder = Request::get(&url(&format!("/conversations/{id}/messages")))
        .query([("limit", limit.to_string())]);
    if let Some(before_id) = before_id {
        builder = builder.query([("before_id", before_id.to_string())]);
    }
    read_json(send(builder).await?).await
}

/// `GET /api/conversations/{id}/messages/search?q=`: messages containing
/// `q` (any letter case), newest first, older than `before_id` when given.
pub async fn search_messages(
    id: i64,
    q: &str,
    before_id: Option<i64>,
    limit: u32,
) -> Result<MessagePage, ApiError> {
    let mut builder = Request::get(&url(&format!("/conversations/{id}/messages/search")))
        .query([("q", q.to_owned()), ("limit", limit.to_string())]);
    if let Some(before_id) = before_id {
        builder = builder.query([("before_id", before_id.to_string())]);
    }
    read_json(send(builder).await?).await
}

/// `POST /api/conversations/{id}/messages`.
pub async fn send_message(id: i64, request: &SendMessage) -> Result<MessageDto, ApiError> {
    let builder = Request::post(&url(&format!("/conversations/{id}/messages")));
    read_json(send_json(builder, request).await?).await
}

/// `PATCH /api/messages/{id}` (own message, within 24 h).
pub async fn edit_message(id: i64, content: String) -> Result<MessageDto, ApiError> {
    let builder = Request::patch(&url(&format!("/messages/{id}")));
    read_json(send_json(builder, &EditMessage { content }).await?).await
}

/// `DELETE /api/messages/{id}` (own message).
pub async fn delete_message(id: i64) -> Result<(), ApiError> {
    send(Request::delete(&url(&format!("/messages/{id}"))))
        .await
        .map(drop)
}

/// `POST /api/messages/{id}/reactions`.
pub async fn add_reaction(id: i64, emoji: &str) -> Result<ReactionsDto, ApiError> {
    let builder = Request::post(&url(&format!("/messages/{id}/reactions")));
    let body = AddReaction {
        emoji: emoji.to_owned(),
    };
    read_json(send_json(builder, &body).await?).await
}

/// `DELETE /api/messages/{id}/reactions/{emoji}` (the emoji percent-encoded).
pub async fn remove_reaction(id: i64, emoji: &str) -> Result<ReactionsDto, ApiError> {
    let emoji = String::from(js_sys::encode_uri_component(emoji));
    let builder = Request::delete(&url(&format!("/messages/{id}/reactions/{emoji}")));
    read_json(send(builder).await?).await
}

/// `GET /api/users?q=`: the directory, for picking members.
pub async fn users(query: &str) -> Result<UserPage, ApiError> {
    let builder = Request::get(&url("/users")).query([("q", query), ("limit", "20")]);
    read_json(send(builder).await?).await
}

/// One file upload in flight (`POST /api/attachments`), cancellable.
#[derive(Debug, Clone)]
pub struct Upload {
    xhr: web_sys::XmlHttpRequest,
}

impl Upload {
    /// Stops the upload; its `finish` then fails with a network error.
    pub fn abort(&self) {
        let _ = self.xhr.abort();
    }
}

/// Starts uploading one file as `multipart/form-data`, reporting the share
/// sent (0.0–1.0) to `on_progress`. `fetch` has no upload progress, hence
/// XMLHttpRequest. Await the answer with [`finish_upload`].
pub fn start_upload(
    file: &web_sys::File,
    on_progress: impl Fn(f64) + 'static,
) -> Result<(Upload, js_sys::Promise), ApiError> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let js_error = |e: wasm_bindgen::JsValue| ApiError::Network(format!("{e:?}"));
    let xhr = web_sys::XmlHttpRequest::new().map_err(js_error)?;
    xhr.open("POST", &url("/attachments")).map_err(js_error)?;
    xhr.set_request_header("Accept", "application/json")
        .map_err(js_error)?;
    let form = web_sys::FormData::new().map_err(js_error)?;
    form.append_with_blob_and_filename("file", file, &file.name())
        .map_err(js_error)?;
    let progress =
        Closure::<dyn Fn(web_sys::ProgressEvent)>::new(move |ev: web_sys::ProgressEvent| {
            if ev.length_computable() && ev.total() > 0.0 {
                on_progress(ev.loaded() / ev.total());
            }
        });
    xhr.upload()
        .map_err(js_error)?
        .set_onprogress(Some(progress.as_ref().unchecked_ref()));
    // The closure lives as long as the request may call it (the page).
    progress.forget();
    // `loadend` follows success, error, abort and timeout alike.
    let done = js_sys::Promise::new(&mut |resolve, _reject| xhr.set_onloadend(Some(&resolve)));
    xhr.send_with_opt_form_data(Some(&form)).map_err(js_error)?;
    Ok((Upload { xhr }, done))
}

/// The stored attachments of a finished upload, or why it failed (413
/// `payload_too_large` for a file over the server's limit).
pub async fn finish_upload(
    upload: &Upload,
    done: js_sys::Promise,
) -> Result<Vec<AttachmentDto>, ApiError> {
    let _ = wasm_bindgen_futures::JsFuture::from(done).await;
    let xhr = &upload.xhr;
    let status = xhr.status().unwrap_or(0);
    if status == 0 {
        return Err(ApiError::Network("the upload did not complete".into()));
    }
    let body = xhr.response_text().ok().flatten().unwrap_or_default();
    if (200..300).contains(&status) {
        return serde_json::from_str(&body).map_err(|_| ApiError::UnexpectedResponse { status });
    }
    let is_json = xhr
        .get_response_header("content-type")
        .ok()
        .flatten()
        .is_some_and(|v| v.contains("json"));
    match serde_json::from_str::<Problem>(&body) {
        Ok(problem) if is_json => Err(ApiError::Problem {
            problem,
            retry_after: None,
        }),
        _ => Err(ApiError::UnexpectedResponse { status }),
    }
}

/// `POST /api/messages/heartbeat`: keeps the caller online.
pub async fn heartbeat() -> Result<(), ApiError> {
    send(Request::post(&url("/messages/heartbeat")))
        .await
        .map(drop)
}

/// The URL of the event stream (`GET /api/messages/stream`, SSE), for the
/// one `EventSource` of the app.
pub fn event_stream_url() -> String {
    url("/messages/stream")
}

fn url(path: &str) -> String {
    format!("{API_BASE}{path}")
}

async fn send_json<B: Serialize + ?Sized>(
    builder: RequestBuilder,
    body: &B,
) -> Result<Response, ApiError> {
    // `json` also sets `Content-Type: application/json`.
    let request = builder
        .header("Accept", "application/json")
        .json(body)
        .map_err(|e| ApiError::Network(e.to_string()))?;
    check(request.send().await).await
}

async fn send(builder: RequestBuilder) -> Result<Response, ApiError> {
    check(builder.header("Accept", "application/json").send().await).await
}

/// Turns a transport error or an error status into an `ApiError`.
async fn check(result: Result<Response, gloo_net::Error>) -> Result<Response, ApiError> {
    let response = result.map_err(|e| ApiError::Network(e.to_string()))?;
    if response.ok() {
        Ok(response)
    } else {
        Err(error_from(response).await)
    }
}

async fn error_from(response: Response) -> ApiError {
    let status = response.status();
    let headers = response.headers();
    let retry_after = headers
        .get("retry-after")
        .and_then(|value| parse_retry_after(&value));
    let is_json = headers
        .get("content-type")
        .is_some_and(|value| value.contains("json"));
    if is_json && let Ok(problem) = response.json::<Problem>().await {
        return ApiError::Problem {
            problem,
            retry_after,
        };
    }
    ApiError::UnexpectedResponse { status }
}

async fn read_json<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    let status = response.status();
    response
        .json::<T>()
        .await
        .map_err(|_| ApiError::UnexpectedResponse { status })
}

/// `Retry-After` in its delay-seconds form; the HTTP-date form is ignored.
fn parse_retry_after(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after("30"), Some(30));
        assert_eq!(parse_retry_after(" 5 "), Some(5));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn code_only_for_problems() {
        let problem = Problem::new(ErrorCode::InvalidCredentials, None);
        let err = ApiError::Problem {
            problem,
            retry_after: None,
        };
        assert_eq!(err.code(), Some(ErrorCode::InvalidCredentials));
        assert_eq!(ApiError::Network("x".into()).code(), None);
    }
}
