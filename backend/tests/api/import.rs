//! `messaging import-legacy`: the fixture portal database
//! (tests/fixtures/legacy_*.sql, every edge case) imported into PostgreSQL
//! and SQLite, checked message by message, through the API as a member
//! sees it, run twice, interrupted and resumed, and dry-run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use backend::db::entities::{
    conv_messages, conversation_members, conversations, message_attachments, users,
};
use backend::domain::render;
use backend::import::{self, map};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::Value;

use crate::helpers::{Db, TestApp, TestDb, bare_client, fresh_db, spawn_app};

const SCHEMA: &str = include_str!("../fixtures/legacy_schema.sql");
const DATA: &str = include_str!("../fixtures/legacy_data.sql");
const ANNA_PASSWORD: &str = "anna-stare-haslo-1";

/// The old portal's database, loaded from the fixture (dropped at the end).
struct Legacy {
    db: TestDb,
    conn: DatabaseConnection,
    files: tempfile::TempDir,
}

async fn legacy() -> Legacy {
    let db = fresh_db(Db::Postgres).await;
    let conn = backend::db::connect(&db.url, 2).await.expect("source");
    conn.execute_unprepared(SCHEMA).await.expect("schema");
    conn.execute_unprepared(DATA).await.expect("data");
    // Anna's old hash is argon2: her password keeps working.
    let hash = backend::auth::password::hash(ANNA_PASSWORD).unwrap();
    conn.execute_unprepared(&format!(
        "UPDATE users SET password_hash = '{hash}' WHERE id = 1"
    ))
    .await
    .unwrap();
    let files = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(files.path().join("ab/cd")).unwrap();
    std::fs::write(files.path().join("ab/cd/umowa-1.pdf"), b"PDF-bytes").unwrap();
    std::fs::write(files.path().join("agenda.txt"), b"agenda").unwrap();
    // zdjecie-2.png is missing on purpose.
    Legacy { db, conn, files }
}

fn options(src: &Legacy, data_dir: &Path) -> import::Options {
    import::Options {
        source_url: src.db.url.clone(),
        files_dir: Some(src.files.path().to_path_buf()),
        storage: Some(backend::storage::Storage::local(&data_dir.join("attachments")).unwrap()),
        dry_run: false,
        batch_size: 1000,
        stop_after_batches: None,
        progress: false,
    }
}

/// Expected Markdown of every old message, and the old parent to link.
fn expected_private() -> Vec<(i64, &'static str, Option<i64>)> {
    vec![
        (
            1,
            "**Spotkanie**\n\nCześć **Bolek**, zobacz [wydarzenia](https://portal.pl/wydarzenia).",
            None,
        ),
        (2, "**Re: Spotkanie**\n\nDzięki!\nBędę.", Some(1)),
        (3, "- jeden\n- dwa", None),
        (4, "bez skryptów *kursywa*", None),
        (5, "**Notatka**\n\nkupić mleko", None),
        (6, "wiadomość od usuniętego konta", None),
        (7, "", None),
        // Its parent is in the A–B conversation, this one in A–C: no quote.
        (8, "odpowiedź w innej rozmowie", None),
        (9, "pierwsza linia\ndruga linia", None),
        (10, r"a & b \<tag\> 2 \* 3 = 6, \_x\_ \[1\]", None),
        (11, "Nested: **bold *both*** and bad link", Some(3)),
    ]
}

fn expected_group() -> Vec<(i64, &'static str)> {
    vec![
        (1, "Witajcie w **zarządzie**"),
        (2, "1. punkt\n2. drugi punkt"),
        (3, "stary wpis"),
        (4, "Żegnajcie"),
        (5, ""),
    ]
}

async fn one(map_db: &DatabaseConnection, kind: &str, old: i64) -> i64 {
    *map::lookup(map_db, kind, [old])
        .await
        .unwrap()
        .get(&old)
        .unwrap_or_else(|| panic!("{kind} {old} not mapped"))
}

async fn old_row(src: &DatabaseConnection, sql: &str) -> (i64, DateTime<Utc>) {
    let r = src
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            sql,
        ))
        .await
        .unwrap()
        .unwrap();
    (
        r.try_get::<i64>("", "sender").unwrap(),
        r.try_get::<DateTime<Utc>>("", "created_at").unwrap(),
    )
}

