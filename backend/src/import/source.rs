//! Reading the old portal's PostgreSQL tables (docs/legacy-import.md):
//! keyset-paged batches, never a whole table in memory.
//!
//! Timestamps are selected as `timestamptz`; sqlx opens every connection
//! with `TimeZone=UTC`, so a `timestamp without time zone` column is read
//! as UTC.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, QueryResult, Statement, Value,
};

#[derive(Clone)]
pub struct Source {
    pub db: DatabaseConnection,
}

pub struct OldUser {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub is_active: bool,
    pub notify_email_messages: bool,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub struct OldPrivate {
    pub id: i64,
    pub sender_id: i64,
    pub recipient_id: i64,
    pub subject: Option<String>,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

pub struct OldGroup {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub owner_id: i64,
    pub created_at: DateTime<Utc>,
}

pub struct OldMember {
    pub group_id: i64,
    pub user_id: i64,
    pub last_read_at: Option<DateTime<Utc>>,
    pub joined_at: DateTime<Utc>,
    pub added_by_id: Option<i64>,
}

pub struct OldGroupMessage {
    pub id: i64,
    pub group_id: i64,
    pub sender_id: i64,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

pub struct OldAttachment {
    pub id: i64,
    pub message_id: Option<i64>,
    pub group_message_id: Option<i64>,
    pub filename: String,
    pub stored_filename: String,
    pub mime_type: String,
    pub file_size: i64,
    pub created_at: DateTime<Utc>,
}

/// One member's old unread count in a conversation: for a 1:1 `key` is the
/// sender, for a group the group.
pub struct OldReadState {
    pub user_id: i64,
    pub key: i64,
    pub unread: i64,
    pub last_read_at: Option<DateTime<Utc>>,
}

fn get<T: sea_orm::TryGetable>(r: &QueryResult, col: &str) -> anyhow::Result<T> {
    r.try_get::<T>("", col)
        .map_err(|e| anyhow::anyhow!("source column {col}: {e}"))
}

/// Ids are `integer` or `bigint` in the old schema.
fn get_id(r: &QueryResult, col: &str) -> anyhow::Result<i64> {
    get::<i64>(r, col)
}

fn get_opt_id(r: &QueryResult, col: &str) -> anyhow::Result<Option<i64>> {
    get::<Option<i64>>(r, col)
}

impl Source {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        if crate::db::DbKind::from_url(url) != Some(crate::db::DbKind::Postgres) {
            anyhow::bail!("--source must be a postgres:// URL of the old portal's database");
        }
        let db = crate::db::connect(url, 2)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to the source database: {e}"))?;
        let s = Self { db };
        for table in [
            "users",
            "private_messages",
            "message_group",
            "message_group_member",
            "group_message",
            "message_attachments",
        ] {
            s.count(&format!("SELECT count(*) AS n FROM {table}"))
                .await
                .map_err(|e| anyhow::anyhow!("source table {table}: {e}"))?;
        }
        Ok(s)
    }

    async fn rows(&self, sql: &str, values: Vec<Value>) -> anyhow::Result<Vec<QueryResult>> {
        Ok(self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                sql,
                values,
            ))
            .await?)
    }

