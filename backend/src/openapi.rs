//! The OpenAPI 3.1 description of the HTTP API, served at
//! `/api/openapi.json` and rendered by the reference page at `/api/docs`.
//!
//! The handlers live in `routes/`; this module only describes them. Each
//! endpoint has a documentation-only function here, named like its handler,
//! that carries the `#[utoipa::path]` annotation; the schemas are the
//! `shared` DTOs. Nothing here is ever called to serve a request, and it
//! must never grow behaviour. `tests/api/openapi.rs` scans `routes/*.rs` and
//! fails when a route is added without being described here (or a
//! description outlives its route).

use std::sync::OnceLock;

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
use shared::{ErrorCode, Event, FieldError, Problem};
use utoipa::openapi::Required;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToResponse, ToSchema};

use crate::auth::SESSION_COOKIE;

/// The security scheme names. The operations' `security(...)` attributes
/// repeat them as literals (the macro takes nothing else); the API test
/// checks that every authenticated operation names both.
pub const COOKIE_SCHEME: &str = "session_cookie";
pub const BEARER_SCHEME: &str = "bearer_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Messaging API",
        description = "The HTTP API of the messaging service: conversations (1:1 and groups), \
messages with Markdown content, reactions, pins and the user directory.\n\n\
**Authentication.** The web app signs in with `POST /api/auth/login` and then carries the \
`msg_session` cookie (HttpOnly, SameSite=Lax). A cookie-authenticated request that changes \
state (anything but GET/HEAD/OPTIONS) must send an `Origin` header of an allowed origin, \
otherwise it is refused with 403 `csrf_rejected`. Other clients send a personal API token as \
`Authorization: Bearer <token>` (tokens are issued with `messaging token create`) and \
need no Origin.\n\n\
**Errors** are RFC 9457 `application/problem+json` documents (the `Problem` schema) with a \
stable machine-readable `code` (`ErrorCode`). A conversation or message the caller is not a \
member of answers exactly as one that does not exist: 404 `not_found`. Unknown query \
parameters are refused with 422. Any endpoint may also answer 503 `service_unavailable` when \
the database is unreachable, and 500 `internal` on a server fault.\n\n\
**Real time.** Changes are pushed over `GET /api/messages/stream` as server-sent events \
whose `data` is the `Event` schema (its `type` is also the SSE `event:` name).\n\n\
Timestamps are RFC 3339 in UTC; ids are 64-bit integers."
    ),
    paths(
        auth::login,
        auth::logout,
        auth::me,
        auth::update_me,
        auth::change_password,
        conversations::list,
        conversations::create,
        conversations::detail,
        conversations::update,
        conversations::remove,
        conversations::add_members,
        conversations::remove_member,
        conversations::settings,
        conversations::read,
        messages::page,
        messages::search,
        messages::send,
        messages::edit,
        messages::remove,
        messages::forward,
        reactions::add,
        reactions::remove,
        pins::pin,
        pins::unpin,
        pins::list,
        users::directory,
        stream::stream_events,
        stream::heartbeat,
        stream::typing,
        stream::presence,
        health::healthz,
        health::readyz,
        docs::openapi_json,
        docs::page,
        docs::asset,
        notifications::unsubscribe_page,
        notifications::unsubscribe,
        attachments::upload,
        attachments::download,
        attachments::thumbnail,
    ),
    components(
        schemas(Problem, ErrorCode, FieldError, Event, HealthStatus),
        responses(
            MalformedBody,
            Unauthenticated,
            InvalidCredentials,
            CsrfRejected,
            Forbidden,
            EditRejected,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            ValidationFailed,
            ReactionRejected,
            RateLimited,
            ServiceUnavailable,
            PasswordRejected,
        )
    ),
    modifiers(&SecuritySchemes, &OptionalBodies),
    tags(
        (name = "auth", description = "Signing in and out; the signed-in user."),
        (name = "conversations", description = "1:1 conversations and groups: listing, \
creating, group settings, members, the caller's own settings and read position."),
        (name = "messages", description = "Paging, searching, sending, editing, deleting and \
forwarding messages."),
        (name = "reactions", description = "Emoji reactions on messages (👍 ❤️ 😂 😮 😢 ✅ only)."),
        (name = "pins", description = "Pinned messages of a conversation."),
        (name = "users", description = "The user directory, for picking members."),
        (name = "realtime", description = "The event stream (server-sent events of the `Event` \
schema), presence and typing signals."),
        (name = "ops", description = "Liveness and readiness probes (outside `/api`)."),
        (name = "docs", description = "This description and its browsable reference page."),
        (name = "notifications", description = "The unsubscribe link of notification e-mails \
(signed token, no session)."),
        (name = "attachments", description = "Uploading files, then sending them with a message \
(`attachment_ids`); downloading them and their thumbnails."),
    )
)]
pub struct ApiDoc;

/// Registers the two ways to authenticate.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            COOKIE_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The session cookie set by `POST /api/auth/login` (the web app). \
                 State-changing requests must also send an allowed `Origin` header.",
            ))),
        );
        components.add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A personal API token (`msgp_…`), for clients other than the web app.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Marks the bodies that handlers read with `extract::OptionalJson` as not