/// Every old message against its new row: content, rendering, search
/// text, sender, time, conversation and reply link.
async fn assert_messages(db: &DatabaseConnection, src: &DatabaseConnection) {
    let mut conv_of = HashMap::new();
    for (old, content, parent) in expected_private() {
        let id = one(db, map::PM, old).await;
        let m = conv_messages::Entity::find_by_id(id)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.content, content, "private message {old}");
        assert_eq!(m.content_html, render::to_html(content), "html of {old}");
        assert_eq!(m.content_search, render::search_text(content));
        let (sender, at) = old_row(
            src,
            &format!(
                "SELECT sender_id::bigint AS sender, created_at FROM private_messages WHERE id = {old}"
            ),
        )
        .await;
        assert_eq!(m.sender_id, Some(one(db, map::USER, sender).await), "{old}");
        assert_eq!(m.created_at, at, "created_at of {old}");
        let want_reply = match parent {
            Some(p) => Some(one(db, map::PM, p).await),
            None => None,
        };
        assert_eq!(m.reply_to_id, want_reply, "reply of {old}");
        assert!(!m.is_deleted && m.forwarded_from_id.is_none());
        conv_of.insert(old, m.conversation_id);
    }
    // A→B and B→A are one conversation; the others are their own.
    for old in [2, 3, 4, 9, 11] {
        assert_eq!(
            conv_of[&old], conv_of[&1],
            "message {old} in the A–B conversation"
        );
    }
    for old in [5, 6, 7, 8, 10] {
        assert_ne!(conv_of[&old], conv_of[&1], "message {old}");
    }
    for (old, content) in expected_group() {
        let id = one(db, map::GM, old).await;
        let m = conv_messages::Entity::find_by_id(id)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.content, content, "group message {old}");
        assert_eq!(m.content_html, render::to_html(content));
        let (sender, at) = old_row(
            src,
            &format!(
                "SELECT sender_id::bigint AS sender, created_at FROM group_message WHERE id = {old}"
            ),
        )
        .await;
        assert_eq!(m.sender_id, Some(one(db, map::USER, sender).await));
        assert_eq!(m.created_at, at);
    }
}

async fn counts(db: &DatabaseConnection) -> [u64; 6] {
    [
        users::Entity::find().count(db).await.unwrap(),
        conversations::Entity::find().count(db).await.unwrap(),
        conversation_members::Entity::find()
            .count(db)
            .await
            .unwrap(),
        conv_messages::Entity::find().count(db).await.unwrap(),
        message_attachments::Entity::find().count(db).await.unwrap(),
        backend::db::entities::legacy_import_map::Entity::find()
            .count(db)
            .await
            .unwrap(),
    ]
}

