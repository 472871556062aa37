//! Messages: sending (idempotent by `client_id`), paging, editing within
//! 24 h, soft deletion, forwarding, search, and turning rows into DTOs in a
//! fixed number of statements (`to_dtos`).

use std::collections::{HashMap, HashSet};

use chrono::{Duration, Utc};
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use shared::Event;
use shared::dto::messages::{
    AttachmentDto, LinkPreview, MAX_MESSAGE_CHARS, MessageDto, MessagePage, ReactionSummary,
    ReplyPreview, SendMessage,
};
use shared::dto::users::UserBrief;

use super::conversations::{DEFAULT_PAGE, MAX_PAGE, member_ids, membership};
use super::send::{NewMessage, Stored, store};
use super::{DomainError, render};
use crate::db::entities::{
    conv_messages, conversation_members as members, conversations as convs, message_attachments,
    message_pins, message_reactions, users,
};
use crate::state::AppState;

/// Messages can be edited this long after sending.
pub const EDIT_WINDOW: Duration = Duration::hours(24);
pub const MAX_ATTACHMENTS: usize = 10;
pub const MAX_SEARCH_CHARS: usize = 200;

/// Trimmed content within the limits; empty only when attachments carry it.
pub fn validate_content(content: &str, has_attachments: bool) -> Result<String, DomainError> {
    let c = content.trim();
    if c.is_empty() && !has_attachments {
        return Err(DomainError::invalid("content", "must not be empty"));
    }
    if c.chars().count() > MAX_MESSAGE_CHARS {
        return Err(DomainError::invalid(
            "content",
            format!("must have at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    Ok(c.to_owned())
}

/// The message and the caller's membership of its conversation; `NotFound`
/// for a message the caller cannot see.
pub async fn message_for(
    db: &impl ConnectionTrait,
    user_id: i64,
    message_id: i64,
) -> Result<(conv_messages::Model, members::Model), DomainError> {
    let msg = conv_messages::Entity::find_by_id(message_id)
        .one(db)
        .await?
        .ok_or(DomainError::NotFound)?;
    let m = membership(db, msg.conversation_id, user_id).await?;
    Ok((msg, m))
}

/// Like `message_for`, but a deleted message is `NotFound` too (nothing can
/// be edited, reacted to, pinned or forwarded once it is gone).
pub async fn live_message_for(
    db: &impl ConnectionTrait,
    user_id: i64,
    message_id: i64,
) -> Result<conv_messages::Model, DomainError> {
    let (msg, _) = message_for(db, user_id, message_id).await?;
    if msg.is_deleted {
        return Err(DomainError::NotFound);
    }
    Ok(msg)
}

/// Which related rows `to_dtos_with` must look up.
#[derive(Debug, Clone)]
struct Lookups {
    reactions: bool,
    attachments: bool,
    /// A user whose name the caller already has (the sender of a message
    /// sent just now): not looked up again.
    known: Option<UserBrief>,
}

/// A 422 on `field` unless `message_id` is a message of the conversation
/// (and, with `live_only`, not deleted).
pub async fn require_in_conversation(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    message_id: i64,
    field: &str,
    live_only: bool,
) -> Result<(), DomainError> {
    let mut q = conv_messages::Entity::find_by_id(message_id)
        .filter(conv_messages::Column::ConversationId.eq(conversation_id));
    if live_only {
        q = q.filter(conv_messages::Column::IsDeleted.eq(false));
    }
    if q.one(db).await?.is_none() {
        return Err(DomainError::invalid(
            field,
            "is not a message of this conversation",
        ));
    }
    Ok(())
}

/// Turns rows into DTOs for `viewer` in at most four statements.
pub async fn to_dtos(
    db: &impl ConnectionTrait,
    viewer: i64,
    rows: Vec<conv_messages::Model>,
) -> Result<Vec<MessageDto>, DomainError> {
    let all = Lookups {
        reactions: true,
        attachments: true,
        known: None,
    };
    to_dtos_with(db, viewer, rows, all).await
}

/// `to_dtos`, skipping lookups the caller knows to be empty (a message
/// created a moment ago has no reactions) — sending is the hot path.
async fn to_dtos_with(
    db: &impl ConnectionTrait,
    viewer: i64,
    rows: Vec<conv_messages::Model>,
    lookups: Lookups,
) -> Result<Vec<MessageDto>, DomainError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let reply_ids: Vec<i64> = rows
        .iter()
        .filter_map(|m| m.reply_to_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let replies: HashMap<i64, conv_messages::Model> = if reply_ids.is_empty() {
        HashMap::new()
    } else {
        conv_messages::Entity::find()
            .filter(conv_messages::Column::Id.is_in(reply_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect()
    };
    let mut user_ids: HashSet<i64> = rows
        .iter()
        .chain(replies.values())
        .filter_map(|m| m.sender_id)
        .collect();
    let mut names: HashMap<i64, String> = HashMap::new();
    if let Some(known) = lookups.known {
        user_ids.remove(&known.id);
        names.insert(known.id, known.name);
    }
    if !user_ids.is_empty() {
        names.extend(
            users::Entity::find()
                .filter(users::Column::Id.is_in(user_ids))
                .all(db)
                .await?
                .into_iter()
                .map(|u| (u.id, u.name)),
        );
    }
    let live: Vec<i64> = rows
        .iter()
        .filter(|m| !m.is_deleted)
        .map(|m| m.id)
        .collect();
    let mut reactions: HashMap<i64, Vec<message_reactions::Model>> = HashMap::new();
    let mut attachments: HashMap<i64, Vec<message_attachments::Model>> = HashMap::new();
    if !live.is_empty() && lookups.reactions {
        for r in message_reactions::Entity::find()
            .filter(message_reactions::Column::MessageId.is_in(live.clone()))
            .order_by_asc(message_reactions::Column::Id)
            .all(db)
            .await?
        {
            reactions.entry(r.message_id).or_default().push(r);
        }
    }
    if !live.is_empty() && lookups.attachments {
        for a in message_attachments::Entity::find()
            .filter(message_attachments::Column::MessageId.is_in(live))
            .order_by_asc(message_attachments::Column::Id)
            .all(db)
            .await?
        {
            if let Some(mid) = a.message_id {
                attachments.entry(mid).or_default().push(a);
            }
        }
    }
    let brief = |id: Option<i64>| {
        id.and_then(|id| {
            names.get(&id).map(|n| UserBrief {
                id,
                name: n.clone(),
            })
        })
    };
    Ok(rows
        .into_iter()
        .map(|m| {
            let reply_to = m
                .reply_to_id
                .and_then(|rid| replies.get(&rid))
                .map(|r| ReplyPreview {
                    id: r.id,
                    sender_name: r.sender_id.and_then(|s| names.get(&s).cloned()),
                    preview: if r.is_deleted {
                        String::new()
                    } else {
                        render::preview(&r.content)
                    },
                    is_deleted: r.is_deleted,
                });
            if m.is_deleted {
                return MessageDto {
                    id: m.id,
                    conversation_id: m.conversation_id,
                    sender: brief(m.sender_id),
                    content: None,
                    content_html: None,
                    created_at: m.created_at,
                    edited_at: m.edited_at,
                    is_deleted: true,
                    is_forwarded: m.forwarded_from_id.is_some(),
                    reply_to: None,
                    reactions: Vec::new(),
                    attachments: Vec::new(),
                    link_preview: None,
                    client_id: m.client_id,
                };
            }
            MessageDto {
                id: m.id,
                conversation_id: m.conversation_id,
                sender: brief(m.sender_id),
                content: Some(m.content),
                content_html: Some(m.content_html),
                created_at: m.created_at,
                edited_at: m.edited_at,
                is_deleted: false,
                is_forwarded: m.forwarded_from_id.is_some(),
                reply_to,
                reactions: summarize(reactions.remove(&m.id).unwrap_or_default(), viewer),
                attachments: attachments
                    .remove(&m.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(attachment_dto)
                    .collect(),
                link_preview: m
                    .link_preview
                    .and_then(|v| serde_json::from_value::<LinkPreview>(v).ok()),
                client_id: m.client_id,
            }
        })
        .collect())
}

pub fn attachment_dto(a: message_attachments::Model) -> AttachmentDto {
    AttachmentDto {
        url: format!("/api/attachments/{}", a.id),
        thumbnail_url: a
            .has_thumbnail
            .then(|| format!("/api/attachments/{}/thumbnail", a.id)),
        id: a.id,
        filename: a.filename,
        content_type: a.content_type,
        size_bytes: a.size_bytes,
        width: a.width,
        height: a.height,
    }
}

/// Aggregates reactions per emoji in the order each emoji first appeared.
pub fn summarize(rows: Vec<message_reactions::Model>, viewer: i64) -> Vec<ReactionSummary> {
    let mut out: Vec<ReactionSummary> = Vec::new();
    for r in rows {
        match out.iter_mut().find(|s| s.emoji == r.emoji) {
            Some(s) => {
                s.count += 1;
                s.me |= r.user_id == viewer;
                s.user_ids.push(r.user_id);
            }
            None => out.push(ReactionSummary {
                emoji: r.emoji,
                count: 1,
                user_ids: vec![r.user_id],
                me: r.user_id == viewer,
            }),
        }
    }
    out
}

pub async fn one_dto(
    db: &impl ConnectionTrait,
    viewer: i64,
    row: conv_messages::Model,
) -> Result<MessageDto, DomainError> {
    to_dtos(db, viewer, vec![row])
        .await?
        .pop()
        .ok_or(DomainError::NotFound)
}

/// A page of messages: newest first (or before `before_id`), or oldest
/// first after `after_id`.
pub async fn page(
    db: &impl ConnectionTrait,
    user_id: i64,
    conversation_id: i64,
    before_id: Option<i64>,
    after_id: Option<i64>,
    limit: Option<u64>,
) -> Result<MessagePage, DomainError> {
    membership(db, conversation_id, user_id).await?;
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(DomainError::invalid(
            "limit",
            format!("must be 1 to {MAX_PAGE}"),
        ));
    }
    if before_id.is_some() && after_id.is_some() {
        return Err(DomainError::invalid(
            "after_id",
            "cannot be combined with before_id",
        ));
    }
    let mut q = conv_messages::Entity::find()
        .filter(conv_messages::Column::ConversationId.eq(conversation_id))
        .limit(limit + 1);
    q = match (before_id, after_id) {
        (_, Some(a)) => q
            .filter(conv_messages::Column::Id.gt(a))
            .order_by_asc(conv_messages::Column::Id),
        (Some(b), _) => q
            .filter(conv_messages::Column::Id.lt(b))
            .order_by_desc(conv_messages::Column::Id),
        (None, None) => q.order_by_desc(conv_messages::Column::Id),
    };
    let mut rows = q.all(db).await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok(MessagePage {
        items: to_dtos(db, user_id, rows).await?,
        has_more,
    })
}

fn parse_client_id(c: Option<String>) -> Result<Option<String>, DomainError> {
    match c.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => uuid::Uuid::parse_str(&c)
            .map(|u| Some(u.hyphenated().to_string()))
            .map_err(|_| DomainError::invalid("client_id", "must be a UUID")),
    }
}

/// Counts one message against the sender's MESSAGES_PER_MINUTE /
/// MESSAGES_BURST allowance (sent and forwarded alike); `RateLimited` when
/// it is used up. Called after every other check, right before storing, so
/// an invalid request costs nothing of it (a send into a conversation the
/// sender is not in does: that is checked as the message is stored).
async fn take_send_allowance(st: &AppState, user_id: i64) -> Result<(), DomainError> {
    let key = format!("send:{user_id}");
    Ok(st.limiter.acquire(&key, st.settings.message_rate()).await?)
}

/// Sends a message. Returns the message and whether it was created now
/// (false when `client_id` matched an earlier send of the same sender).
pub async fn send(
    st: &AppState,
    sender: UserBrief,
    conversation_id: i64,
    req: SendMessage,
) -> Result<(MessageDto, bool), DomainError> {
    let db = &st.db;
    let user_id = sender.id;
    // Membership is checked where the message is stored (`send::store`),
    // in the same statement on PostgreSQL; a reply is checked against the
    // conversation only for a member, so that an outsider learns nothing
    // of its messages. A retry with the same client_id is not looked up
    // first: the unique (sender, client_id) index refuses the second
    // insert and the first message is returned below, so a first send
    // costs no extra statement.
    let client_id = parse_client_id(req.client_id)?;
    let mut attachment_ids: Vec<i64> = req.attachment_ids.clone();
    attachment_ids.sort_unstable();
    attachment_ids.dedup();
    if attachment_ids.len() > MAX_ATTACHMENTS {
        return Err(DomainError::invalid(
            "attachment_ids",
            format!("at most {MAX_ATTACHMENTS} attachments per message"),
        ));
    }
    let content = validate_content(&req.content, !attachment_ids.is_empty())?;
    if let Some(rid) = req.reply_to_id {
        membership(db, conversation_id, user_id).await?;
        require_in_conversation(db, conversation_id, rid, "reply_to_id", true).await?;
    }
    take_send_allowance(st, user_id).await?;
    let new = NewMessage {
        conversation_id,
        sender_id: user_id,
        content,
        reply_to_id: req.reply_to_id,
        forwarded_from_id: None,
        client_id: client_id.clone(),
        attachment_ids,
    };
    let has_attachments = !new.attachment_ids.is_empty();
    let stored = store(db, new, st.settings.notify_batch_window()).await;
    let Stored { row, audience } = match stored {
        Ok(stored) => stored,
        // A retry, or the same client_id raced in on another request:
        // return the first message. It is announced again: the client
        // retries because it got no answer, and the first attempt may have
        // been committed without its event ever being published (the
        // connection broke after COMMIT, or building the answer failed).
        // Clients take a `new_message` they already have as an update.
        Err(DomainError::Db(e)) if client_id.is_some() => {
            let cid = client_id.as_deref().unwrap_or_default();
            match find_by_client_id(db, user_id, cid).await? {
                Some(existing) => {
                    let dto = one_dto(db, user_id, existing).await?;
                    let audience = member_ids(db, conversation_id).await?;
                    publish_message(st, &audience, &dto, false).await;
                    return Ok((dto, false));
                }
                None => return Err(DomainError::Db(e)),
            }
        }
        Err(e) => return Err(e),
    };
    let fresh = Lookups {
        reactions: false,
        attachments: has_attachments,
        known: Some(sender),
    };
    let dto = to_dtos_with(db, user_id, vec![row], fresh)
        .await?
        .pop()
        .ok_or(DomainError::NotFound)?;
    publish_message(st, &audience, &dto, false).await;
    // After the commit and the event: the preview's `message_edited` must
    // never overtake `new_message`.
    st.link_previews
        .enqueue(dto.id, dto.content.as_deref().unwrap_or_default());
    Ok((dto, true))
}

async fn find_by_client_id(
    db: &impl ConnectionTrait,
    user_id: i64,
    client_id: &str,
) -> Result<Option<conv_messages::Model>, DomainError> {
    Ok(conv_messages::Entity::find()
        .filter(conv_messages::Column::SenderId.eq(user_id))
        .filter(conv_messages::Column::ClientId.eq(client_id))
        .one(db)
        .await?)
}

/// Publishes a stored message again as `message_edited` to its members,
/// for a change made after sending (an attachment's thumbnail is ready).
/// A deleted or vanished message is left alone.
pub async fn republish(st: &AppState, message_id: i64) -> Result<(), DomainError> {
    let db = &st.db;
    let Some(row) = conv_messages::Entity::find_by_id(message_id)
        .one(db)
        .await?
    else {
        return Ok(());
    };
    if row.is_deleted {
        return Ok(());
    }
    // `me` in reactions is cleared by `publish_message`, so any viewer will do.
    let viewer = row.sender_id.unwrap_or_default();
    let dto = one_dto(db, viewer, row).await?;
    let audience = member_ids(db, dto.conversation_id).await?;
    publish_message(st, &audience, &dto, true).await;
    Ok(())
}

/// Publishes a new or edited message to every member. `me` in reactions is
/// the publisher's view, so it is cleared: each client knows who it is.
async fn publish_message(st: &AppState, audience: &[i64], dto: &MessageDto, edited: bool) {
    let mut message = dto.clone();
    for r in &mut message.reactions {
        r.me = false;
    }
    let event = if edited {
        Event::MessageEdited { message }
    } else {
        Event::NewMessage { message }
    };
    st.bus.publish(audience, event).await;
}

/// Edits the caller's own message within the edit window.
pub async fn edit(
    st: &AppState,
    user_id: i64,
    message_id: i64,
    content: String,
) -> Result<MessageDto, DomainError> {
    let db = &st.db;
    let msg = live_message_for(db, user_id, message_id).await?;
    if msg.sender_id != Some(user_id) {
        return Err(DomainError::Forbidden(
            "only your own messages can be edited".into(),
        ));
    }
    if Utc::now() - msg.created_at > EDIT_WINDOW {
        return Err(DomainError::EditWindowClosed);
    }
    let has_attachments = message_attachments::Entity::find()
        .filter(message_attachments::Column::MessageId.eq(message_id))
        .one(db)
        .await?
        .is_some();
    let content = validate_content(&content, has_attachments)?;
    // A preview belongs to the link it was made for: a new link gets a new
    // one, no link none.
    let link_changed = render::first_link(&msg.content) != render::first_link(&content);
    let mut am: conv_messages::ActiveModel = msg.into();
    if link_changed {
        am.link_preview = Set(None);
    }
    am.content_html = Set(render::to_html(&content));
    am.content_search = Set(render::search_text(&content));
    am.content = Set(content);
    am.edited_at = Set(Some(Utc::now()));
    let row = am.update(db).await?;
    let dto = one_dto(db, user_id, row).await?;
    let audience = member_ids(db, dto.conversation_id).await?;
    publish_message(st, &audience, &dto, true).await;
    if link_changed {
        st.link_previews
            .enqueue(dto.id, dto.content.as_deref().unwrap_or_default());
    }
    Ok(dto)
}

/// Puts the preview of `url` on a message whose first link is still `url`
/// and tells the members (`message_edited`; `edited_at` stays, the sender
/// changed nothing). False when the message is gone, links elsewhere now,
/// or already has this preview.
pub async fn apply_link_preview(
    st: &AppState,
    message_id: i64,
    url: &str,
    preview: &LinkPreview,
) -> Result<bool, DomainError> {
    let db = &st.db;
    let Some(msg) = conv_messages::Entity::find_by_id(message_id)
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    if msg.is_deleted || render::first_link(&msg.content).as_deref() != Some(url) {
        return Ok(false);
    }
    let value = serde_json::to_value(preview).map_err(|e| DomainError::Internal(e.to_string()))?;
    if msg.link_preview.as_ref() == Some(&value) {
        return Ok(false);
    }
    // Only if nobody edited or deleted it since it was read: an edit
    // queues its own preview.
    let res = conv_messages::Entity::update_many()
        .col_expr(conv_messages::Column::LinkPreview, Expr::val(value.clone()))
        .filter(conv_messages::Column::Id.eq(message_id))
        .filter(conv_messages::Column::IsDeleted.eq(false))
        .filter(conv_messages::Column::Content.eq(msg.content.clone()))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(false);
    }
    let viewer = msg.sender_id.unwrap_or_default();
    let row = conv_messages::Model {
        link_preview: Some(value),
        ..msg
    };
    let dto = one_dto(db, viewer, row).await?;
    let audience = member_ids(db, dto.conversation_id).await?;
    publish_message(st, &audience, &dto, true).await;
    Ok(true)
}

/// Soft-deletes a message: its sender, or the owner of the group. Its
/// content, reactions and pins go with it.
pub async fn delete(st: &AppState, user_id: i64, message_id: i64) -> Result<(), DomainError> {
    let db = &st.db;
    let (msg, me) = message_for(db, user_id, message_id).await?;
    if msg.is_deleted {
        return Ok(());
    }
    if msg.sender_id != Some(user_id) {
        let conv = convs::Entity::find_by_id(msg.conversation_id)
            .one(db)
            .await?
            .ok_or(DomainError::NotFound)?;
        if !(conv.is_group && me.role == "owner") {
            return Err(DomainError::Forbidden(
                "only your own messages can be deleted".into(),
            ));
        }
    }
    let conversation_id = msg.conversation_id;
    let txn = db.begin().await?;
    let mut am: conv_messages::ActiveModel = msg.into();
    am.is_deleted = Set(true);
    am.deleted_at = Set(Some(Utc::now()));
    am.content = Set(String::new());
    am.content_html = Set(String::new());
    am.content_search = Set(String::new());
    am.link_preview = Set(None);
    am.update(&txn).await?;
    message_reactions::Entity::delete_many()
        .filter(message_reactions::Column::MessageId.eq(message_id))
        .exec(&txn)
        .await?;
    message_pins::Entity::delete_many()
        .filter(message_pins::Column::MessageId.eq(message_id))
        .exec(&txn)
        .await?;
    let files = super::attachments::delete_for_message(&txn, message_id).await?;
    txn.commit().await?;
    super::attachments::spawn_remove_objects(st, files);
    let audience = member_ids(db, conversation_id).await?;
    st.bus
        .publish(
            &audience,
            Event::MessageDeleted {
                conversation_id,
                message_id,
            },
        )
        .await;
    Ok(())
}

/// Forwards a message the caller can see into a conversation they belong to.
pub async fn forward(
    st: &AppState,
    user_id: i64,
    message_id: i64,
    target_conversation_id: i64,
) -> Result<MessageDto, DomainError> {
    let db = &st.db;
    let msg = live_message_for(db, user_id, message_id).await?;
    // A conversation the caller is not in gets the same 404 as one that
    // does not exist (and as a message they cannot see).
    membership(db, target_conversation_id, user_id).await?;
    if msg.content.trim().is_empty() {
        return Err(DomainError::Conflict(
            "messages with only attachments cannot be forwarded yet".into(),
        ));
    }
    take_send_allowance(st, user_id).await?;
    let new = NewMessage {
        conversation_id: target_conversation_id,
        sender_id: user_id,
        content: msg.content,
        reply_to_id: None,
        forwarded_from_id: Some(msg.id),
        client_id: None,
        attachment_ids: Vec::new(),
    };
    let Stored { row, audience } = store(db, new, st.settings.notify_batch_window()).await?;
    let dto = one_dto(db, user_id, row).await?;
    publish_message(st, &audience, &dto, false).await;
    st.link_previews
        .enqueue(dto.id, dto.content.as_deref().unwrap_or_default());
    Ok(dto)
}

/// Case-insensitive substring search in one conversation, newest first,
/// skipping deleted messages; `before_id` pages further back.
pub async fn search(
    db: &impl ConnectionTrait,
    user_id: i64,
    conversation_id: i64,
    q: &str,
    before_id: Option<i64>,
    limit: Option<u64>,
) -> Result<MessagePage, DomainError> {
    membership(db, conversation_id, user_id).await?;
    let q = q.trim();
    if q.is_empty() {
        return Err(DomainError::invalid("q", "must not be empty"));
    }
    if q.chars().count() > MAX_SEARCH_CHARS {
        return Err(DomainError::invalid(
            "q",
            format!("must have at most {MAX_SEARCH_CHARS} characters"),
        ));
    }
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(DomainError::invalid(
            "limit",
            format!("must be 1 to {MAX_PAGE}"),
        ));
    }
    let needle = render::search_text(q)
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let mut find = conv_messages::Entity::find()
        .filter(conv_messages::Column::ConversationId.eq(conversation_id))
        .filter(conv_messages::Column::IsDeleted.eq(false))
        .filter(
            Expr::col(conv_messages::Column::ContentSearch)
                .like(LikeExpr::new(format!("%{needle}%")).escape('\\')),
        )
        .order_by_desc(conv_messages::Column::Id)
        .limit(limit + 1);
    if let Some(b) = before_id {
        find = find.filter(conv_messages::Column::Id.lt(b));
    }
    let mut rows = find.all(db).await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Ok(MessagePage {
        items: to_dtos(db, user_id, rows).await?,
        has_more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_limits() {
        assert!(validate_content("   ", false).is_err());
        assert_eq!(validate_content("  ", true).unwrap(), "");
        assert_eq!(validate_content("  hej ", false).unwrap(), "hej");
        assert!(validate_content(&"ą".repeat(MAX_MESSAGE_CHARS), false).is_ok());
        assert!(validate_content(&"ą".repeat(MAX_MESSAGE_CHARS + 1), false).is_err());
    }

    #[test]
    fn client_id_must_be_a_uuid() {
        assert!(parse_client_id(Some("nope".into())).is_err());
        assert_eq!(parse_client_id(None).unwrap(), None);
        assert!(
            parse_client_id(Some("67e55044-10b1-426f-9247-bb680e5fe0c8".into()))
                .unwrap()
                .is_some()
        );
    }
}