/// required. (Declaring them `Option<T>` would document a JSON `null`
/// body, which the handlers refuse.)
struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        // (path of a POST operation)
        let optional = ["/api/conversations/{id}/read"];
        for path in optional {
            let body = openapi
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| item.post.as_mut())
                .and_then(|op| op.request_body.as_mut());
            if let Some(body) = body {
                body.required = Some(Required::False);
            }
        }
    }
}

/// The document as JSON, built once.
pub fn spec_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            // Serialising a tree of plain structs and maps cannot fail; an
            // empty document would still be valid JSON for the page.
            .unwrap_or_else(|_| "{}".to_owned())
    })
}

/// The methods the document gives `path` (`GET, POST`), or None when it is
/// not one of its paths. A `{param}` matches one non-empty segment; a
/// literal segment wins over a parameter (`/api/messages/heartbeat` is not
/// `/api/messages/{id}`).
pub fn allowed_methods(path: &str) -> Option<String> {
    static PATHS: OnceLock<Vec<(Vec<String>, String)>> = OnceLock::new();
    let paths = PATHS.get_or_init(|| {
        ApiDoc::openapi()
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let segments = template.split('/').map(str::to_owned).collect();
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .iter()
                .filter(|(_, on)| *on)
                .map(|(m, _)| *m)
                .collect::<Vec<_>>()
                .join(", ");
                (segments, methods)
            })
            .collect()
    });
    let wanted: Vec<&str> = path.split('/').collect();
    let is_param = |t: &str| t.starts_with('{') && t.ends_with('}');
    paths
        .iter()
        .filter(|(template, _)| {
            template.len() == wanted.len()
                && template
                    .iter()
                    .zip(&wanted)
                    .all(|(t, w)| (is_param(t) && !w.is_empty()) || t == w)
        })
        .min_by_key(|(template, _)| template.iter().filter(|t| is_param(t)).count())
        .map(|(_, methods)| methods.clone())
}

// ---------------------------------------------------------------------------
// Reusable problem+json responses. Each is the `Problem` schema; the
// description names the codes that can come with that status.
// ---------------------------------------------------------------------------

/// `malformed_body`: the body is not valid JSON.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/malformed-body", "title": "Malformed request body",
        "status": 400, "code": "malformed_body",
        "detail": "The body is not valid JSON: EOF while parsing a value at line 1 column 0"})
)]
pub struct MalformedBody(pub Problem);

/// `unauthenticated`: no valid session cookie or bearer token (missing,
/// expired, revoked, or the account is deactivated).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/unauthenticated", "title": "Authentication required",
        "status": 401, "code": "unauthenticated",
        "detail": "Log in, or send an API token as 'Authorization: Bearer <token>'."})
)]
pub struct Unauthenticated(pub Problem);

/// `invalid_credentials`: the e-mail or password is wrong, or the account
/// is deactivated (one answer for all three).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/invalid-credentials",
        "title": "Invalid e-mail or password", "status": 401, "code": "invalid_credentials",
        "detail": "The e-mail or password is wrong."})
)]
pub struct InvalidCredentials(pub Problem);

/// `csrf_rejected`: a cookie-authenticated request that changes state came
/// without an allowed `Origin` (bearer-token requests are never refused so).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/csrf-rejected", "title": "Cross-site request rejected",
        "status": 403, "code": "csrf_rejected",
        "detail": "Requests from origin https://evil.example are not allowed."})
)]
pub struct CsrfRejected(pub Problem);

/// `forbidden`: the caller may not do this (e.g. only the group's owner may);
/// or `csrf_rejected` (see `CsrfRejected`).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/forbidden", "title": "Forbidden", "status": 403,
        "code": "forbidden", "detail": "only the group's owner may do this"})
)]
pub struct Forbidden(pub Problem);

/// `edit_window_closed`: the message is older than 24 hours; `forbidden`:
/// it is not the caller's; or `csrf_rejected`.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/edit-window-closed", "title": "Edit window closed",
        "status": 403, "code": "edit_window_closed",
        "detail": "Messages can be edited only within 24 hours of sending."})
)]
pub struct EditRejected(pub Problem);

/// `not_found`: no such resource, or the caller is not a member of its
/// conversation (the same answer either way, so existence never leaks).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/not-found", "title": "Not found", "status": 404,
        "code": "not_found"})
)]
pub struct NotFound(pub Problem);

/// `conflict`: the state of the resource does not allow this (e.g. a 1:1
/// conversation has no group settings and cannot gain members).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/conflict", "title": "Conflict", "status": 409,
        "code": "conflict", "detail": "a 1:1 conversation cannot gain members"})
)]
pub struct Conflict(pub Problem);

/// `payload_too_large`: the body is larger than the server accepts.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/payload-too-large", "title": "Payload too large",
        "status": 413, "code": "payload_too_large",
        "detail": "The body is larger than 262144 bytes."})
)]
pub struct PayloadTooLarge(pub Problem);

/// `unsupported_media_type`: the body must be sent as
/// `Content-Type: application/json`.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/unsupported-media-type",
        "title": "Unsupported media type", "status": 415, "code": "unsupported_media_type",
        "detail": "Send the body as Content-Type: application/json."})
)]
pub struct UnsupportedMediaType(pub Problem);

