//! Conversations: listing with unread counts, 1:1 and group creation,
//! details, group settings, members, per-member settings and read state.
//!
//! Membership is checked first in every function; a non-member gets
//! `NotFound` whether or not the conversation exists (no existence leak).
//! Each function runs a bounded number of statements, whatever the number
//! of conversations, members or messages involved.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::{Alias, Expr, Func, Order, Query, QueryStatementBuilder};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, ExprTrait, FromQueryResult, QueryFilter, QueryOrder,
    TransactionTrait,
};
use shared::Event;
use shared::dto::conversations::{
    AddMembers, ConversationDetail, ConversationPage, ConversationSummary, CreateConversation,
    LastMessage, MarkRead, MemberDto, ReadState, Role, UpdateConversation, UpdateSettings,
};
use shared::dto::users::UserBrief;

use super::DomainError;
use super::render;
use crate::db::entities::{conv_messages, conversation_members as members, conversations, users};
use crate::state::AppState;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;
pub const MAX_PAGE: u64 = 100;
pub const DEFAULT_PAGE: u64 = 50;

/// The caller's membership row, or `NotFound` for non-members.
pub async fn membership(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    user_id: i64,
) -> Result<members::Model, DomainError> {
    members::Entity::find_by_id((conversation_id, user_id))
        .one(db)
        .await?
        .ok_or(DomainError::NotFound)
}

/// The conversation and the caller's membership, or `NotFound`.
pub async fn conversation_for(
    db: &impl ConnectionTrait,
    conversation_id: i64,
    user_id: i64,
) -> Result<(conversations::Model, members::Model), DomainError> {
    let m = membership(db, conversation_id, user_id).await?;
    let c = conversations::Entity::find_by_id(conversation_id)
        .one(db)
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok((c, m))
}

/// User ids of every member (the audience of the conversation's events).
pub async fn member_ids(
    db: &impl ConnectionTrait,
    conversation_id: i64,
) -> Result<Vec<i64>, DomainError> {
    Ok(members::Entity::find()
        .filter(members::Column::ConversationId.eq(conversation_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect())
}

#[derive(Debug, Clone, FromQueryResult)]
struct MemberRow {
    conversation_id: i64,
    user_id: i64,
    name: String,
    role: String,
    last_read_message_id: Option<i64>,
    last_read_at: Option<DateTime<Utc>>,
    joined_at: DateTime<Utc>,
}

/// Members of several conversations in one statement, oldest first.
async fn members_of(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<MemberRow>>, DomainError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut q = Query::select();
    q.columns([
        (members::Entity, members::Column::ConversationId),
        (members::Entity, members::Column::UserId),
        (members::Entity, members::Column::Role),
        (members::Entity, members::Column::LastReadMessageId),
        (members::Entity, members::Column::LastReadAt),
        (members::Entity, members::Column::JoinedAt),
    ])
    .column((users::Entity, users::Column::Name))
    .from(members::Entity)
    .inner_join(
        users::Entity,
        Expr::col((users::Entity, users::Column::Id))
            .equals((members::Entity, members::Column::UserId)),
    )
    .and_where(
        Expr::col((members::Entity, members::Column::ConversationId)).is_in(ids.iter().copied()),
    )
    .order_by((members::Entity, members::Column::JoinedAt), Order::Asc)
    .order_by((members::Entity, members::Column::UserId), Order::Asc);
    let rows = MemberRow::find_by_statement(db.get_database_backend().build(&q))
        .all(db)
        .await?;
    let mut out: HashMap<i64, Vec<MemberRow>> = HashMap::new();
    for r in rows {
        out.entry(r.conversation_id).or_default().push(r);
    }
    Ok(out)
}

#[derive(Debug, FromQueryResult)]
struct CountRow {
    conversation_id: i64,
    unread: i64,
}

/// Exact unread counts of `user_id` in several conversations, one statement:
/// messages from others, not deleted, after the member's last-read id.
///
/// A correlated count per membership row: each one is a range scan of the
/// `(conversation_id, id)` index from the read position, so the cost grows
/// with what is unread in the page's conversations, never with the size of
/// the table or with how many conversations the user has (a join over all
/// memberships made PostgreSQL scan far more; see the README benchmarks).
pub async fn unread_counts(
    db: &impl ConnectionTrait,
    user_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, i64>, DomainError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let msg = Alias::new("msg");
    let mem = Alias::new("mem");
    let mut count = Query::select();
    count
        .expr(Func::count(Expr::col((
            msg.clone(),
            conv_messages::Column::Id,
        ))))
        .from_as(conv_messages::Entity, msg.clone())
        .and_where(
            Expr::col((msg.clone(), conv_messages::Column::ConversationId))
                .equals((mem.clone(), members::Column::ConversationId)),
        )
        .and_where(
            Expr::col((msg.clone(), conv_messages::Column::Id)).gt(Func::coalesce([
                Expr::col((mem.clone(), members::Column::LastReadMessageId)),
                Expr::val(0i64),
            ])),
        )
        .and_where(Expr::col((msg.clone(), conv_messages::Column::IsDeleted)).eq(false))
        .and_where(
            Expr::col((msg.clone(), conv_messages::Column::SenderId))
                .ne(user_id)
                .or(Expr::col((msg.clone(), conv_messages::Column::SenderId)).is_null()),
        );
    let mut q = Query::select();
    q.expr_as(
        Expr::col((mem.clone(), members::Column::ConversationId)),
        Alias::new("conversation_id"),
    )
    .expr_as(
        Expr::SubQuery(None, Box::new(count.into_sub_query_statement())),
        Alias::new("unread"),
    )
    .from_as(members::Entity, mem.clone())
    .and_where(Expr::col((mem.clone(), members::Column::UserId)).eq(user_id))
    .and_where(
        Expr::col((mem.clone(), members::Column::ConversationId)).is_in(ids.iter().copied()),
    );
    let rows = CountRow::find_by_statement(db.get_database_backend().build(&q))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.conversation_id, r.unread))
        .collect())
}

