//! `messaging import-legacy`: the old portal's inbox (`private_messages`)
//! and group messaging (`message_group*`, `group_message`) brought into
//! conversations, with attachments and read state, then checked by counts.
//!
//! Shape: phases, each reading the source in keyset-paged batches and
//! writing each batch in ONE target transaction together with its rows in
//! `legacy_import_map`. So a second run imports nothing twice, and a run
//! that died resumes after its last committed batch. The importer never
//! publishes events or queues e-mails: history is not news. Message content
//! goes through `domain::render` exactly like a message sent today.
//! See docs/legacy-import.md for the rules (ordering, read state, owners).

pub mod files;
pub mod html;
pub mod map;
pub mod source;

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sea_orm::sea_query::{Expr, Func, Order, Query, QueryStatementBuilder};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};

use crate::db::entities::{
    conv_messages, conversation_members as members, conversations, message_attachments, users,
};
use crate::domain::conversations::{MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, unread_counts};
use crate::domain::{render, users::normalize_email};
use source::Source;

/// What `import-legacy` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub source_url: String,
    /// Where the old attachment files are (`stored_filename` is relative to it).
    pub files_dir: Option<PathBuf>,
    /// Where imported attachment files go: the service's configured
    /// storage (DATA_DIR/attachments or the S3 bucket). None in a dry run,
    /// which must not even create the attachments directory.
    pub storage: Option<crate::storage::Storage>,
    pub dry_run: bool,
    pub batch_size: u64,
    /// Stop as if killed after this many committed batches (tests of resuming).
    pub stop_after_batches: Option<u64>,
    /// Draw progress bars (only on a terminal).
    pub progress: bool,
}

/// One line of the validation table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub what: &'static str,
    pub old: i64,
    pub new: i64,
}

/// What a run did and found.
#[derive(Debug, Default)]
pub struct Report {
    pub dry_run: bool,
    /// Dry run: what would be done, one line each.
    pub plan: Vec<String>,
    pub counts: Vec<Count>,
    /// Users whose unread total differs: (e-mail, old, new).
    pub unread_mismatches: Vec<(String, i64, i64)>,
    pub users_compared: usize,
    /// Attachments whose file could not be copied: "id 3: path (reason)".
    pub missing_files: Vec<String>,
    pub notes: Vec<String>,
    /// Seconds per phase, in order.
    pub phase_secs: Vec<(&'static str, f64)>,
    pub elapsed_secs: f64,
}

impl Report {
    /// True when every count and every user's unread total matches.
    pub fn ok(&self) -> bool {
        self.dry_run
            || (self.counts.iter().all(|c| c.old == c.new) && self.unread_mismatches.is_empty())
    }

    /// The human-readable summary (stdout).
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        if self.dry_run {
            let _ = writeln!(s, "Dry run: nothing was written.");
            for line in &self.plan {
                let _ = writeln!(s, "  {line}");
            }
        } else {
            let _ = writeln!(s, "Validation (old portal vs messaging):");
            let _ = writeln!(s, "  {:<22} {:>10} {:>10}  ", "", "old", "new");
            for c in &self.counts {
                let mark = if c.old == c.new { "ok" } else { "DIFFERS" };
                let _ = writeln!(s, "  {:<22} {:>10} {:>10}  {mark}", c.what, c.old, c.new);
            }
            let _ = writeln!(
                s,
                "  unread totals per user: {} users compared, {} differ",
                self.users_compared,
                self.unread_mismatches.len()
            );
            for (email, old, new) in self.unread_mismatches.iter().take(50) {
                let _ = writeln!(s, "    {email}: old {old}, new {new}");
            }
        }
        if !self.missing_files.is_empty() {
            let _ = writeln!(
                s,
                "Attachment files not copied ({}), the attachments are listed without a file:",
                self.missing_files.len()
            );
            for m in self.missing_files.iter().take(100) {
                let _ = writeln!(s, "  {m}");
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "Note: {n}");
        }
        let phases: Vec<String> = self
            .phase_secs
            .iter()
            .map(|(name, secs)| format!("{name} {secs:.1}"))
            .collect();
        if phases.is_empty() {
            let _ = writeln!(s, "Took {:.1} s.", self.elapsed_secs);
        } else {
            let _ = writeln!(
                s,
                "Took {:.1} s ({} s).",
                self.elapsed_secs,
                phases.join(", ")
            );
        }
        s
    }
}

/// The run stopped on purpose (`stop_after_batches`), as if killed.
#[derive(Debug, thiserror::Error)]
#[error("stopped after {0} batches as asked; run again to resume")]
pub struct Interrupted(pub u64);

struct Ctx<'a> {
    db: &'a DatabaseConnection,
    src: Source,
    opts: &'a Options,
    batches: u64,
    report: Report,
}

impl Ctx<'_> {
    fn bar(&self, name: &str, total: i64) -> ProgressBar {
        let target = if self.opts.progress && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total.max(0) as u64), target);
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix:>18} [{bar:30}] {pos}/{len} ({per_sec}, ETA {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(name.to_owned());
        bar
    }

    /// Commits a batch and counts it (and stops when a test asked to).
    async fn commit(&mut self, txn: DatabaseTransaction) -> anyhow::Result<()> {
        txn.commit().await?;
        self.batches += 1;
        // The tables grow from empty faster than autovacuum analyzes them;
        // without statistics PostgreSQL scans the whole map for every
        // lookup, and each batch gets slower than the last. Statistics of a
        // table that is already large stay good as it grows (the planner
        // scales them by its current size), so the interval grows too.
        if [3, 10, 30, 100, 300, 1000, 3000].contains(&self.batches)
            && self.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres
        {
            self.db
                .execute_unprepared(
                    "ANALYZE legacy_import_map, conv_messages, conversations, \
                     conversation_members, users",
                )
                .await?;
        }
        if self.opts.stop_after_batches == Some(self.batches) {
            return Err(Interrupted(self.batches).into());
        }
        Ok(())
    }
}