/// `validation_failed`: a field of the body or query is missing, of the
/// wrong type or invalid (also an unknown query parameter); `errors` names
/// each one.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/validation-failed", "title": "Validation failed",
        "status": 422, "code": "validation_failed", "detail": "limit: must be 1 to 100",
        "errors": [{"field": "limit", "message": "must be 1 to 100"}]})
)]
pub struct ValidationFailed(pub Problem);

/// `emoji_not_allowed`: only 👍 ❤️ 😂 😮 😢 ✅ are allowed (`errors` lists
/// them); or `validation_failed` for a body of the wrong shape.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/emoji-not-allowed", "title": "Emoji not allowed",
        "status": 422, "code": "emoji_not_allowed", "detail": "This emoji is not allowed.",
        "errors": [{"field": "emoji", "message": "must be one of 👍 ❤️ 😂 😮 😢 ✅"}]})
)]
pub struct ReactionRejected(pub Problem);

/// `rate_limited`: too many requests of this kind (login attempts from this
/// address or for this account, messages or new conversations of this
/// user); retry after the number of seconds in `Retry-After`. Nothing of
/// the refused request was done.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying.")),
    example = json!({"type": "/problems/rate-limited", "title": "Too many requests",
        "status": 429, "code": "rate_limited", "detail": "Too many requests; retry in 60 s."})
)]
pub struct RateLimited(pub Problem);

/// `wrong_password`: the current password given to change it is wrong
/// (the attempt counts like a failed login); or `csrf_rejected`.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/wrong-password", "title": "Wrong password",
        "status": 403, "code": "wrong_password", "detail": "The current password is wrong."})
)]
pub struct PasswordRejected(pub Problem);

/// `service_unavailable`: the database does not answer; retry shortly.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "/problems/service-unavailable", "title": "Service unavailable",
        "status": 503, "code": "service_unavailable",
        "detail": "The database is unreachable."})
)]
pub struct ServiceUnavailable(pub Problem);

/// The raw bytes of a file.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(pub Vec<u8>);

/// The body of `POST /api/attachments`: one or more file parts.
#[derive(ToSchema)]
pub struct UploadForm {
    /// One to ten files, each a part with a `filename` (the part's name
    /// does not matter; `file` is usual).
    #[schema(min_items = 1, max_items = 10)]
    pub file: Vec<Binary>,
}

/// Answer of the health probes.
#[derive(ToSchema)]
pub struct HealthStatus {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    #[schema(example = "ok")]
    pub status: String,
}

// ---------------------------------------------------------------------------
// Query strings. They mirror the `*Query` structs of `routes/`, which refuse
// unknown fields; the API test checks that the names match.
// ---------------------------------------------------------------------------

/// Query of `GET /api/conversations`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationListQuery {
    /// `true` lists the caller's archived conversations instead of the main list.
    #[param(default = json!(false), required = false)]
    pub archived: bool,
    /// `next_cursor` of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// Query of `GET /api/conversations/{id}/messages`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagePageQuery {
    /// Older messages than this id, newest first (scrolling back).
    pub before_id: Option<i64>,
    /// Newer messages than this id, oldest first (catching up); not with `before_id`.
    pub after_id: Option<i64>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// Query of `GET /api/conversations/{id}/messages/search`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageSearchQuery {
    /// Text to find (case-insensitive substring), 1 to 200 characters.
    #[param(min_length = 1, max_length = 200)]
    pub q: String,
    /// Only matches older than this message id (the next page).
    pub before_id: Option<i64>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// Query of `GET /api/messages/stream`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The id of the last event received, for clients that cannot set the
    /// `Last-Event-ID` header (the header wins when both are sent).
    pub last_event_id: Option<String>,
}

/// Query of `GET /api/users`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryQuery {
    /// Prefix of a name, of a word of a name, or of an e-mail
    /// (case-insensitive), at most 100 characters; absent or empty lists
    /// every active user.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// `next_cursor` of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
}

/// Documentation of `routes::auth`.
#[allow(dead_code)]
mod auth {
    use super::*;