/// Names of the other members: "Anna", "Anna, Jan, Ola +2".
fn display_name(conv: &conversations::Model, members: &[MemberRow], me: i64) -> String {
    if let Some(n) = conv.name.as_deref().filter(|n| !n.trim().is_empty()) {
        return n.to_owned();
    }
    let others: Vec<&str> = members
        .iter()
        .filter(|m| m.user_id != me)
        .map(|m| m.name.as_str())
        .collect();
    if others.is_empty() {
        return members.first().map(|m| m.name.clone()).unwrap_or_default();
    }
    let shown = others
        .iter()
        .take(3)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if others.len() > 3 {
        format!("{shown} +{}", others.len() - 3)
    } else {
        shown
    }
}

#[derive(Debug, FromQueryResult)]
struct LastRow {
    id: i64,
    sender_id: Option<i64>,
    sender_name: Option<String>,
    content: String,
    is_deleted: bool,
    created_at: DateTime<Utc>,
}

async fn last_messages(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, LastMessage>, DomainError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut q = Query::select();
    q.columns([
        (conv_messages::Entity, conv_messages::Column::Id),
        (conv_messages::Entity, conv_messages::Column::SenderId),
        (conv_messages::Entity, conv_messages::Column::Content),
        (conv_messages::Entity, conv_messages::Column::IsDeleted),
        (conv_messages::Entity, conv_messages::Column::CreatedAt),
    ])
    .expr_as(
        Expr::col((users::Entity, users::Column::Name)),
        Alias::new("sender_name"),
    )
    .from(conv_messages::Entity)
    .left_join(
        users::Entity,
        Expr::col((users::Entity, users::Column::Id))
            .equals((conv_messages::Entity, conv_messages::Column::SenderId)),
    )
    .and_where(
        Expr::col((conv_messages::Entity, conv_messages::Column::Id)).is_in(ids.iter().copied()),
    );
    let rows = LastRow::find_by_statement(db.get_database_backend().build(&q))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let sender = match (r.sender_id, r.sender_name) {
                (Some(id), Some(name)) => Some(UserBrief { id, name }),
                _ => None,
            };
            (
                r.id,
                LastMessage {
                    id: r.id,
                    sender,
                    preview: if r.is_deleted {
                        String::new()
                    } else {
                        render::preview(&r.content)
                    },
                    created_at: r.created_at,
                    is_deleted: r.is_deleted,
                },
            )
        })
        .collect())
}