async fn conversations_of(app: &TestApp, email: &str, password: &str) -> Vec<Value> {
    let client = bare_client();
    let r = app.login_with(&client, email, password).await;
    assert_eq!(r.status(), 200, "login of {email}");
    let cookie = crate::helpers::session_cookie(&r);
    let page: Value = client
        .get(app.url("/api/conversations?limit=100"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

async fn everything_is_imported(kind: Db) {
    let app = spawn_app(kind).await;
    let src = legacy().await;
    // Bolek already has an account: it is kept (name, password).
    let bolek = app
        .create_user("bolek@portal.pl", "Bolek (nowe konto)", "bolek-haslo-1")
        .await;
    let data = tempfile::tempdir().unwrap();
    let report = import::run(&app.db, &options(&src, data.path()))
        .await
        .expect("import");
    assert!(report.ok(), "{}", report.render());
    assert!(search_index_built(&app).await);
    let table = report.render();
    for line in ["users", "conversations", "messages", "attachments"] {
        assert!(
            table.lines().any(|l| l.contains(line) && l.ends_with("ok")),
            "{table}"
        );
    }
    // 5 users and the deleted user 99; 5 pairs and 2 groups; 11 + 5
    // messages; 3 attachments; unread: Anna 2, Bolek 4, Cezary 1, Dorota 2, Ewa 1.
    let got: Vec<(&str, i64, i64)> = report
        .counts
        .iter()
        .map(|c| (c.what, c.old, c.new))
        .collect();
    assert_eq!(
        got,
        vec![
            ("users", 6, 6),
            ("conversations", 7, 7),
            ("messages", 16, 16),
            ("attachments", 3, 3),
            ("unread (all users)", 10, 10),
        ]
    );
    assert_eq!(report.users_compared, 5);

    assert_messages(&app.db, &src.conn).await;

    // Users: matched by e-mail (kept), created (inactive stays inactive),
    // a placeholder for the deleted one.
    assert_eq!(one(&app.db, map::USER, 2).await, bolek);
    let b = users::Entity::find_by_id(bolek)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.name, "Bolek (nowe konto)");
    let cezary = users::Entity::find_by_id(one(&app.db, map::USER, 3).await)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!cezary.is_active && cezary.password_hash.is_none());
    let dorota = users::Entity::find_by_id(one(&app.db, map::USER, 4).await)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!dorota.notify_email_messages);
    let ghost = users::Entity::find_by_id(one(&app.db, map::USER, 99).await)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!ghost.is_active);
    assert_eq!(ghost.name, "Usunięty użytkownik");

    // Groups: name, description, owner; the departed owner's group goes to
    // the longest-standing member (Bolek).
    let g1 = conversations::Entity::find_by_id(one(&app.db, map::GROUP, 1).await)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g1.name.as_deref(), Some("Zarząd"));
    assert_eq!(g1.description.as_deref(), Some("Sprawy zarządu"));
    assert_eq!(g1.owner_id, Some(one(&app.db, map::USER, 1).await));
    let g2_id = one(&app.db, map::GROUP, 2).await;
    let g2 = conversations::Entity::find_by_id(g2_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g2.owner_id, Some(bolek));
    let g2_members = conversation_members::Entity::find()
        .filter(conversation_members::Column::ConversationId.eq(g2_id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(g2_members.len(), 2);
    let heir = g2_members.iter().find(|m| m.user_id == bolek).unwrap();
    assert_eq!(heir.role, "owner");
    let ewa = g2_members.iter().find(|m| m.user_id != bolek).unwrap();
    assert_eq!(ewa.role, "member");
    assert_eq!(ewa.added_by_id, Some(cezary.id));
    assert_eq!(
        ewa.joined_at,
        DateTime::parse_from_rfc3339("2024-01-03T08:00:00Z").unwrap()
    );

    // Last message and activity time of each conversation.
    let ab = conv_messages::Entity::find_by_id(one(&app.db, map::PM, 11).await)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let conv = conversations::Entity::find_by_id(ab.conversation_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.last_message_id, Some(ab.id));
    assert_eq!(conv.updated_at, ab.created_at);
    let anna = one(&app.db, map::USER, 1).await;
    let key = format!("{}:{}", anna.min(bolek), anna.max(bolek));
    assert_eq!(conv.direct_key, Some(key));

    // Attachments: linked, uploader = sender, file copied; the missing one
    // is listed and still linked.
    let pdf = message_attachments::Entity::find_by_id(one(&app.db, map::ATT, 1).await)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pdf.message_id, Some(one(&app.db, map::PM, 7).await));
    assert_eq!(pdf.uploader_id, Some(cezary.id));
    assert_eq!(pdf.filename, "umowa.pdf");
    assert_eq!(pdf.content_type, "application/pdf");
    let stored: PathBuf = data.path().join("attachments").join(&pdf.storage_key);
    assert_eq!(std::fs::read(&stored).unwrap(), b"PDF-bytes");
    assert_eq!(report.missing_files.len(), 1, "{:?}", report.missing_files);
    assert!(report.missing_files[0].contains("zdjecie-2.png"));
    let png = message_attachments::Entity::find_by_id(one(&app.db, map::ATT, 2).await)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(png.message_id, Some(one(&app.db, map::GM, 5).await));

    // What Anna sees: her old password works, unread counts are the old
    // ones (one unread from Bolek, one from the deleted user), previews.
    let items = conversations_of(&app, "anna@portal.pl", ANNA_PASSWORD).await;
    assert_eq!(items.len(), 5, "{items:#?}"); // A–B, self, A–99, A–C, Zarząd
    let unread: i64 = items
        .iter()
        .map(|c| c["unread_count"].as_i64().unwrap())
        .sum();
    assert_eq!(unread, 2);
    let with_bolek = items
        .iter()
        .find(|c| c["id"].as_i64() == Some(ab.conversation_id))
        .unwrap();
    assert_eq!(with_bolek["unread_count"], 1);
    assert_eq!(with_bolek["last_message"]["id"], ab.id);
    // Most recently active first.
    assert_eq!(items[0]["name"], "Zarząd");

    // Bolek: one unread in the A–B conversation, one in Zarząd (from the
    // deleted user), two in Stara grupa (never opened).
    let items = conversations_of(&app, "bolek@portal.pl", "bolek-haslo-1").await;
    let by_id: HashMap<i64, i64> = items
        .iter()
        .map(|c| {
            (
                c["id"].as_i64().unwrap(),
                c["unread_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by_id[&ab.conversation_id], 1);
    assert_eq!(by_id[&g1.id], 1);
    assert_eq!(by_id[&g2_id], 2);
}

#[tokio::test]
async fn everything_is_imported_into_postgres() {
    everything_is_imported(Db::Postgres).await;
}

#[tokio::test]
async fn everything_is_imported_into_sqlite() {
    everything_is_imported(Db::Sqlite).await;
}

/// Whether PostgreSQL has the trigram index of search (always true on
/// SQLite, which has none): the import drops it while it fills an empty
/// service and must always leave it built.
async fn search_index_built(app: &TestApp) -> bool {
    app.db.get_database_backend() != sea_orm::DatabaseBackend::Postgres
        || app
            .scalar_i64(&format!(
                "SELECT count(*) FROM pg_indexes WHERE indexname = '{}'",
                migration::SEARCH_INDEX_NAME
            ))
            .await
            == 1
}

async fn second_run_and_resume(kind: Db) {
    let app = spawn_app(kind).await;
    let src = legacy().await;
    let data = tempfile::tempdir().unwrap();
    let mut opts = options(&src, data.path());
    // Small batches, killed three times at different points.
    opts.batch_size = 2;
    for stop in [2, 5, 9] {
        opts.stop_after_batches = Some(stop);
        let err = import::run(&app.db, &opts).await.expect_err("stopped");
        assert!(
            err.downcast_ref::<import::Interrupted>().is_some(),
            "{err:#}"
        );
    }
    if kind == Db::Postgres {
        // The first run stopped after dropping the index for the messages.
        assert!(!search_index_built(&app).await);
    }
    opts.stop_after_batches = None;
    let report = import::run(&app.db, &opts).await.expect("resumed");
    assert!(report.ok(), "{}", report.render());
    assert!(search_index_built(&app).await);
    assert_messages(&app.db, &src.conn).await;
    let after_first = counts(&app.db).await;

    // Running again imports nothing twice and still validates.
    opts.batch_size = 1000;
    let report = import::run(&app.db, &opts).await.expect("second run");
    assert!(report.ok(), "{}", report.render());
    assert_eq!(counts(&app.db).await, after_first);
    assert_messages(&app.db, &src.conn).await;
}

#[tokio::test]
async fn interrupted_import_resumes_and_a_second_run_adds_nothing_on_postgres() {
    second_run_and_resume(Db::Postgres).await;
}

#[tokio::test]
async fn interrupted_import_resumes_and_a_second_run_adds_nothing_on_sqlite() {
    second_run_and_resume(Db::Sqlite).await;
}

fn messaging(args: &[&str], db_url: &str, data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_messaging"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("DATA_DIR", data_dir)
        .env("LOG_LEVEL", "warn")
        .output()
        .expect("run messaging")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn table_count(db: &DatabaseConnection) -> i64 {
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => {
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'"
        }
        _ => "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'",
    };
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get::<i64>("", "n")
    .unwrap()
}

/// The command as an operator runs it: a dry run writes nothing (not even
/// the schema), the real run prints the validation and exits 0, and a
/// target that lost an imported message makes it exit non-zero.
async fn the_command(kind: Db) {
    let src = legacy().await;
    let target = fresh_db(kind).await;
    let data = tempfile::tempdir().unwrap();
    let files = src.files.path().display().to_string();
    let base = [
        "import-legacy",
        "--source",
        &src.db.url,
        "--files-dir",
        &files,
    ];

    let mut args = base.to_vec();
    args.push("--dry-run");
    let out = messaging(&args, &target.url, data.path());
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}{}", stdout, text(&out.stderr));
    assert!(stdout.contains("Dry run: nothing was written."), "{stdout}");
    assert!(
        stdout.contains("would create 5 (4 without a usable password) and match 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("11 private and 5 group messages"),
        "{stdout}"
    );
    assert!(stdout.contains("zdjecie-2.png"), "{stdout}");
    let db = backend::db::connect(&target.url, 2).await.unwrap();
    assert_eq!(table_count(&db).await, 0, "the dry run created tables");
    assert!(!data.path().join("attachments").exists());

    let out = messaging(&base, &target.url, data.path());
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}{}", stdout, text(&out.stderr));
    assert!(
        stdout.contains("Validation (old portal vs messaging):"),
        "{stdout}"
    );
    assert!(stdout.contains("0 differ"), "{stdout}");
    assert!(!stdout.contains("DIFFERS"), "{stdout}");
    assert!(
        stdout.contains("have no usable password"),
        "the operator is told who must set a password: {stdout}"
    );

    // Someone deleted an imported message: the counts no longer match.
    let gone = one(&db, map::GM, 2).await;
    db.execute_unprepared(&format!("DELETE FROM conv_messages WHERE id = {gone}"))
        .await
        .unwrap();
    let out = messaging(&base, &target.url, data.path());
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stdout.contains("DIFFERS"), "{stdout}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");

    // A source that is not PostgreSQL: one line, non-zero.
    let out = messaging(
        &["import-legacy", "--source", "mysql://x@localhost/portal"],
        &target.url,
        data.path(),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).starts_with("error: --source must be a postgres:// URL"));
    db.close().await.unwrap();
}

#[tokio::test]
async fn import_command_dry_run_validation_and_exit_code_on_postgres() {
    the_command(Db::Postgres).await;
}

#[tokio::test]
async fn import_command_dry_run_validation_and_exit_code_on_sqlite() {
    the_command(Db::Sqlite).await;
}