    /// Log in
    ///
    /// Checks the e-mail and password and starts a session: the answer sets the
    /// `msg_session` cookie (HttpOnly, SameSite=Lax). A request with a foreign
    /// `Origin` is refused; one without `Origin` (scripts) is accepted. Attempts
    /// are rate-limited per client address and per account.
    #[utoipa::path(
        post,
        path = "/api/auth/login",
        operation_id = "login",
        tag = "auth",
        request_body = LoginRequest,
        responses(
            (status = 200, description = "Logged in; the session cookie is set.", body = LoginResponse,
                headers(("Set-Cookie" = String, description = "`msg_session=…; HttpOnly; SameSite=Lax; Path=/`"))),
            (status = 400, response = MalformedBody),
            (status = 401, response = InvalidCredentials),
            (status = 403, response = CsrfRejected),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 422, response = ValidationFailed),
            (status = 429, response = RateLimited),
        )
    )]
    pub(super) fn login() {}

    /// Log out
    ///
    /// Ends the current session and clears its cookie. With a bearer token it
    /// does nothing (revoke tokens with `messaging token revoke`).
    #[utoipa::path(
        post,
        path = "/api/auth/logout",
        operation_id = "logout",
        tag = "auth",
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 204, description = "Logged out; the cookie is removed."),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
        )
    )]
    pub(super) fn logout() {}

    /// The signed-in user
    #[utoipa::path(
        get,
        path = "/api/auth/me",
        operation_id = "me",
        tag = "auth",
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "The caller.", body = UserDto),
            (status = 401, response = Unauthenticated),
        )
    )]
    pub(super) fn me() {}

    /// Change the signed-in user's settings
    ///
    /// The caller's own settings: the language of e-mails and of the web app
    /// (`pl` or `en`) and e-mail notifications about new messages. Absent
    /// fields stay; an invalid one changes nothing (422 naming it).
    #[utoipa::path(
        patch,
        path = "/api/auth/me",
        operation_id = "update_me",
        tag = "auth",
        security(("session_cookie" = []), ("bearer_token" = [])),
        request_body = UpdateMe,
        responses(
            (status = 200, description = "The caller, updated.", body = UserDto),
            (status = 400, response = MalformedBody),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn update_me() {}

    /// Change the signed-in user's password
    ///
    /// Needs the current password; the new one has 8 to 256 characters (as
    /// `messaging user set-password`). Every other session of the user ends;
    /// the one making the request stays signed in. API tokens stay valid.
    /// Wrong current passwords count against the account's login limit.
    #[utoipa::path(
        post,
        path = "/api/auth/password",
        operation_id = "change_password",
        tag = "auth",
        security(("session_cookie" = []), ("bearer_token" = [])),
        request_body = ChangePassword,
        responses(
            (status = 204, description = "Changed; other sessions have ended."),
            (status = 400, response = MalformedBody),
            (status = 401, response = Unauthenticated),
            (status = 403, response = PasswordRejected),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 422, response = ValidationFailed),
            (status = 429, response = RateLimited),
        )
    )]
    pub(super) fn change_password() {}
}

/// Documentation of `routes::conversations`.
#[allow(dead_code)]
mod conversations {
    use super::*;

    /// List the caller's conversations
    ///
    /// Most recently active first, with unread counts and the last message, in
    /// pages: pass `next_cursor` as `cursor` for the next page (null on the
    /// last one).
    #[utoipa::path(
        get,
        path = "/api/conversations",
        operation_id = "conversations_list",
        tag = "conversations",
        params(ConversationListQuery),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "A page of conversations.", body = ConversationPage),
            (status = 401, response = Unauthenticated),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn list() {}

    /// Create a conversation
    ///
    /// One other member and no name makes a 1:1 conversation; if the caller
    /// already has one with that user, it is returned with 200 instead of a
    /// second being created. Otherwise a group is created with the caller as
    /// its owner. A group has at most MAX_GROUP_MEMBERS members (422); a user
    /// creates at most CONVERSATIONS_PER_HOUR conversations an hour (429).
    #[utoipa::path(
        post,
        path = "/api/conversations",
        operation_id = "conversations_create",
        tag = "conversations",
        request_body = CreateConversation,
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 201, description = "Created.", body = ConversationDetail),
            (status = 200, description = "The existing 1:1 conversation with that user.", body = ConversationDetail),
            (status = 400, response = MalformedBody),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 422, response = ValidationFailed),
            (status = 429, response = RateLimited),
        )
    )]
    pub(super) fn create() {}

    /// A conversation's details
    ///
    /// Members with their roles and read positions, and the caller's settings.
    #[utoipa::path(
        get,
        path = "/api/conversations/{id}",
        operation_id = "conversations_detail",
        tag = "conversations",
        params(("id" = i64, Path, description = "Conversation id.")),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "The conversation.", body = ConversationDetail),
            (status = 401, response = Unauthenticated),
            (status = 404, response = NotFound),
        )
    )]
    pub(super) fn detail() {}

    /// Rename or re-describe a group
    ///
    /// Owner only; absent fields stay as they are, an empty name clears it.
    #[utoipa::path(
        patch,
        path = "/api/conversations/{id}",
        operation_id = "conversations_update",
        tag = "conversations",
        params(("id" = i64, Path, description = "Conversation id.")),
        request_body = UpdateConversation,
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "The updated conversation.", body = ConversationDetail),
            (status = 400, response = MalformedBody),
            (status = 401, response = Unauthenticated),
            (status = 403, response = Forbidden),
            (status = 404, response = NotFound),
            (status = 409, response = Conflict),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn update() {}

    /// Delete a group
    ///
    /// Owner only; deletes it for every member.
    #[utoipa::path(
        delete,
        path = "/api/conversations/{id}",
        operation_id = "conversations_remove",
        tag = "conversations",
        params(("id" = i64, Path, description = "Conversation id.")),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 204, description = "Deleted."),
            (status = 401, response = Unauthenticated),
            (status = 403, response = Forbidden),
            (status = 404, response = NotFound),
            (status = 409, response = Conflict),
        )
    )]
    pub(super) fn remove() {}

    /// Add members to a group
    ///
    /// Owner only; users already in the group are skipped.
    #[utoipa::path(
        post,
        path = "/api/conversations/{id}/members",
        operation_id = "conversations_add_members",
        tag = "conversations",
        params(("id" = i64, Path, description = "Conversation id.")),
        request_body = AddMembers,
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "The conversation with its new members.", body = ConversationDetail),
            (status = 400, response = MalformedBody),
            (status = 401, response = Unauthenticated),
            (status = 403, response = Forbidden),
            (status = 404, response = NotFound),
            (status = 409, response = Conflict),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn add_members() {}

    /// Remove a member, or leave
    ///
    /// The owner removes anyone; any member removes themselves (leaves). A
    /// leaving owner hands ownership to the longest-standing member; the last
    /// member leaving deletes the conversation.
    #[utoipa::path(
        delete,
        path = "/api/conversations/{id}/members/{uid}",
        operation_id = "conversations_remove_member",
        tag = "conversations",
        params(
            ("id" = i64, Path, description = "Conversation id."),
            ("uid" = i64, Path, description = "The member's user id (the caller's own to leave)."),
        ),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 204, description = "Removed."),
            (status = 401, response = Unauthenticated),
            (status = 403, response = Forbidden),
            (status = 404, response = NotFound),
        )
    )]
    pub(super) fn remove_member() {}

    /// Mute or archive a conversation for the caller
    ///
    /// The caller's own settings; absent fields stay as they are.
    #[utoipa::path(
        patch,
        path = "/api/conversations/{id}/settings",
        operation_id = "conversations_settings",
        tag = "conversations",
        params(("id" = i64, Path, description = "Conversation id.")),
        request_body = UpdateSettings,
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "The conversation with the new settings.", body = ConversationDetail),
            (status = 400, response = MalformedBody),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
            (status = 404, response = NotFound),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn settings() {}

    /// Mark a conversation read
    ///
    /// Up to `message_id`, or up to the newest message when the body is empty
    /// or has no `message_id`. The read position never moves backwards.
    #[utoipa::path(
        post,
        path = "/api/conversations/{id}/read",
        operation_id = "conversations_read",
        tag = "conversations",
        params(("id" = i64, Path, description = "Conversation id.")),
        request_body(content = MarkRead, description = "Optional: an empty body marks everything read."),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "The caller's read position.", body = ReadState),
            (status = 400, response = MalformedBody),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
            (status = 404, response = NotFound),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn read() {}
}