#[derive(Debug, FromQueryResult)]
struct ListRow {
    id: i64,
    name: Option<String>,
    description: Option<String>,
    is_group: bool,
    owner_id: Option<i64>,
    direct_key: Option<String>,
    last_message_id: Option<i64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    role: String,
    is_muted: bool,
    is_archived: bool,
}

impl ListRow {
    fn conversation(&self) -> conversations::Model {
        conversations::Model {
            id: self.id,
            name: self.name.clone(),
            description: self.description.clone(),
            is_group: self.is_group,
            owner_id: self.owner_id,
            direct_key: self.direct_key.clone(),
            last_message_id: self.last_message_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

fn encode_cursor(updated_at: DateTime<Utc>, id: i64) -> String {
    format!(
        "{}_{id}",
        updated_at.to_rfc3339_opts(SecondsFormat::Nanos, true)
    )
}

fn decode_cursor(s: &str) -> Result<(DateTime<Utc>, i64), DomainError> {
    let bad = || DomainError::invalid("cursor", "is not a cursor returned by this endpoint");
    let (ts, id) = s.rsplit_once('_').ok_or_else(bad)?;
    let ts = DateTime::parse_from_rfc3339(ts).map_err(|_| bad())?;
    let id = id.parse::<i64>().map_err(|_| bad())?;
    Ok((ts.with_timezone(&Utc), id))
}

/// The caller's conversations, most recently active first, in pages.
/// Five statements whatever the page holds.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: i64,
    archived: bool,
    cursor: Option<&str>,
    limit: Option<u64>,
) -> Result<ConversationPage, DomainError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(DomainError::invalid(
            "limit",
            format!("must be 1 to {MAX_PAGE}"),
        ));
    }
    let c = conversations::Entity;
    let mut q = Query::select();
    q.columns([
        (c, conversations::Column::Id),
        (c, conversations::Column::Name),
        (c, conversations::Column::Description),
        (c, conversations::Column::IsGroup),
        (c, conversations::Column::OwnerId),
        (c, conversations::Column::DirectKey),
        (c, conversations::Column::LastMessageId),
        (c, conversations::Column::CreatedAt),
        (c, conversations::Column::UpdatedAt),
    ])
    .columns([
        (members::Entity, members::Column::Role),
        (members::Entity, members::Column::IsMuted),
        (members::Entity, members::Column::IsArchived),
    ])
    .from(members::Entity)
    .inner_join(
        c,
        Expr::col((c, conversations::Column::Id))
            .equals((members::Entity, members::Column::ConversationId)),
    )
    .and_where(Expr::col((members::Entity, members::Column::UserId)).eq(user_id))
    .and_where(Expr::col((members::Entity, members::Column::IsArchived)).eq(archived))
    .order_by((c, conversations::Column::UpdatedAt), Order::Desc)
    .order_by((c, conversations::Column::Id), Order::Desc)
    .limit(limit + 1);
    if let Some(cur) = cursor {
        let (ts, id) = decode_cursor(cur)?;
        q.and_where(
            Expr::col((c, conversations::Column::UpdatedAt))
                .lt(ts)
                .or(Expr::col((c, conversations::Column::UpdatedAt))
                    .eq(ts)
                    .and(Expr::col((c, conversations::Column::Id)).lt(id))),
        );
    }
    let mut rows = ListRow::find_by_statement(db.get_database_backend().build(&q))
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let last_ids: Vec<i64> = rows.iter().filter_map(|r| r.last_message_id).collect();
    let mut all_members = members_of(db, &ids).await?;
    let unread = unread_counts(db, user_id, &ids).await?;
    let mut last = last_messages(db, &last_ids).await?;
    let next_cursor = if has_more {
        rows.last().map(|r| encode_cursor(r.updated_at, r.id))
    } else {
        None
    };
    let items = rows
        .into_iter()
        .map(|r| {
            let ms = all_members.remove(&r.id).unwrap_or_default();
            ConversationSummary {
                id: r.id,
                name: display_name(&r.conversation(), &ms, user_id),
                is_group: r.is_group,
                members: ms
                    .iter()
                    .map(|m| UserBrief {
                        id: m.user_id,
                        name: m.name.clone(),
                    })
                    .collect(),
                role: Role::parse(&r.role),
                is_muted: r.is_muted,
                is_archived: r.is_archived,
                unread_count: unread.get(&r.id).copied().unwrap_or(0),
                last_message: r.last_message_id.and_then(|id| last.remove(&id)),
                updated_at: r.updated_at,
            }
        })
        .collect();
    Ok(ConversationPage { items, next_cursor })
}