/// Runs the import (or, with `dry_run`, only says what it would do).
pub async fn run(db: &DatabaseConnection, opts: &Options) -> anyhow::Result<Report> {
    let started = Instant::now();
    if opts.batch_size == 0 || opts.batch_size > 5000 {
        anyhow::bail!("--batch-size must be 1 to 5000");
    }
    let src = Source::connect(&opts.source_url).await?;
    let mut ctx = Ctx {
        db,
        src,
        opts,
        batches: 0,
        report: Report {
            dry_run: opts.dry_run,
            ..Report::default()
        },
    };
    if opts.dry_run {
        plan(&mut ctx).await?;
    } else {
        let mut t = Instant::now();
        let mut lap = |ctx: &mut Ctx<'_>, name: &'static str| {
            ctx.report
                .phase_secs
                .push((name, t.elapsed().as_secs_f64()));
            t = Instant::now();
        };
        import_users(&mut ctx).await?;
        lap(&mut ctx, "users");
        import_groups(&mut ctx).await?;
        lap(&mut ctx, "groups");
        defer_search_index(&mut ctx).await?;
        import_private(&mut ctx).await?;
        lap(&mut ctx, "private messages");
        import_group_messages(&mut ctx).await?;
        lap(&mut ctx, "group messages");
        link_replies(&mut ctx).await?;
        lap(&mut ctx, "replies");
        build_search_index(ctx.db).await?;
        lap(&mut ctx, "search index");
        import_attachments(&mut ctx).await?;
        lap(&mut ctx, "attachments");
        read_state(&mut ctx).await?;
        lap(&mut ctx, "read state");
        summaries(&ctx).await?;
        lap(&mut ctx, "summaries");
        validate(&mut ctx).await?;
        lap(&mut ctx, "validation");
    }
    ctx.report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(ctx.report)
}

/// Into an empty service on PostgreSQL, the trigram index of message search
/// is dropped before the messages and built once over the finished table
/// ([`build_search_index`]): one sort instead of a GIN insertion for every
/// message and every reply link (the bulk of the import's time). A run that
/// stops in between leaves the index missing until the next run, which
/// builds it whether or not it dropped it (search works meanwhile, without
/// the index).
async fn defer_search_index(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    if ctx.db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    let empty = target_count(
        ctx.db,
        "SELECT count(*) AS n FROM (SELECT 1 FROM conv_messages LIMIT 1) t",
    )
    .await?
        == 0;
    if empty {
        ctx.db
            .execute_unprepared(&format!(
                "DROP INDEX IF EXISTS {}",
                migration::SEARCH_INDEX_NAME
            ))
            .await?;
        ctx.report.notes.push(
            "the service held no messages: the search index was built after the import".to_owned(),
        );
    }
    Ok(())
}