/// Documentation of `routes::messages`.
#[allow(dead_code)]
mod messages {
    use super::*;

    /// Page through a conversation's messages
    ///
    /// Without a cursor: the newest messages, newest first. `before_id` pages
    /// back (newest first); `after_id` catches up (oldest first). `has_more`
    /// says whether more lie beyond the page in its direction. Deleted
    /// messages come back as placeholders.
    #[utoipa::path(
        get,
        path = "/api/conversations/{id}/messages",
        operation_id = "messages_page",
        tag = "messages",
        params(("id" = i64, Path, description = "Conversation id."), MessagePageQuery),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "A page of messages.", body = MessagePage),
            (status = 401, response = Unauthenticated),
            (status = 404, response = NotFound),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn page() {}

    /// Search a conversation
    ///
    /// Case-insensitive substring search over message text, newest first,
    /// skipping deleted messages.
    #[utoipa::path(
        get,
        path = "/api/conversations/{id}/messages/search",
        operation_id = "messages_search",
        tag = "messages",
        params(("id" = i64, Path, description = "Conversation id."), MessageSearchQuery),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "A page of matching messages.", body = MessagePage),
            (status = 401, response = Unauthenticated),
            (status = 404, response = NotFound),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn search() {}

    /// Send a message
    ///
    /// `content` is Markdown; the answer carries the sanitized `content_html`
    /// rendered by the server. `client_id` (a UUID chosen by the client) makes
    /// the send idempotent: a retry with the same `client_id` returns the first
    /// message with 200 instead of creating another. Content has at most
    /// 10,000 characters (422). A user sends at most MESSAGES_BURST messages
    /// at once and MESSAGES_PER_MINUTE a minute after that (429 with
    /// `Retry-After`; forwarding counts too).
    #[utoipa::path(
        post,
        path = "/api/conversations/{id}/messages",
        operation_id = "messages_send",
        tag = "messages",
        params(("id" = i64, Path, description = "Conversation id.")),
        request_body = SendMessage,
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 201, description = "Sent.", body = MessageDto),
            (status = 200, description = "Already sent with this `client_id`: the first message.", body = MessageDto),
            (status = 400, response = MalformedBody),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
            (status = 404, response = NotFound),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 422, response = ValidationFailed),
            (status = 429, response = RateLimited),
        )
    )]
    pub(super) fn send() {}

    /// Edit a message
    ///
    /// The caller's own message, within 24 hours of sending.
    #[utoipa::path(
        patch,
        path = "/api/messages/{id}",
        operation_id = "messages_edit",
        tag = "messages",
        params(("id" = i64, Path, description = "Message id.")),
        request_body = EditMessage,
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "The edited message.", body = MessageDto),
            (status = 400, response = MalformedBody),
            (status = 401, response = Unauthenticated),
            (status = 403, response = EditRejected),
            (status = 404, response = NotFound),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn edit() {}

    /// Delete a message
    ///
    /// The sender deletes their own message; a group's owner deletes any. The
    /// message stays as a placeholder without content, reactions or pins.
    /// Deleting a deleted message succeeds.
    #[utoipa::path(
        delete,
        path = "/api/messages/{id}",
        operation_id = "messages_remove",
        tag = "messages",
        params(("id" = i64, Path, description = "Message id.")),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 204, description = "Deleted."),
            (status = 401, response = Unauthenticated),
            (status = 403, response = Forbidden),
            (status = 404, response = NotFound),
        )
    )]
    pub(super) fn remove() {}

    /// Forward a message
    ///
    /// Copies a message the caller can see into another conversation of
    /// theirs, marked as forwarded. A message or target conversation the
    /// caller is not a member of answers the same 404 as one that does not
    /// exist. Counts against the caller's message rate (429).
    #[utoipa::path(
        post,
        path = "/api/messages/{id}/forward",
        operation_id = "messages_forward",
        tag = "messages",
        params(("id" = i64, Path, description = "Id of the message to forward.")),
        request_body = ForwardMessage,
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 201, description = "The new message in the target conversation.", body = MessageDto),
            (status = 400, response = MalformedBody),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
            (status = 404, response = NotFound),
            (status = 409, response = Conflict),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 422, response = ValidationFailed),
            (status = 429, response = RateLimited),
        )
    )]
    pub(super) fn forward() {}
}