/// Details with members, roles and read positions.
pub async fn detail(
    db: &impl ConnectionTrait,
    user_id: i64,
    conversation_id: i64,
) -> Result<ConversationDetail, DomainError> {
    let (conv, me) = conversation_for(db, conversation_id, user_id).await?;
    build_detail(db, conv, me).await
}

async fn build_detail(
    db: &impl ConnectionTrait,
    conv: conversations::Model,
    me: members::Model,
) -> Result<ConversationDetail, DomainError> {
    let ms = members_of(db, &[conv.id])
        .await?
        .remove(&conv.id)
        .unwrap_or_default();
    let unread = unread_counts(db, me.user_id, &[conv.id])
        .await?
        .get(&conv.id)
        .copied()
        .unwrap_or(0);
    Ok(ConversationDetail {
        id: conv.id,
        name: display_name(&conv, &ms, me.user_id),
        title: conv.name.clone(),
        description: conv.description.clone(),
        is_group: conv.is_group,
        owner_id: conv.owner_id,
        members: ms
            .iter()
            .map(|m| MemberDto {
                id: m.user_id,
                name: m.name.clone(),
                role: Role::parse(&m.role),
                last_read_message_id: m.last_read_message_id,
                last_read_at: m.last_read_at,
                joined_at: m.joined_at,
            })
            .collect(),
        role: Role::parse(&me.role),
        is_muted: me.is_muted,
        is_archived: me.is_archived,
        unread_count: unread,
        created_at: conv.created_at,
        updated_at: conv.updated_at,
    })
}