    /// A query returning one bigint column `n`.
    pub async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        let rows = self.rows(sql, vec![]).await?;
        match rows.first() {
            Some(r) => Ok(get::<Option<i64>>(r, "n")?.unwrap_or(0)),
            None => Ok(0),
        }
    }

    pub async fn users(&self, after: i64, limit: u64) -> anyhow::Result<Vec<OldUser>> {
        let rows = self
            .rows(
                "SELECT id::bigint AS id, email, name, is_active, notify_email_messages, \
                 password_hash, created_at::timestamptz AS created_at \
                 FROM users WHERE id > $1 ORDER BY id LIMIT $2",
                vec![after.into(), (limit as i64).into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OldUser {
                    id: get_id(r, "id")?,
                    email: get(r, "email")?,
                    name: get(r, "name")?,
                    is_active: get(r, "is_active")?,
                    notify_email_messages: get(r, "notify_email_messages")?,
                    password_hash: get(r, "password_hash")?,
                    created_at: get(r, "created_at")?,
                })
            })
            .collect()
    }

    /// Users referenced by messages or memberships whose row is gone.
    pub async fn missing_users(&self) -> anyhow::Result<Vec<i64>> {
        let rows = self
            .rows(
                "SELECT u.id::bigint AS id FROM ( \
                   SELECT sender_id AS id FROM private_messages \
                   UNION SELECT recipient_id FROM private_messages \
                   UNION SELECT sender_id FROM group_message \
                   UNION SELECT user_id FROM message_group_member) u \
                 WHERE NOT EXISTS (SELECT 1 FROM users x WHERE x.id = u.id) ORDER BY 1",
                vec![],
            )
            .await?;
        rows.iter().map(|r| get_id(r, "id")).collect()
    }

    pub async fn groups(&self, after: i64, limit: u64) -> anyhow::Result<Vec<OldGroup>> {
        let rows = self
            .rows(
                "SELECT id::bigint AS id, name, description, owner_id::bigint AS owner_id, \
                 created_at::timestamptz AS created_at \
                 FROM message_group WHERE id > $1 ORDER BY id LIMIT $2",
                vec![after.into(), (limit as i64).into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OldGroup {
                    id: get_id(r, "id")?,
                    name: get(r, "name")?,
                    description: get(r, "description")?,
                    owner_id: get_id(r, "owner_id")?,
                    created_at: get(r, "created_at")?,
                })
            })
            .collect()
    }

    pub async fn members_of(&self, group_ids: &[i64]) -> anyhow::Result<Vec<OldMember>> {
        if group_ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = join_ids(group_ids);
        let rows = self
            .rows(
                &format!(
                    "SELECT group_id::bigint AS group_id, user_id::bigint AS user_id, \
                     last_read_at::timestamptz AS last_read_at, joined_at::timestamptz AS joined_at, \
                     added_by_id::bigint AS added_by_id \
                     FROM message_group_member WHERE group_id IN ({list}) \
                     ORDER BY group_id, joined_at, user_id"
                ),
                vec![],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OldMember {
                    group_id: get_id(r, "group_id")?,
                    user_id: get_id(r, "user_id")?,
                    last_read_at: get(r, "last_read_at")?,
                    joined_at: get(r, "joined_at")?,
                    added_by_id: get_opt_id(r, "added_by_id")?,
                })
            })
            .collect()
    }

    pub async fn private_messages(
        &self,
        after: i64,
        limit: u64,
    ) -> anyhow::Result<Vec<OldPrivate>> {
        let rows = self
            .rows(
                "SELECT id::bigint AS id, sender_id::bigint AS sender_id, \
                 recipient_id::bigint AS recipient_id, subject, content, \
                 created_at::timestamptz AS created_at \
                 FROM private_messages WHERE id > $1 ORDER BY id LIMIT $2",
                vec![after.into(), (limit as i64).into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OldPrivate {
                    id: get_id(r, "id")?,
                    sender_id: get_id(r, "sender_id")?,
                    recipient_id: get_id(r, "recipient_id")?,
                    subject: get(r, "subject")?,
                    content: get::<Option<String>>(r, "content")?.unwrap_or_default(),
                    created_at: get(r, "created_at")?,
                })
            })
            .collect()
    }

    /// (id, parent_id) of replies, by id.
    pub async fn replies(&self, after: i64, limit: u64) -> anyhow::Result<Vec<(i64, i64)>> {
        let rows = self
            .rows(
                "SELECT id::bigint AS id, parent_id::bigint AS parent_id FROM private_messages \
                 WHERE parent_id IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
                vec![after.into(), (limit as i64).into()],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((get_id(r, "id")?, get_id(r, "parent_id")?)))
            .collect()
    }

    pub async fn group_messages(
        &self,
        after: i64,
        limit: u64,
    ) -> anyhow::Result<Vec<OldGroupMessage>> {
        let rows = self
            .rows(
                "SELECT id::bigint AS id, group_id::bigint AS group_id, \
                 sender_id::bigint AS sender_id, content, created_at::timestamptz AS created_at \
                 FROM group_message WHERE id > $1 ORDER BY id LIMIT $2",
                vec![after.into(), (limit as i64).into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OldGroupMessage {
                    id: get_id(r, "id")?,
                    group_id: get_id(r, "group_id")?,
                    sender_id: get_id(r, "sender_id")?,
                    content: get::<Option<String>>(r, "content")?.unwrap_or_default(),
                    created_at: get(r, "created_at")?,
                })
            })
            .collect()
    }

    /// Attachments that belong to a message (orphan uploads are skipped).
    pub async fn attachments(&self, after: i64, limit: u64) -> anyhow::Result<Vec<OldAttachment>> {
        let rows = self
            .rows(
                "SELECT id::bigint AS id, message_id::bigint AS message_id, \
                 group_message_id::bigint AS group_message_id, filename, stored_filename, \
                 mime_type, file_size::bigint AS file_size, created_at::timestamptz AS created_at \
                 FROM message_attachments \
                 WHERE id > $1 AND (message_id IS NOT NULL OR group_message_id IS NOT NULL) \
                 ORDER BY id LIMIT $2",
                vec![after.into(), (limit as i64).into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OldAttachment {
                    id: get_id(r, "id")?,
                    message_id: get_opt_id(r, "message_id")?,
                    group_message_id: get_opt_id(r, "group_message_id")?,
                    filename: get(r, "filename")?,
                    stored_filename: get(r, "stored_filename")?,
                    mime_type: get(r, "mime_type")?,
                    file_size: get(r, "file_size")?,
                    created_at: get(r, "created_at")?,
                })
            })
            .collect()
    }

    /// Per recipient and sender (not oneself): how many messages are unread
    /// and when the recipient last read one; keyset after (user, sender).
    pub async fn private_read_states(
        &self,
        after: (i64, i64),
        limit: u64,
    ) -> anyhow::Result<Vec<OldReadState>> {
        let rows = self
            .rows(
                "SELECT recipient_id::bigint AS user_id, sender_id::bigint AS key, \
                 count(*) FILTER (WHERE NOT is_read) AS unread, \
                 max(read_at)::timestamptz AS last_read_at \
                 FROM private_messages \
                 WHERE sender_id <> recipient_id AND (recipient_id, sender_id) > ($1, $2) \
                 GROUP BY recipient_id, sender_id ORDER BY recipient_id, sender_id LIMIT $3",
                vec![after.0.into(), after.1.into(), (limit as i64).into()],
            )
            .await?;
        rows.iter().map(read_state).collect()
    }

    /// Per group member: messages of others after their last read (or, never
    /// opened, after they joined); keyset after (user, group).
    pub async fn group_read_states(
        &self,
        after: (i64, i64),
        limit: u64,
    ) -> anyhow::Result<Vec<OldReadState>> {
        let rows = self
            .rows(
                &format!(
                    "SELECT gm.user_id::bigint AS user_id, gm.group_id::bigint AS key, \
                     ({GROUP_UNREAD}) AS unread, gm.last_read_at::timestamptz AS last_read_at \
                     FROM message_group_member gm WHERE (gm.user_id, gm.group_id) > ($1, $2) \
                     ORDER BY gm.user_id, gm.group_id LIMIT $3"
                ),
                vec![after.0.into(), after.1.into(), (limit as i64).into()],
            )
            .await?;
        rows.iter().map(read_state).collect()
    }

    /// Old unread totals per user (1:1 and groups), for the validation.
    pub async fn unread_totals(&self) -> anyhow::Result<Vec<(i64, i64)>> {
        let rows = self
            .rows(
                &format!(
                    "SELECT user_id, sum(n)::bigint AS n FROM ( \
                       SELECT recipient_id::bigint AS user_id, count(*) AS n FROM private_messages \
                       WHERE NOT is_read AND sender_id <> recipient_id GROUP BY recipient_id \
                       UNION ALL \
                       SELECT gm.user_id::bigint, ({GROUP_UNREAD}) FROM message_group_member gm \
                     ) t GROUP BY user_id ORDER BY user_id"
                ),
                vec![],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((get_id(r, "user_id")?, get::<i64>(r, "n")?)))
            .collect()
    }
}

/// The old unread rule of a group member `gm`.
const GROUP_UNREAD: &str = "SELECT count(*) FROM group_message m WHERE m.group_id = gm.group_id \
     AND m.sender_id <> gm.user_id AND m.created_at > COALESCE(gm.last_read_at, gm.joined_at)";

fn read_state(r: &QueryResult) -> anyhow::Result<OldReadState> {
    Ok(OldReadState {
        user_id: get_id(r, "user_id")?,
        key: get_id(r, "key")?,
        unread: get(r, "unread")?,
        last_read_at: get(r, "last_read_at")?,
    })
}

/// A SQL list of ids (numbers only, so no quoting issue).
pub fn join_ids(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}