/// Documentation of `routes::reactions`.
#[allow(dead_code)]
mod reactions {
    use super::*;

    /// React to a message
    ///
    /// Adds the caller's reaction; adding it again changes nothing. Only
    /// 👍 ❤️ 😂 😮 😢 ✅ are allowed ("❤" and "❤️" are the same).
    #[utoipa::path(
        post,
        path = "/api/messages/{id}/reactions",
        operation_id = "reactions_add",
        tag = "reactions",
        params(("id" = i64, Path, description = "Message id.")),
        request_body = AddReaction,
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "The message's reactions as the caller sees them.", body = ReactionsDto),
            (status = 400, response = MalformedBody),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
            (status = 404, response = NotFound),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 422, response = ReactionRejected),
        )
    )]
    pub(super) fn add() {}

    /// Remove a reaction
    ///
    /// Removes the caller's reaction with this emoji; removing one that is not
    /// there changes nothing.
    #[utoipa::path(
        delete,
        path = "/api/messages/{id}/reactions/{emoji}",
        operation_id = "reactions_remove",
        tag = "reactions",
        params(
            ("id" = i64, Path, description = "Message id."),
            ("emoji" = String, Path, description = "The emoji, percent-encoded (`%F0%9F%91%8D` for 👍).",
                pattern = "^(👍|❤️|❤|😂|😮|😢|✅)$"),
        ),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "The message's reactions as the caller sees them.", body = ReactionsDto),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
            (status = 404, response = NotFound),
            (status = 422, response = ReactionRejected),
        )
    )]
    pub(super) fn remove() {}
}

/// Documentation of `routes::pins`.
#[allow(dead_code)]
mod pins {
    use super::*;

    /// Pin a message
    ///
    /// Any member pins a message of their conversation; pinning it again
    /// changes nothing (the first pinner and time stay).
    #[utoipa::path(
        post,
        path = "/api/messages/{id}/pin",
        operation_id = "pins_pin",
        tag = "pins",
        params(("id" = i64, Path, description = "Message id.")),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "The pin.", body = PinDto),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
            (status = 404, response = NotFound),
        )
    )]
    pub(super) fn pin() {}

    /// Unpin a message
    ///
    /// Unpinning a message that is not pinned changes nothing.
    #[utoipa::path(
        delete,
        path = "/api/messages/{id}/pin",
        operation_id = "pins_unpin",
        tag = "pins",
        params(("id" = i64, Path, description = "Message id.")),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 204, description = "Unpinned."),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
            (status = 404, response = NotFound),
        )
    )]
    pub(super) fn unpin() {}

    /// A conversation's pinned messages
    ///
    /// Newest pin first; deleted messages are never listed.
    #[utoipa::path(
        get,
        path = "/api/conversations/{id}/pins",
        operation_id = "pins_list",
        tag = "pins",
        params(("id" = i64, Path, description = "Conversation id.")),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "The pins.", body = Vec<PinDto>),
            (status = 401, response = Unauthenticated),
            (status = 404, response = NotFound),
        )
    )]
    pub(super) fn list() {}
}

/// Documentation of `routes::users`.
#[allow(dead_code)]
mod users {
    use super::*;

    /// The user directory
    ///
    /// Active users whose name, a word of their name or e-mail starts with `q`
    /// (case-insensitive), ordered by name, in pages: pass `next_cursor` as
    /// `cursor` for the next page.
    #[utoipa::path(
        get,
        path = "/api/users",
        operation_id = "users_directory",
        tag = "users",
        params(DirectoryQuery),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "A page of users.", body = UserPage),
            (status = 401, response = Unauthenticated),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn directory() {}
}

/// Documentation of `routes::stream`.
#[allow(dead_code)]
mod stream {
    use super::*;