fn clean_name(name: Option<String>) -> Result<Option<String>, DomainError> {
    let Some(n) = name else { return Ok(None) };
    let n = n.trim().to_owned();
    if n.is_empty() {
        return Ok(None);
    }
    if n.chars().count() > MAX_NAME_CHARS {
        return Err(DomainError::invalid(
            "name",
            format!("must have at most {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(Some(n))
}

fn clean_description(d: Option<String>) -> Result<Option<String>, DomainError> {
    let Some(d) = d else { return Ok(None) };
    let d = d.trim().to_owned();
    if d.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(DomainError::invalid(
            "description",
            format!("must have at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok((!d.is_empty()).then_some(d))
}

/// Checks that every id is an active user other than `me`; deduplicates.
async fn active_users(
    db: &impl ConnectionTrait,
    field: &str,
    ids: &[i64],
    me: i64,
) -> Result<Vec<i64>, DomainError> {
    let mut seen = HashSet::new();
    let wanted: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| *id != me && seen.insert(*id))
        .collect();
    if wanted.is_empty() {
        return Err(DomainError::invalid(
            field,
            "must name at least one other user",
        ));
    }
    let found: HashSet<i64> = users::Entity::find()
        .filter(users::Column::Id.is_in(wanted.iter().copied()))
        .filter(users::Column::IsActive.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|id| !found.contains(id))
        .map(|id| id.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(DomainError::invalid(
            field,
            format!("unknown or deactivated users: {}", missing.join(", ")),
        ));
    }
    Ok(wanted)
}

fn new_member(
    conversation_id: i64,
    user_id: i64,
    role: Role,
    added_by: Option<i64>,
    now: DateTime<Utc>,
) -> members::ActiveModel {
    members::ActiveModel {
        conversation_id: Set(conversation_id),
        user_id: Set(user_id),
        role: Set(role.as_str().to_owned()),
        last_read_message_id: Set(None),
        last_read_at: Set(None),
        is_muted: Set(false),
        is_archived: Set(false),
        joined_at: Set(now),
        added_by_id: Set(added_by),
    }
}

/// Creates a 1:1 (one other member, no name) or a group. A 1:1 that exists
/// is returned as it is (`created` false).
pub async fn create(
    st: &AppState,
    user_id: i64,
    req: CreateConversation,
) -> Result<(ConversationDetail, bool), DomainError> {
    let db = &st.db;
    let name = clean_name(req.name)?;
    let description = clean_description(req.description)?;
    let others = active_users(db, "member_ids", &req.member_ids, user_id).await?;
    let is_group = others.len() > 1 || name.is_some();
    if others.len() + 1 > st.settings.max_group_members {
        return Err(DomainError::invalid(
            "member_ids",
            format!(
                "a group has at most {} members",
                st.settings.max_group_members
            ),
        ));
    }
    let now = Utc::now();
    let direct_key = (!is_group).then(|| {
        let (a, b) = (
            std::cmp::min(user_id, others[0]),
            std::cmp::max(user_id, others[0]),
        );
        format!("{a}:{b}")
    });
    if let Some(key) = &direct_key
        && let Some(existing) = find_direct(db, key).await?
    {
        return reuse_direct(db, existing, user_id).await;
    }
    // Only a conversation that is really created counts (CONVERSATIONS_PER_HOUR).
    let key = format!("create_conversation:{user_id}");
    st.limiter
        .acquire(&key, st.settings.conversation_rate())
        .await?;
    let txn = db.begin().await?;
    let inserted = conversations::ActiveModel {
        name: Set(name),
        description: Set(description),
        is_group: Set(is_group),
        owner_id: Set(is_group.then_some(user_id)),
        direct_key: Set(direct_key.clone()),
        last_message_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let conv = match inserted {
        Ok(c) => c,
        // Two people opened the same 1:1 at once: the unique pair wins.
        Err(_) if direct_key.is_some() => {
            txn.rollback().await?;
            let key = direct_key.as_deref().unwrap_or_default();
            let existing = find_direct(db, key).await?.ok_or(DomainError::NotFound)?;
            return reuse_direct(db, existing, user_id).await;
        }
        Err(e) => return Err(e.into()),
    };
    let mut rows = vec![new_member(
        conv.id,
        user_id,
        if is_group { Role::Owner } else { Role::Member },
        None,
        now,
    )];
    rows.extend(
        others
            .iter()
            .map(|uid| new_member(conv.id, *uid, Role::Member, Some(user_id), now)),
    );
    members::Entity::insert_many(rows).exec(&txn).await?;
    txn.commit().await?;
    let me = membership(db, conv.id, user_id).await?;
    let detail = build_detail(db, conv, me).await?;
    let audience: Vec<i64> = detail.members.iter().map(|m| m.id).collect();
    st.bus
        .publish(
            &audience,
            Event::ConversationCreated {
                conversation_id: detail.id,
            },
        )
        .await;
    Ok((detail, true))
}

async fn find_direct(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<conversations::Model>, DomainError> {
    Ok(conversations::Entity::find()
        .filter(conversations::Column::DirectKey.eq(key))
        .one(db)
        .await?)
}

/// An existing 1:1: the caller may have left it; bring them back.
async fn reuse_direct(
    db: &DatabaseConnection,
    conv: conversations::Model,
    user_id: i64,
) -> Result<(ConversationDetail, bool), DomainError> {
    let me = match members::Entity::find_by_id((conv.id, user_id))
        .one(db)
        .await?
    {
        Some(m) => m,
        None => {
            new_member(conv.id, user_id, Role::Member, None, Utc::now())
                .insert(db)
                .await?
        }
    };
    Ok((build_detail(db, conv, me).await?, false))
}

fn require_owner_of_group(
    conv: &conversations::Model,
    me: &members::Model,
) -> Result<(), DomainError> {
    if !conv.is_group {
        return Err(DomainError::Conflict(
            "a 1:1 conversation has no group settings".into(),
        ));
    }
    if me.role != Role::Owner.as_str() {
        return Err(DomainError::Forbidden(
            "only the group's owner may do this".into(),
        ));
    }
    Ok(())
}

/// Renames or re-describes a group (owner only).
pub async fn update(
    st: &AppState,
    user_id: i64,
    conversation_id: i64,
    req: UpdateConversation,
) -> Result<ConversationDetail, DomainError> {
    let db = &st.db;
    let (conv, me) = conversation_for(db, conversation_id, user_id).await?;
    require_owner_of_group(&conv, &me)?;
    let name = match req.name {
        Some(n) => Some(clean_name(Some(n))?),
        None => None,
    };
    let description = match req.description {
        Some(d) => Some(clean_description(Some(d))?),
        None => None,
    };
    let mut am: conversations::ActiveModel = conv.into();
    if let Some(n) = name {
        am.name = Set(n);
    }
    if let Some(d) = description {
        am.description = Set(d);
    }
    let conv = am.update(db).await?;
    let detail = build_detail(db, conv, me).await?;
    let audience: Vec<i64> = detail.members.iter().map(|m| m.id).collect();
    st.bus
        .publish(&audience, Event::ConversationUpdated { conversation_id })
        .await;
    Ok(detail)
}

/// Deletes a group for everyone (owner only).
pub async fn delete(st: &AppState, user_id: i64, conversation_id: i64) -> Result<(), DomainError> {
    let db = &st.db;
    let (conv, me) = conversation_for(db, conversation_id, user_id).await?;
    require_owner_of_group(&conv, &me)?;
    let audience = member_ids(db, conversation_id).await?;
    let files = super::attachments::keys_in_conversation(db, conversation_id).await?;
    conversations::Entity::delete_by_id(conversation_id)
        .exec(db)
        .await?;
    super::attachments::spawn_remove_objects(st, files);
    st.bus
        .publish(&audience, Event::ConversationDeleted { conversation_id })
        .await;
    Ok(())
}

/// Adds members to a group (owner only); existing members are skipped.
pub async fn add_members(
    st: &AppState,
    user_id: i64,
    conversation_id: i64,
    req: AddMembers,
) -> Result<ConversationDetail, DomainError> {
    let db = &st.db;
    let (conv, me) = conversation_for(db, conversation_id, user_id).await?;
    if !conv.is_group {
        return Err(DomainError::Conflict(
            "a 1:1 conversation cannot gain members".into(),
        ));
    }
    require_owner_of_group(&conv, &me)?;
    let wanted = active_users(db, "user_ids", &req.user_ids, user_id).await?;
    let current: HashSet<i64> = member_ids(db, conversation_id).await?.into_iter().collect();
    let new: Vec<i64> = wanted
        .into_iter()
        .filter(|u| !current.contains(u))
        .collect();
    if current.len() + new.len() > st.settings.max_group_members {
        return Err(DomainError::invalid(
            "user_ids",
            format!(
                "a group has at most {} members",
                st.settings.max_group_members
            ),
        ));
    }
    if !new.is_empty() {
        let now = Utc::now();
        let rows = new
            .iter()
            .map(|uid| new_member(conversation_id, *uid, Role::Member, Some(user_id), now));
        members::Entity::insert_many(rows).exec(db).await?;
    }
    let detail = build_detail(db, conv, me).await?;
    let audience: Vec<i64> = detail.members.iter().map(|m| m.id).collect();
    for uid in new {
        st.bus
            .publish(
                &audience,
                Event::MemberAdded {
                    conversation_id,
                    user_id: uid,
                },
            )
            .await;
    }
    Ok(detail)
}

/// Removes a member: the owner removes anyone, anyone removes themselves
/// (leaving). A leaving owner hands ownership to the longest-standing
/// member; the last member leaving deletes the conversation.
pub async fn remove_member(
    st: &AppState,
    user_id: i64,
    conversation_id: i64,
    target: i64,
) -> Result<(), DomainError> {
    let db = &st.db;
    let (conv, me) = conversation_for(db, conversation_id, user_id).await?;
    if target != user_id {
        if !conv.is_group || me.role != Role::Owner.as_str() {
            return Err(DomainError::Forbidden(
                "only the group's owner may remove other members".into(),
            ));
        }
        membership(db, conversation_id, target).await?;
    }
    let audience = member_ids(db, conversation_id).await?;
    let txn: DatabaseTransaction = db.begin().await?;
    members::Entity::delete_by_id((conversation_id, target))
        .exec(&txn)
        .await?;
    let remaining = members::Entity::find()
        .filter(members::Column::ConversationId.eq(conversation_id))
        .order_by_asc(members::Column::JoinedAt)
        .order_by_asc(members::Column::UserId)
        .all(&txn)
        .await?;
    let mut deleted = false;
    let mut files = Vec::new();
    if remaining.is_empty() {
        files = super::attachments::keys_in_conversation(&txn, conversation_id).await?;
        conversations::Entity::delete_by_id(conversation_id)
            .exec(&txn)
            .await?;
        deleted = true;
    } else if conv.is_group && conv.owner_id == Some(target) {
        let heir = remaining[0].clone();
        let heir_id = heir.user_id;
        let mut am: members::ActiveModel = heir.into();
        am.role = Set(Role::Owner.as_str().to_owned());
        am.update(&txn).await?;
        let mut c: conversations::ActiveModel = conv.into();
        c.owner_id = Set(Some(heir_id));
        c.update(&txn).await?;
    }
    txn.commit().await?;
    super::attachments::spawn_remove_objects(st, files);
    let event = if deleted {
        Event::ConversationDeleted { conversation_id }
    } else {
        Event::MemberRemoved {
            conversation_id,
            user_id: target,
        }
    };
    st.bus.publish(&audience, event).await;
    Ok(())
}

/// The caller's own mute/archive settings.
pub async fn update_settings(
    st: &AppState,
    user_id: i64,
    conversation_id: i64,
    req: UpdateSettings,
) -> Result<ConversationDetail, DomainError> {
    let db = &st.db;
    let (conv, me) = conversation_for(db, conversation_id, user_id).await?;
    let mut am: members::ActiveModel = me.into();
    if let Some(m) = req.is_muted {
        am.is_muted = Set(m);
    }
    if let Some(a) = req.is_archived {
        am.is_archived = Set(a);
    }
    let me = am.update(db).await?;
    build_detail(db, conv, me).await
}

/// Marks the conversation read up to `message_id` (or its newest message)
/// for the caller. The position never moves backwards.
pub async fn mark_read(
    st: &AppState,
    user_id: i64,
    conversation_id: i64,
    req: MarkRead,
) -> Result<ReadState, DomainError> {
    let db = &st.db;
    let me = membership(db, conversation_id, user_id).await?;
    let target = match req.message_id {
        Some(mid) => {
            super::messages::require_in_conversation(db, conversation_id, mid, "message_id", false)
                .await?;
            Some(mid)
        }
        None => conv_messages::Entity::find()
            .filter(conv_messages::Column::ConversationId.eq(conversation_id))
            .order_by_desc(conv_messages::Column::Id)
            .one(db)
            .await?
            .map(|m| m.id),
    };
    let current = me.last_read_message_id;
    let new_pos = match (current, target) {
        (Some(c), Some(t)) => Some(std::cmp::max(c, t)),
        (c, t) => c.or(t),
    };
    if new_pos != current {
        // Conditional update: a concurrent, further read is never undone.
        members::Entity::update_many()
            .col_expr(members::Column::LastReadMessageId, Expr::val(new_pos))
            .col_expr(members::Column::LastReadAt, Expr::val(Utc::now()))
            .filter(members::Column::ConversationId.eq(conversation_id))
            .filter(members::Column::UserId.eq(user_id))
            .filter(
                members::Column::LastReadMessageId
                    .is_null()
                    .or(members::Column::LastReadMessageId.lt(new_pos.unwrap_or(0))),
            )
            .exec(db)
            .await?;
        let audience = member_ids(db, conversation_id).await?;
        st.bus
            .publish(
                &audience,
                Event::MessageRead {
                    conversation_id,
                    user_id,
                    last_read_message_id: new_pos,
                },
            )
            .await;
    }
    let unread = unread_counts(db, user_id, &[conversation_id])
        .await?
        .get(&conversation_id)
        .copied()
        .unwrap_or(0);
    Ok(ReadState {
        conversation_id,
        last_read_message_id: new_pos,
        unread_count: unread,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let now = Utc::now();
        let c = encode_cursor(now, 42);
        assert_eq!(decode_cursor(&c).unwrap(), (now, 42));
        assert!(decode_cursor("nonsense").is_err());
        assert!(decode_cursor("2026-01-01T00:00:00Z_x").is_err());
    }
}