/// Builds the search index if it is missing (PostgreSQL; also after an
/// interrupted first run, which left it dropped), with the memory a one-off
/// sort of every message deserves.
async fn build_search_index(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    let txn = db.begin().await?;
    txn.execute_unprepared("SET LOCAL maintenance_work_mem = '256MB'")
        .await?;
    txn.execute_unprepared(migration::CREATE_SEARCH_INDEX)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// A password hash the service can verify (argon2 PHC); others are dropped
/// and the user sets a new password.
fn usable_hash(h: Option<&str>) -> Option<String> {
    let h = h?.trim();
    let parsed = argon2::password_hash::PasswordHash::new(h).ok()?;
    parsed
        .algorithm
        .as_str()
        .starts_with("argon2")
        .then(|| h.to_owned())
}

fn placeholder_email(old_id: i64) -> String {
    format!("legacy-user-{old_id}@deleted.invalid")
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Markdown of a private message: the subject, if any, as a bold first line.
pub fn private_content(subject: Option<&str>, html_content: &str) -> String {
    let body = html::to_markdown(html_content);
    match subject.map(str::trim).filter(|s| !s.is_empty()) {
        Some(subj) if body.is_empty() => format!("**{}**", html::escape(subj)),
        Some(subj) => format!("**{}**\n\n{body}", html::escape(subj)),
        None => body,
    }
}

async fn import_users(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let total = ctx.src.count("SELECT count(*) AS n FROM users").await?;
    let bar = ctx.bar("users", total);
    let mut after = 0;
    let mut without_password = 0usize;
    loop {
        let rows = ctx.src.users(after, ctx.opts.batch_size).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let n = rows.len() as u64;
        let txn = ctx.db.begin().await?;
        let done = map::lookup(&txn, map::USER, rows.iter().map(|u| u.id)).await?;
        let pending: Vec<_> = rows
            .into_iter()
            .filter(|u| !done.contains_key(&u.id))
            .collect();
        if !pending.is_empty() {
            let people: Vec<NewPerson> = pending
                .into_iter()
                .map(|u| {
                    let email = normalize_email(&u.email);
                    let email = if crate::domain::users::is_valid_email(&email) {
                        email
                    } else {
                        placeholder_email(u.id)
                    };
                    let hash = usable_hash(u.password_hash.as_deref());
                    NewPerson {
                        old_id: u.id,
                        email,
                        name: clip(u.name.trim(), 200),
                        is_active: u.is_active,
                        notify: u.notify_email_messages,
                        hash,
                        created_at: u.created_at,
                    }
                })
                .collect();
            without_password += upsert_people(&txn, people).await?;
        }
        ctx.commit(txn).await?;
        bar.inc(n);
    }
    bar.finish();
    if without_password > 0 {
        ctx.report.notes.push(format!(
            "{without_password} imported users have no usable password: they set one with \
             `messaging user set-password --email …`"
        ));
    }

    // Senders and members whose user row is gone get an inactive account
    // of their own, so their messages keep a (deleted) author.
    let missing = ctx.src.missing_users().await?;
    if !missing.is_empty() {
        let bar = ctx.bar("deleted users", missing.len() as i64);
        for chunk in missing.chunks(ctx.opts.batch_size as usize) {
            let txn = ctx.db.begin().await?;
            let done = map::lookup(&txn, map::USER, chunk.iter().copied()).await?;
            let people: Vec<NewPerson> = chunk
                .iter()
                .filter(|id| !done.contains_key(id))
                .map(|&id| NewPerson {
                    old_id: id,
                    email: placeholder_email(id),
                    name: "Usunięty użytkownik".into(),
                    is_active: false,
                    notify: false,
                    hash: None,
                    created_at: Utc::now(),
                })
                .collect();
            upsert_people(&txn, people).await?;
            ctx.commit(txn).await?;
            bar.inc(chunk.len() as u64);
        }
        bar.finish();
        ctx.report.notes.push(format!(
            "{} old user ids referenced by messages have no row in users; they were imported \
             as inactive accounts named \"Usunięty użytkownik\"",
            missing.len()
        ));
    }
    Ok(())
}

struct NewPerson {
    old_id: i64,
    email: String,
    name: String,
    is_active: bool,
    notify: bool,
    hash: Option<String>,
    created_at: DateTime<Utc>,
}

/// Matches people by e-mail (existing accounts are kept as they are) or
/// creates them; maps every old id. Returns how many were created without
/// a usable password.
async fn upsert_people(txn: &DatabaseTransaction, people: Vec<NewPerson>) -> anyhow::Result<usize> {
    let emails: Vec<String> = people.iter().map(|p| p.email.clone()).collect();
    let mut by_email: HashMap<String, i64> = users::Entity::find()
        .filter(users::Column::Email.is_in(emails))
        .all(txn)
        .await?
        .into_iter()
        .map(|u| (u.email, u.id))
        .collect();
    // Two old accounts with the same address become one (the first wins).
    let mut fresh: Vec<&NewPerson> = Vec::new();
    let mut seen = HashSet::new();
    for p in &people {
        if !by_email.contains_key(&p.email) && seen.insert(p.email.clone()) {
            fresh.push(p);
        }
    }
    let without_password = fresh.iter().filter(|p| p.hash.is_none()).count();
    if !fresh.is_empty() {
        let now = Utc::now();
        let models = fresh.iter().map(|p| users::ActiveModel {
            email: Set(p.email.clone()),
            name: Set(p.name.clone()),
            password_hash: Set(p.hash.clone()),
            is_admin: Set(false),
            is_active: Set(p.is_active),
            notify_email_messages: Set(p.notify),
            language: Set("pl".into()),
            last_seen_at: Set(None),
            created_at: Set(p.created_at),
            updated_at: Set(now),
            ..Default::default()
        });
        let mut ids = users::Entity::insert_many(models)
            .exec_with_returning_keys(txn)
            .await?;
        // Ids are handed out in VALUES order within one statement.
        ids.sort_unstable();
        for (p, id) in fresh.iter().zip(ids) {
            by_email.insert(p.email.clone(), id);
        }
    }
    let pairs: Vec<(i64, i64)> = people
        .iter()
        .filter_map(|p| by_email.get(&p.email).map(|id| (p.old_id, *id)))
        .collect();
    map::insert(txn, map::USER, pairs).await?;
    Ok(without_password)
}

/// New user ids of old ones; every referenced user was imported first.
async fn users_of(
    txn: &DatabaseTransaction,
    ids: impl IntoIterator<Item = i64>,
) -> anyhow::Result<HashMap<i64, i64>> {
    let ids: Vec<i64> = ids.into_iter().collect();
    let found = map::lookup(txn, map::USER, ids.iter().copied()).await?;
    if let Some(missing) = ids.iter().find(|id| !found.contains_key(id)) {
        anyhow::bail!("old user {missing} was not imported (run the import again)");
    }
    Ok(found)
}

async fn import_groups(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let total = ctx
        .src
        .count("SELECT count(*) AS n FROM message_group")
        .await?;
    let bar = ctx.bar("groups", total);
    let mut after = 0;
    let batch = ctx.opts.batch_size.min(500);
    loop {
        let groups = ctx.src.groups(after, batch).await?;
        let Some(last) = groups.last() else { break };
        after = last.id;
        let n = groups.len() as u64;
        let txn = ctx.db.begin().await?;
        let done = map::lookup(&txn, map::GROUP, groups.iter().map(|g| g.id)).await?;
        let pending: Vec<_> = groups
            .into_iter()
            .filter(|g| !done.contains_key(&g.id))
            .collect();
        let ids: Vec<i64> = pending.iter().map(|g| g.id).collect();
        let old_members = ctx.src.members_of(&ids).await?;
        let user_ids: HashSet<i64> = old_members.iter().map(|m| m.user_id).collect();
        // An adder or an owner may be gone for good: then it is left empty.
        let extra = map::lookup(
            &txn,
            map::USER,
            old_members
                .iter()
                .filter_map(|m| m.added_by_id)
                .chain(pending.iter().map(|g| g.owner_id)),
        )
        .await?;
        let mut umap = users_of(&txn, user_ids).await?;
        umap.extend(extra);
        let mut mapped = Vec::with_capacity(pending.len());
        for g in &pending {
            // Members in joining order (the source sorts them so).
            let ms: Vec<&source::OldMember> =
                old_members.iter().filter(|m| m.group_id == g.id).collect();
            // The owner must be a member; a departed owner hands over to the
            // longest-standing member, as leaving does in the service.
            let owner_old = if ms.iter().any(|m| m.user_id == g.owner_id) {
                Some(g.owner_id)
            } else {
                ms.first().map(|m| m.user_id)
            };
            let owner = owner_old.and_then(|o| umap.get(&o).copied());
            let name = clip(g.name.trim(), MAX_NAME_CHARS);
            let conv = conversations::ActiveModel {
                name: Set(Some(if name.is_empty() {
                    "Grupa".into()
                } else {
                    name
                })),
                description: Set(g
                    .description
                    .as_deref()
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(|d| clip(d, MAX_DESCRIPTION_CHARS))),
                is_group: Set(true),
                owner_id: Set(owner),
                direct_key: Set(None),
                last_message_id: Set(None),
                created_at: Set(g.created_at),
                updated_at: Set(g.created_at),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            let mut seen = HashSet::new();
            let rows: Vec<members::ActiveModel> = ms
                .iter()
                .filter_map(|m| {
                    let uid = *umap.get(&m.user_id)?;
                    seen.insert(uid).then(|| members::ActiveModel {
                        conversation_id: Set(conv.id),
                        user_id: Set(uid),
                        role: Set(if Some(uid) == owner {
                            "owner"
                        } else {
                            "member"
                        }
                        .into()),
                        last_read_message_id: Set(None),
                        last_read_at: Set(m.last_read_at),
                        is_muted: Set(false),
                        is_archived: Set(false),
                        joined_at: Set(m.joined_at),
                        added_by_id: Set(m.added_by_id.and_then(|a| umap.get(&a).copied())),
                    })
                })
                .collect();
            if !rows.is_empty() {
                members::Entity::insert_many(rows)
                    .exec_without_returning(&txn)
                    .await?;
            }
            mapped.push((g.id, conv.id));
        }
        map::insert(&txn, map::GROUP, mapped).await?;
        ctx.commit(txn).await?;
        bar.inc(n);
    }
    bar.finish();
    Ok(())
}

/// A message's stored forms, made exactly as for a message sent today.
struct Rendered {
    content: String,
    html: String,
    search: String,
}

impl Rendered {
    fn new(content: String) -> Self {
        Self {
            html: render::to_html(&content),
            search: render::search_text(&content),
            content,
        }
    }
}

/// Reads the next page of a source table and renders it on the blocking
/// pool, so converting one batch overlaps with writing the previous one.
async fn fetch_rendered<T, F, R>(fetch: F, render_one: R) -> anyhow::Result<(Vec<T>, Vec<Rendered>)>
where
    T: Send + 'static,
    F: std::future::Future<Output = anyhow::Result<Vec<T>>>,
    R: Fn(&T) -> Rendered + Send + 'static,
{
    let rows = fetch.await?;
    Ok(tokio::task::spawn_blocking(move || {
        let rendered = rows.iter().map(render_one).collect();
        (rows, rendered)
    })
    .await?)
}

fn message_model(
    conversation_id: i64,
    sender_id: Option<i64>,
    r: Rendered,
    created_at: DateTime<Utc>,
) -> conv_messages::ActiveModel {
    conv_messages::ActiveModel {
        conversation_id: Set(conversation_id),
        sender_id: Set(sender_id),
        content_html: Set(r.html),
        content_search: Set(r.search),
        content: Set(r.content),
        reply_to_id: Set(None),
        forwarded_from_id: Set(None),
        client_id: Set(None),
        edited_at: Set(None),
        is_deleted: Set(false),
        deleted_at: Set(None),
        link_preview: Set(None),
        created_at: Set(created_at),
        ..Default::default()
    }
}

/// Inserts messages and maps their old ids; one statement for the rows.
async fn insert_messages(
    txn: &DatabaseTransaction,
    kind: &str,
    rows: Vec<(i64, conv_messages::ActiveModel)>,
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let (old_ids, models): (Vec<i64>, Vec<_>) = rows.into_iter().unzip();
    let mut ids = conv_messages::Entity::insert_many(models)
        .exec_with_returning_keys(txn)
        .await?;
    if ids.len() != old_ids.len() {
        anyhow::bail!(
            "the database returned {} ids for {} messages",
            ids.len(),
            old_ids.len()
        );
    }
    // One statement hands out ascending ids in VALUES order.
    ids.sort_unstable();
    map::insert(txn, kind, old_ids.into_iter().zip(ids)).await?;
    Ok(())
}

async fn import_private(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let total = ctx
        .src
        .count("SELECT count(*) AS n FROM private_messages")
        .await?;
    let bar = ctx.bar("private messages", total);
    bar.set_position(map::count(ctx.db, &[map::PM]).await?.max(0) as u64);
    // Batches commit in id order: everything up to the highest mapped id is in.
    let mut after = map::max_old(ctx.db, map::PM).await?.unwrap_or(0);
    let size = ctx.opts.batch_size;
    let page = |src: Source, after: i64| {
        tokio::spawn(async move {
            fetch_rendered(
                src.private_messages(after, size),
                |m: &source::OldPrivate| {
                    Rendered::new(private_content(m.subject.as_deref(), &m.content))
                },
            )
            .await
        })
    };
    let mut next = page(ctx.src.clone(), after);
    loop {
        let (rows, rendered) = next.await??;
        let Some(last) = rows.last() else { break };
        after = last.id;
        next = page(ctx.src.clone(), after);
        let n = rows.len() as u64;
        let txn = ctx.db.begin().await?;
        let done = map::lookup(&txn, map::PM, rows.iter().map(|m| m.id)).await?;
        let (rows, rendered): (Vec<_>, Vec<_>) = rows
            .into_iter()
            .zip(rendered)
            .filter(|(m, _)| !done.contains_key(&m.id))
            .unzip();
        for m in &rows {
            if m.sender_id.max(m.recipient_id) >= 1 << 31 || m.sender_id.min(m.recipient_id) < 0 {
                anyhow::bail!("private message {}: user ids must be 0 to 2^31", m.id);
            }
        }
        let umap = users_of(
            &txn,
            rows.iter().flat_map(|m| [m.sender_id, m.recipient_id]),
        )
        .await?;
        let convs = pair_conversations(&txn, &rows, &umap).await?;
        let mut out = Vec::with_capacity(rows.len());
        for (m, r) in rows.into_iter().zip(rendered) {
            let conv = convs[&map::pair_key(m.sender_id, m.recipient_id)];
            let sender = umap.get(&m.sender_id).copied();
            out.push((m.id, message_model(conv, sender, r, m.created_at)));
        }
        insert_messages(&txn, map::PM, out).await?;
        ctx.commit(txn).await?;
        bar.inc(n);
    }
    bar.finish();
    Ok(())
}

/// The 1:1 conversation of each pair in the batch: imported before, opened
/// in the service already (same `direct_key`), or created now with the
/// pair's first message as its start.
async fn pair_conversations(
    txn: &DatabaseTransaction,
    rows: &[source::OldPrivate],
    umap: &HashMap<i64, i64>,
) -> anyhow::Result<HashMap<i64, i64>> {
    let mut out = map::lookup(
        txn,
        map::PAIR,
        rows.iter()
            .map(|m| map::pair_key(m.sender_id, m.recipient_id)),
    )
    .await?;
    // First message of each unmapped pair, in id order.
    let mut wanted: Vec<(i64, (i64, i64), DateTime<Utc>)> = Vec::new();
    let mut seen = HashSet::new();
    for m in rows {
        let key = map::pair_key(m.sender_id, m.recipient_id);
        if out.contains_key(&key) || !seen.insert(key) {
            continue;
        }
        let a = umap[&m.sender_id];
        let b = umap[&m.recipient_id];
        wanted.push((key, (a.min(b), a.max(b)), m.created_at));
    }
    if wanted.is_empty() {
        return Ok(out);
    }
    let direct = |(a, b): (i64, i64)| format!("{a}:{b}");
    let mut by_key: HashMap<String, i64> = conversations::Entity::find()
        .filter(conversations::Column::DirectKey.is_in(wanted.iter().map(|w| direct(w.1))))
        .all(txn)
        .await?
        .into_iter()
        .filter_map(|c| c.direct_key.map(|k| (k, c.id)))
        .collect();
    let mut mapped = Vec::with_capacity(wanted.len());
    for (key, (a, b), at) in wanted {
        let dk = direct((a, b));
        let conv_id = match by_key.get(&dk) {
            Some(id) => *id,
            None => {
                let conv = conversations::ActiveModel {
                    name: Set(None),
                    description: Set(None),
                    is_group: Set(false),
                    owner_id: Set(None),
                    direct_key: Set(Some(dk.clone())),
                    last_message_id: Set(None),
                    created_at: Set(at),
                    updated_at: Set(at),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                let people: Vec<i64> = if a == b { vec![a] } else { vec![a, b] };
                let rows = people.into_iter().map(|uid| members::ActiveModel {
                    conversation_id: Set(conv.id),
                    user_id: Set(uid),
                    role: Set("member".into()),
                    last_read_message_id: Set(None),
                    last_read_at: Set(None),
                    is_muted: Set(false),
                    is_archived: Set(false),
                    joined_at: Set(at),
                    added_by_id: Set(None),
                });
                members::Entity::insert_many(rows)
                    .exec_without_returning(txn)
                    .await?;
                by_key.insert(dk, conv.id);
                conv.id
            }
        };
        out.insert(key, conv_id);
        mapped.push((key, conv_id));
    }
    map::insert(txn, map::PAIR, mapped).await?;
    Ok(out)
}

async fn import_group_messages(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let total = ctx
        .src
        .count("SELECT count(*) AS n FROM group_message")
        .await?;
    let bar = ctx.bar("group messages", total);
    bar.set_position(map::count(ctx.db, &[map::GM]).await?.max(0) as u64);
    let mut after = map::max_old(ctx.db, map::GM).await?.unwrap_or(0);
    let size = ctx.opts.batch_size;
    let page = |src: Source, after: i64| {
        tokio::spawn(async move {
            fetch_rendered(
                src.group_messages(after, size),
                |m: &source::OldGroupMessage| Rendered::new(html::to_markdown(&m.content)),
            )
            .await
        })
    };
    let mut next = page(ctx.src.clone(), after);
    loop {
        let (rows, rendered) = next.await??;
        let Some(last) = rows.last() else { break };
        after = last.id;
        next = page(ctx.src.clone(), after);
        let n = rows.len() as u64;
        let txn = ctx.db.begin().await?;
        let done = map::lookup(&txn, map::GM, rows.iter().map(|m| m.id)).await?;
        let (rows, rendered): (Vec<_>, Vec<_>) = rows
            .into_iter()
            .zip(rendered)
            .filter(|(m, _)| !done.contains_key(&m.id))
            .unzip();
        let umap = users_of(&txn, rows.iter().map(|m| m.sender_id)).await?;
        let groups = map::lookup(&txn, map::GROUP, rows.iter().map(|m| m.group_id)).await?;
        let mut out = Vec::with_capacity(rows.len());
        for (m, r) in rows.into_iter().zip(rendered) {
            // The group table has a foreign key; a missing group is a bug.
            let Some(&conv) = groups.get(&m.group_id) else {
                anyhow::bail!(
                    "group message {}: group {} was not imported",
                    m.id,
                    m.group_id
                );
            };
            out.push((
                m.id,
                message_model(conv, umap.get(&m.sender_id).copied(), r, m.created_at),
            ));
        }
        insert_messages(&txn, map::GM, out).await?;
        ctx.commit(txn).await?;
        bar.inc(n);
    }
    bar.finish();
    Ok(())
}

/// `parent_id` -> `reply_to_id`, once every message has its new id (a
/// parent may come later in id order). A parent in another conversation
/// is not linked: a reply quote must never show another pair's message.
/// Set-based: the (reply, parent) pairs go into a temporary table in the
/// target, then one UPDATE joins them through the map, instead of looking
/// up every pair. One transaction (the temporary table lives on its
/// connection); it only fills `reply_to_id`s that are still empty, so a run
/// that died in it simply does it again.
async fn link_replies(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let total = ctx
        .src
        .count("SELECT count(*) AS n FROM private_messages WHERE parent_id IS NOT NULL")
        .await?;
    let bar = ctx.bar("replies", total);
    let txn = ctx.db.begin().await?;
    txn.execute_unprepared(
        "CREATE TEMPORARY TABLE legacy_reply (reply_old BIGINT PRIMARY KEY, parent_old BIGINT NOT NULL)",
    )
    .await?;
    let mut after = 0;
    loop {
        let rows = ctx.src.replies(after, 5000).await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        let values: Vec<String> = rows.iter().map(|(r, p)| format!("({r},{p})")).collect();
        txn.execute_unprepared(&format!(
            "INSERT INTO legacy_reply (reply_old, parent_old) VALUES {}",
            values.join(",")
        ))
        .await?;
        bar.inc(rows.len() as u64);
    }
    // The pairs whose both ends were imported, with their conversations.
    let pairs = format!(
        "FROM legacy_reply r \
         JOIN legacy_import_map rm ON rm.kind = '{pm}' AND rm.old_id = r.reply_old \
         JOIN legacy_import_map pm ON pm.kind = '{pm}' AND pm.old_id = r.parent_old \
         JOIN conv_messages child ON child.id = rm.new_id \
         JOIN conv_messages parent ON parent.id = pm.new_id",
        pm = map::PM
    );
    let across = target_count(
        &txn,
        &format!(
            "SELECT count(*) AS n {pairs} WHERE child.conversation_id <> parent.conversation_id"
        ),
    )
    .await?;
    txn.execute_unprepared(&format!(
        "UPDATE conv_messages SET reply_to_id = link.parent_id \
         FROM (SELECT child.id AS child_id, parent.id AS parent_id {pairs} \
               WHERE child.conversation_id = parent.conversation_id \
               AND child.reply_to_id IS NULL) link \
         WHERE conv_messages.id = link.child_id"
    ))
    .await?;
    txn.execute_unprepared("DROP TABLE legacy_reply").await?;
    ctx.commit(txn).await?;
    bar.finish();
    if across > 0 {
        ctx.report.notes.push(format!(
            "{across} replies quoted a message of another conversation; they were imported \
             without the quote"
        ));
    }
    Ok(())
}

async fn import_attachments(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let total = ctx
        .src
        .count(
            "SELECT count(*) AS n FROM message_attachments \
             WHERE message_id IS NOT NULL OR group_message_id IS NOT NULL",
        )
        .await?;
    let bar = ctx.bar("attachments", total);
    let mut after = 0;
    let batch = ctx.opts.batch_size.min(500);
    if ctx.opts.files_dir.is_none() && total > 0 {
        ctx.report
            .notes
            .push("no --files-dir given: attachment files were not copied".into());
    }
    loop {
        let rows = ctx.src.attachments(after, batch).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let n = rows.len() as u64;
        let txn = ctx.db.begin().await?;
        let done = map::lookup(&txn, map::ATT, rows.iter().map(|a| a.id)).await?;
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|a| !done.contains_key(&a.id))
            .collect();
        let pms = map::lookup(&txn, map::PM, rows.iter().filter_map(|a| a.message_id)).await?;
        let gms = map::lookup(
            &txn,
            map::GM,
            rows.iter().filter_map(|a| a.group_message_id),
        )
        .await?;
        let senders: HashMap<i64, Option<i64>> = conv_messages::Entity::find()
            .select_only()
            .columns([conv_messages::Column::Id, conv_messages::Column::SenderId])
            .filter(conv_messages::Column::Id.is_in(pms.values().chain(gms.values()).copied()))
            .into_tuple::<(i64, Option<i64>)>()
            .all(&txn)
            .await?
            .into_iter()
            .collect();
        let mut mapped = Vec::new();
        for a in rows {
            let msg = a
                .message_id
                .and_then(|m| pms.get(&m))
                .or_else(|| a.group_message_id.and_then(|m| gms.get(&m)))
                .copied();
            let Some(msg) = msg else {
                anyhow::bail!("attachment {}: its message was not imported", a.id);
            };
            let key = files::storage_key(a.id, a.created_at);
            let mut size = a.file_size;
            match &ctx.opts.files_dir {
                None => ctx.report.missing_files.push(format!(
                    "id {}: {} (no --files-dir)",
                    a.id, a.stored_filename
                )),
                Some(dir) => match files::source_path(dir, &a.stored_filename) {
                    None => ctx.report.missing_files.push(format!(
                        "id {}: {} (path leaves --files-dir)",
                        a.id, a.stored_filename
                    )),
                    Some(src) => {
                        let copied = match &ctx.opts.storage {
                            Some(storage) => files::copy_attachment(storage, &key, &src).await,
                            None => Err(std::io::Error::other("no attachment storage")),
                        };
                        match copied {
                            Ok(bytes) => size = bytes as i64,
                            Err(e) => ctx.report.missing_files.push(format!(
                                "id {}: {} ({e})",
                                a.id,
                                src.display()
                            )),
                        }
                    }
                },
            }
            let row = message_attachments::ActiveModel {
                uploader_id: Set(senders.get(&msg).copied().flatten()),
                message_id: Set(Some(msg)),
                filename: Set(clip(&a.filename, 255)),
                content_type: Set(clip(&a.mime_type, 128)),
                size_bytes: Set(size),
                storage_key: Set(key),
                width: Set(None),
                height: Set(None),
                has_thumbnail: Set(false),
                created_at: Set(a.created_at),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            mapped.push((a.id, row.id));
        }
        map::insert(&txn, map::ATT, mapped).await?;
        ctx.commit(txn).await?;
        bar.inc(n);
    }
    bar.finish();
    Ok(())
}

/// Read positions that reproduce the old unread counts: with k unread, the
/// member has read up to the message before the k newest messages of
/// others (imported ones only). Positions already set are kept, so running
/// again never moves anyone's read state.
async fn read_state(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let Some(bound) = map::max_new(ctx.db, &[map::PM, map::GM]).await? else {
        return Ok(());
    };
    for group in [false, true] {
        let bar = ctx.bar(
            if group {
                "read state (groups)"
            } else {
                "read state (1:1)"
            },
            0,
        );
        let mut after = (0, 0);
        // Each source page aggregates from its keyset position on: large
        // pages keep the number of those scans small.
        let page = ctx.opts.batch_size.max(1000);
        loop {
            let rows = if group {
                ctx.src.group_read_states(after, page).await?
            } else {
                ctx.src.private_read_states(after, page).await?
            };
            let Some(last) = rows.last() else { break };
            after = (last.user_id, last.key);
            let n = rows.len() as u64;
            let txn = ctx.db.begin().await?;
            let umap = map::lookup(&txn, map::USER, rows.iter().map(|r| r.user_id)).await?;
            let convs = if group {
                map::lookup(&txn, map::GROUP, rows.iter().map(|r| r.key)).await?
            } else {
                map::lookup(
                    &txn,
                    map::PAIR,
                    rows.iter().map(|r| map::pair_key(r.user_id, r.key)),
                )
                .await?
            };
            for r in rows {
                let key = if group {
                    r.key
                } else {
                    map::pair_key(r.user_id, r.key)
                };
                let (Some(&uid), Some(&conv)) = (umap.get(&r.user_id), convs.get(&key)) else {
                    continue;
                };
                set_read_position(&txn, conv, uid, r.unread, r.last_read_at, bound).await?;
            }
            ctx.commit(txn).await?;
            bar.inc_length(n);
            bar.inc(n);
        }
        bar.finish();
    }
    Ok(())
}

async fn set_read_position(
    txn: &DatabaseTransaction,
    conversation_id: i64,
    user_id: i64,
    unread: i64,
    last_read_at: Option<DateTime<Utc>>,
    bound: i64,
) -> anyhow::Result<()> {
    use conv_messages::Column as M;
    use sea_orm::ExprTrait;
    let mut pos = Query::select();
    pos.from(conv_messages::Entity)
        .and_where(Expr::col(M::ConversationId).eq(conversation_id))
        .and_where(Expr::col(M::Id).lte(bound));
    if unread == 0 {
        // Nothing unread: read up to the last message.
        pos.expr(Func::max(Expr::col(M::Id)));
    } else {
        // The same rule as `unread_counts`: others' messages, not deleted.
        pos.column(M::Id)
            .and_where(Expr::col(M::IsDeleted).eq(false))
            .and_where(
                Expr::col(M::SenderId)
                    .ne(user_id)
                    .or(Expr::col(M::SenderId).is_null()),
            )
            .order_by(M::Id, Order::Desc)
            .limit(1)
            .offset(unread as u64);
    }
    members::Entity::update_many()
        .col_expr(
            members::Column::LastReadMessageId,
            Expr::SubQuery(None, Box::new(pos.into_sub_query_statement())),
        )
        .col_expr(members::Column::LastReadAt, Expr::val(last_read_at))
        .filter(members::Column::ConversationId.eq(conversation_id))
        .filter(members::Column::UserId.eq(user_id))
        .filter(members::Column::LastReadMessageId.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

/// Each imported conversation's last message and activity time, set-based
/// (one pass over the messages; a correlated `max(id)` per conversation
/// lets PostgreSQL walk the primary key backwards instead).
async fn summaries(ctx: &Ctx<'_>) -> anyhow::Result<()> {
    let imported = "SELECT new_id FROM legacy_import_map WHERE kind IN ('pair', 'group')";
    ctx.db
        .execute_unprepared(&format!(
            "UPDATE conversations SET last_message_id = last.id \
             FROM (SELECT conversation_id, max(id) AS id FROM conv_messages \
                   WHERE is_deleted = false GROUP BY conversation_id) last \
             WHERE conversations.id = last.conversation_id AND conversations.id IN ({imported})"
        ))
        .await?;
    ctx.db
        .execute_unprepared(&format!(
            "UPDATE conversations SET updated_at = m.created_at FROM conv_messages m \
             WHERE m.id = conversations.last_message_id AND conversations.id IN ({imported})"
        ))
        .await?;
    Ok(())
}

async fn target_count(db: &impl ConnectionTrait, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<Option<i64>>("", "n")?.unwrap_or(0),
        None => 0,
    })
}

/// Old counts next to what the target holds for them, and every user's
/// unread total computed by the service's own `unread_counts`.
async fn validate(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let src = &ctx.src;
    let missing = src.missing_users().await?.len() as i64;
    let mapped = |kinds: &str, table: &str| {
        format!(
            "SELECT count(*) AS n FROM legacy_import_map l JOIN {table} t ON t.id = l.new_id \
             WHERE l.kind IN ({kinds})"
        )
    };
    let counts = vec![
        Count {
            what: "users",
            old: src.count("SELECT count(*) AS n FROM users").await? + missing,
            new: target_count(ctx.db, &mapped("'user'", "users")).await?,
        },
        Count {
            what: "conversations",
            old: src
                .count(
                    "SELECT (SELECT count(*) FROM (SELECT DISTINCT least(sender_id, recipient_id), \
                     greatest(sender_id, recipient_id) FROM private_messages) p) \
                     + (SELECT count(*) FROM message_group) AS n",
                )
                .await?,
            new: target_count(ctx.db, &mapped("'pair', 'group'", "conversations")).await?,
        },
        Count {
            what: "messages",
            old: src
                .count(
                    "SELECT (SELECT count(*) FROM private_messages) \
                     + (SELECT count(*) FROM group_message) AS n",
                )
                .await?,
            new: target_count(ctx.db, &mapped("'pm', 'gm'", "conv_messages")).await?,
        },
        Count {
            what: "attachments",
            old: src
                .count(
                    "SELECT count(*) AS n FROM message_attachments \
                     WHERE message_id IS NOT NULL OR group_message_id IS NOT NULL",
                )
                .await?,
            new: target_count(ctx.db, &mapped("'att'", "message_attachments")).await?,
        },
    ];

    // Old totals per new user (two old accounts with one e-mail add up).
    let bar = ctx.bar("unread check", 0);
    let old_totals = src.unread_totals().await?;
    let umap = map::lookup(ctx.db, map::USER, old_totals.iter().map(|t| t.0)).await?;
    let mut old_by_user: HashMap<i64, i64> = HashMap::new();
    for (old_id, n) in old_totals {
        if let Some(uid) = umap.get(&old_id) {
            *old_by_user.entry(*uid).or_default() += n;
        }
    }
    let mut user_ids: Vec<i64> = old_by_user.keys().copied().collect();
    user_ids.sort_unstable();
    bar.set_length(user_ids.len() as u64);
    let mut mismatches = Vec::new();
    let (mut old_sum, mut new_sum) = (0i64, 0i64);
    // The imported conversations (one id each, small next to the messages).
    let imported: HashSet<i64> = crate::db::entities::legacy_import_map::Entity::find()
        .select_only()
        .column(crate::db::entities::legacy_import_map::Column::NewId)
        .filter(crate::db::entities::legacy_import_map::Column::Kind.is_in([map::PAIR, map::GROUP]))
        .into_tuple::<i64>()
        .all(ctx.db)
        .await?
        .into_iter()
        .collect();
    for chunk in user_ids.chunks(500) {
        let mut convs: HashMap<i64, Vec<i64>> = HashMap::new();
        for (uid, conv) in members::Entity::find()
            .select_only()
            .columns([members::Column::UserId, members::Column::ConversationId])
            .filter(members::Column::UserId.is_in(chunk.iter().copied()))
            .into_tuple::<(i64, i64)>()
            .all(ctx.db)
            .await?
        {
            if imported.contains(&conv) {
                convs.entry(uid).or_default().push(conv);
            }
        }
        for uid in chunk {
            let ids = convs.remove(uid).unwrap_or_default();
            let new: i64 = unread_counts(ctx.db, *uid, &ids)
                .await
                .map_err(|e| anyhow::anyhow!("unread counts: {e}"))?
                .values()
                .sum();
            let old = old_by_user[uid];
            old_sum += old;
            new_sum += new;
            if old != new {
                mismatches.push((*uid, old, new));
            }
            bar.inc(1);
        }
    }
    bar.finish();
    let emails: HashMap<i64, String> = users::Entity::find()
        .filter(users::Column::Id.is_in(mismatches.iter().map(|m| m.0)))
        .all(ctx.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.email))
        .collect();
    ctx.report.counts = counts;
    ctx.report.counts.push(Count {
        what: "unread (all users)",
        old: old_sum,
        new: new_sum,
    });
    ctx.report.users_compared = user_ids.len();
    ctx.report.unread_mismatches = mismatches
        .into_iter()
        .map(|(uid, o, n)| (emails.get(&uid).cloned().unwrap_or_default(), o, n))
        .collect();
    Ok(())
}

/// `--dry-run`: reads the source and the target, writes nothing.
async fn plan(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let src = &ctx.src;
    let db = ctx.db;
    // The target may not even be migrated yet: read what exists.
    let already =
        |kinds: &'static [&'static str]| async move { map::count(db, kinds).await.unwrap_or(0) };
    let users_total = src.count("SELECT count(*) AS n FROM users").await?;
    let users_done = already(&[map::USER]).await;
    // Who would be matched by e-mail, and who would need a new password.
    let (mut matched, mut fresh, mut no_password) = (0usize, 0usize, 0usize);
    let mut after = 0;
    loop {
        let rows = src.users(after, ctx.opts.batch_size).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let done = map::lookup(ctx.db, map::USER, rows.iter().map(|u| u.id))
            .await
            .unwrap_or_default();
        let emails: Vec<String> = rows
            .iter()
            .filter(|u| !done.contains_key(&u.id))
            .map(|u| normalize_email(&u.email))
            .collect();
        let existing: HashSet<String> = users::Entity::find()
            .filter(users::Column::Email.is_in(emails))
            .all(ctx.db)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|u| u.email)
            .collect();
        for u in rows.iter().filter(|u| !done.contains_key(&u.id)) {
            if existing.contains(&normalize_email(&u.email)) {
                matched += 1;
            } else {
                fresh += 1;
                if usable_hash(u.password_hash.as_deref()).is_none() {
                    no_password += 1;
                }
            }
        }
    }
    let missing = src.missing_users().await?.len();
    let pm = src
        .count("SELECT count(*) AS n FROM private_messages")
        .await?;
    let gm = src.count("SELECT count(*) AS n FROM group_message").await?;
    let groups = src.count("SELECT count(*) AS n FROM message_group").await?;
    let pairs = src
        .count(
            "SELECT count(*) AS n FROM (SELECT DISTINCT least(sender_id, recipient_id), \
             greatest(sender_id, recipient_id) FROM private_messages) p",
        )
        .await?;
    let atts = src
        .count(
            "SELECT count(*) AS n FROM message_attachments \
             WHERE message_id IS NOT NULL OR group_message_id IS NOT NULL",
        )
        .await?;
    let p = &mut ctx.report.plan;
    p.push(format!(
        "users: {users_total} in the source, {users_done} imported before; would create \
         {fresh} ({no_password} without a usable password) and match {matched} existing \
         accounts by e-mail; {missing} deleted users would get inactive accounts"
    ));
    p.push(format!(
        "conversations: {pairs} 1:1 and {groups} groups in the source, {} imported before",
        already(&[map::PAIR, map::GROUP]).await
    ));
    p.push(format!(
        "messages: {pm} private and {gm} group messages in the source, {} imported before",
        already(&[map::PM, map::GM]).await
    ));
    p.push(format!(
        "attachments: {atts} in the source, {} imported before",
        already(&[map::ATT]).await
    ));
    // Which files would be missing.
    let mut after = 0;
    loop {
        let rows = ctx.src.attachments(after, ctx.opts.batch_size).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for a in rows {
            let path = ctx
                .opts
                .files_dir
                .as_deref()
                .and_then(|d| files::source_path(d, &a.stored_filename));
            match path {
                Some(p) if p.is_file() => {}
                Some(p) => ctx.report.missing_files.push(format!(
                    "id {}: {} (not found)",
                    a.id,
                    p.display()
                )),
                None => ctx.report.missing_files.push(format!(
                    "id {}: {} (not reachable)",
                    a.id, a.stored_filename
                )),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_become_a_bold_first_line() {
        assert_eq!(
            private_content(Some("Re: *Spotkanie*"), "<p>Będę.</p>"),
            "**Re: \\*Spotkanie\\***\n\nBędę."
        );
        assert_eq!(private_content(Some("  "), "<p>x</p>"), "x");
        assert_eq!(private_content(None, ""), "");
        let html = render::to_html(&private_content(Some("Temat"), "<p>a</p>"));
        assert_eq!(html, "<p><strong>Temat</strong></p>\n<p>a</p>");
    }

    #[test]
    fn only_argon2_hashes_are_kept() {
        let h = crate::auth::password::hash("sekret-123").unwrap();
        assert_eq!(usable_hash(Some(&h)), Some(h.clone()));
        assert_eq!(
            usable_hash(Some(
                "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
            )),
            None
        );
        assert_eq!(usable_hash(Some("pbkdf2_sha256$260000$abc$def")), None);
        assert_eq!(usable_hash(None), None);
    }
}