    /// The event stream
    ///
    /// Server-sent events for the caller: first `connected`, then the events
    /// missed since `Last-Event-ID` (or `resync` when they are older than the
    /// replay window: refetch state), then live events. Each event's `event:`
    /// name is its `type` and its `data:` is one `Event` as JSON; `id:` is
    /// the value to resume from. A comment every 20 s keeps the connection
    /// open; a client too slow to keep up is disconnected and resumes with
    /// `Last-Event-ID`.
    #[utoipa::path(
        get,
        path = "/api/messages/stream",
        operation_id = "stream_events",
        tag = "realtime",
        params(
            ("Last-Event-ID" = Option<String>, Header, description = "The `id:` of the last event received; the stream replays what came after it."),
            StreamQuery,
        ),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "An endless `text/event-stream`; each `data:` is one `Event`.",
                content_type = "text/event-stream", body = Event),
            (status = 401, response = Unauthenticated),
        )
    )]
    pub(super) fn stream_events() {}

    /// Stay online
    ///
    /// Keeps the caller online for clients that hold no event stream open.
    /// One heartbeat per user per sixth of PRESENCE_TTL_SECS (10 s by
    /// default) is taken into account; more are accepted and ignored.
    #[utoipa::path(
        post,
        path = "/api/messages/heartbeat",
        operation_id = "stream_heartbeat",
        tag = "realtime",
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 204, description = "Noted."),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
        )
    )]
    pub(super) fn heartbeat() {}

    /// Signal typing
    ///
    /// Tells the conversation's other members (a `typing` event) that the
    /// caller is typing; at most one signal per 2 s is passed on, extra calls
    /// are accepted and ignored.
    #[utoipa::path(
        post,
        path = "/api/conversations/{id}/typing",
        operation_id = "stream_typing",
        tag = "realtime",
        params(("id" = i64, Path, description = "Conversation id.")),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 204, description = "Noted."),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
            (status = 404, response = NotFound),
        )
    )]
    pub(super) fn typing() {}

    /// Users' presence
    ///
    /// Whether each of 1 to 50 users is online, and when they were last
    /// seen. Only the caller and the people who share a conversation with
    /// them are answered; anyone else, and unknown or deactivated users, are
    /// left out of the answer.
    #[utoipa::path(
        get,
        path = "/api/users/presence",
        operation_id = "stream_presence",
        tag = "realtime",
        params(
            ("ids" = Vec<i64>, Query, description = "User ids, 1 to 50: repeated (`ids=1&ids=2`) or comma-separated (`ids=1,2`).",
                style = Form, explode),
        ),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "Presence of the known users, in the order asked.", body = Vec<PresenceDto>),
            (status = 401, response = Unauthenticated),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn presence() {}
}

/// Documentation of `routes::health`.
#[allow(dead_code)]
mod health {
    use super::*;

    /// Liveness
    ///
    /// The process is up and serving HTTP; nothing else is checked.
    #[utoipa::path(
        get,
        path = "/healthz",
        operation_id = "healthz",
        tag = "ops",
        responses(
            (status = 200, description = "Up.", body = HealthStatus,
                example = json!({"status": "ok"})),
        )
    )]
    pub(super) fn healthz() {}

    /// Readiness
    ///
    /// The database answers within 3 seconds.
    #[utoipa::path(
        get,
        path = "/readyz",
        operation_id = "readyz",
        tag = "ops",
        responses(
            (status = 200, description = "Ready.", body = HealthStatus,
                example = json!({"status": "ready"})),
            (status = 503, response = ServiceUnavailable),
        )
    )]
    pub(super) fn readyz() {}
}

/// Documentation of `routes::docs`.
#[allow(dead_code)]
mod docs {
    use super::*;

    /// This OpenAPI document
    #[utoipa::path(
        get,
        path = "/api/openapi.json",
        operation_id = "openapi_json",
        tag = "docs",
        responses(
            (status = 200, description = "The OpenAPI 3.1 description of this API.",
                content_type = "application/json", body = Object),
        )
    )]
    pub(super) fn openapi_json() {}

    /// The API reference page
    ///
    /// A browsable rendering of this document (Swagger UI, served by the app
    /// itself).
    #[utoipa::path(
        get,
        path = "/api/docs",
        operation_id = "docs_page",
        tag = "docs",
        responses(
            (status = 200, description = "The reference page.", content_type = "text/html", body = String),
        )
    )]
    pub(super) fn page() {}

    /// A file of the reference page
    ///
    /// Scripts, styles and icons that `/api/docs` loads.
    #[utoipa::path(
        get,
        path = "/api/docs/{file}",
        operation_id = "docs_asset",
        tag = "docs",
        params(("file" = String, Path, description = "File name, e.g. `swagger-ui-bundle.js`.")),
        responses(
            (status = 200, description = "The file.", content(
                (String = "text/javascript"),
                (String = "text/css"),
                (Binary = "image/png"),
            )),
            (status = 404, response = NotFound),
        )
    )]
    pub(super) fn asset() {}
}

/// Query of `/api/notifications/unsubscribe`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnsubscribeQuery {
    /// The signed token from the e-mail's link (`<user id>.<signature>`).
    pub token: String,
}

/// Documentation of `routes::notifications`.
#[allow(dead_code)]
mod notifications {
    use super::*;

    /// Unsubscribe page
    ///
    /// The page an unsubscribe link in a notification e-mail opens: asks
    /// for confirmation with a button (which POSTs to the same URL) and
    /// changes nothing by itself, so link scanners cannot unsubscribe
    /// anyone. Polish, or English for users who chose it.
    #[utoipa::path(
        get,
        path = "/api/notifications/unsubscribe",
        operation_id = "notifications_unsubscribe_page",
        tag = "notifications",
        params(UnsubscribeQuery),
        responses(
            (status = 200, description = "The confirmation page (or a note that notifications are already off).",
                content_type = "text/html", body = String),
            (status = 404, response = NotFound),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn unsubscribe_page() {}

    /// Unsubscribe (one click)
    ///
    /// Turns the token's user's e-mail notifications off. This is the RFC
    /// 8058 one-click target named by the mails' `List-Unsubscribe` and
    /// `List-Unsubscribe-Post` headers: mail clients POST
    /// `List-Unsubscribe=One-Click` (the body is accepted and not needed).
    /// The token authenticates, so no session or Origin is required.
    /// Repeating it is harmless.
    #[utoipa::path(
        post,
        path = "/api/notifications/unsubscribe",
        operation_id = "notifications_unsubscribe",
        tag = "notifications",
        params(UnsubscribeQuery),
        responses(
            (status = 200, description = "Notifications are off; a short confirmation page.",
                content_type = "text/html", body = String),
            (status = 404, response = NotFound),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn unsubscribe() {}
}

/// Documentation of `routes::attachments`.
#[allow(dead_code)]
mod attachments {
    use super::*;

    /// Upload files
    ///
    /// Stores one to ten files (`multipart/form-data`, each part with a
    /// `filename`) as the caller's unattached uploads; send them with a
    /// message by listing their ids in `attachment_ids` (at most 10 per
    /// message). The type is sniffed from the bytes, never taken from the
    /// client; the file name is kept for display without directories or
    /// control characters. Each file may be at most MAX_UPLOAD_BYTES (25 MiB
    /// by default): a larger one answers 413 and nothing of the request is
    /// kept. Images get a thumbnail shortly after (`thumbnail_url`, `width`
    /// and `height` then appear). Uploads not attached to a message within
    /// ATTACHMENT_RETENTION (24 h by default) are removed.
    #[utoipa::path(
        post,
        path = "/api/attachments",
        operation_id = "attachments_upload",
        tag = "attachments",
        request_body(content = UploadForm, content_type = "multipart/form-data"),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 201, description = "The stored uploads, in the order sent.", body = Vec<AttachmentDto>),
            (status = 400, response = MalformedBody),
            (status = 401, response = Unauthenticated),
            (status = 403, response = CsrfRejected),
            (status = 413, response = PayloadTooLarge),
            (status = 415, response = UnsupportedMediaType),
            (status = 422, response = ValidationFailed),
        )
    )]
    pub(super) fn upload() {}

    /// Download a file
    ///
    /// The file's bytes with the sniffed `Content-Type`. Images, PDF and
    /// plain text come `inline`; everything else (HTML, SVG, scripts,
    /// executables, unknown bytes) as an `attachment` download. Every
    /// answer carries `X-Content-Type-Options: nosniff` and
    /// `Content-Security-Policy: default-src 'none'; sandbox`; the name is in
    /// `Content-Disposition` (`filename*` in UTF-8). Readable by the uploader
    /// while unattached, then by the current members of the message's
    /// conversation; not after the message is deleted.
    #[utoipa::path(
        get,
        path = "/api/attachments/{id}",
        operation_id = "attachments_download",
        tag = "attachments",
        params(
            ("id" = i64, Path, description = "Attachment id."),
            ("If-None-Match" = Option<String>, Header, description = "An `ETag` received before: 304 if unchanged."),
        ),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "The file, with its sniffed type (`image/png`, `text/plain`, \
`application/pdf`, `application/octet-stream`…).", content_type = "*/*", body = Binary,
                headers(
                    ("Content-Disposition" = String, description = "`inline` or `attachment`, with `filename` and `filename*`."),
                    ("ETag" = String, description = "Never changes for an id."),
                )),
            (status = 304, description = "Not modified."),
            (status = 401, response = Unauthenticated),
            (status = 404, response = NotFound),
        )
    )]
    pub(super) fn download() {}

    /// Download a thumbnail
    ///
    /// A JPEG of an image attachment at most 480 pixels on its longest
    /// side. 404 until it has been made (shortly after the upload), and for
    /// files that are not images.
    #[utoipa::path(
        get,
        path = "/api/attachments/{id}/thumbnail",
        operation_id = "attachments_thumbnail",
        tag = "attachments",
        params(
            ("id" = i64, Path, description = "Attachment id."),
            ("If-None-Match" = Option<String>, Header, description = "An `ETag` received before: 304 if unchanged."),
        ),
        security(("session_cookie" = []), ("bearer_token" = [])),
        responses(
            (status = 200, description = "The thumbnail.", content_type = "image/jpeg", body = Binary),
            (status = 304, description = "Not modified."),
            (status = 401, response = Unauthenticated),
            (status = 404, response = NotFound),
        )
    )]
    pub(super) fn thumbnail() {}
}
