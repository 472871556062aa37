//! Every migration goes up and down (and up again) on both databases.

use migration::{Migrator, MigratorTrait};
use sea_orm::ConnectionTrait;

use crate::helpers::{Db, fresh_db};

const TABLES: [&str; 13] = [
    "users",
    "sessions",
    "api_tokens",
    "conversations",
    "conversation_members",
    "conv_messages",
    "message_reactions",
    "message_pins",
    "message_attachments",
    "email_outbox",
    "link_preview_cache",
    "server_secrets",
    "legacy_import_map",
];

async fn tables(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> 'seaql_migrations' ORDER BY name"
        }
        _ => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' \
             AND tablename <> 'seaql_migrations' ORDER BY tablename"
        }
    };
    db.query_all_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.try_get::<String>("", "name").unwrap())
    .collect()
}

async fn up_down_up(kind: Db) {
    let t = fresh_db(kind).await;
    let db = backend::db::connect(&t.url, 2).await.unwrap();
    backend::db::migrate(&db).await.unwrap();
    let mut expected: Vec<String> = TABLES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(tables(&db).await, expected);
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );

    // Constraints are real: a second 1:1 with the same pair is refused,
    // a duplicate reaction is refused, a member must reference a user.
    db.execute_unprepared(
        "INSERT INTO users (email, name, is_admin, is_active, notify_email_messages, language, created_at, updated_at) \
         VALUES ('a@x.pl', 'A', false, true, true, 'pl', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
    )
    .await
    .unwrap();
    let conv = "INSERT INTO conversations (is_group, direct_key, created_at, updated_at) \
                VALUES (false, '1:2', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')";
    db.execute_unprepared(conv).await.unwrap();
    assert!(
        db.execute_unprepared(conv).await.is_err(),
        "direct_key is unique"
    );
    let orphan = "INSERT INTO conversation_members (conversation_id, user_id, role, is_muted, is_archived, joined_at) \
                  VALUES (1, 999, 'member', false, false, '2026-01-01T00:00:00Z')";
    assert!(db.execute_unprepared(orphan).await.is_err(), "FK to users");
    let dup_email = "INSERT INTO users (email, name, is_admin, is_active, notify_email_messages, language, created_at, updated_at) \
         VALUES ('a@x.pl', 'B', false, true, true, 'pl', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')";
    assert!(
        db.execute_unprepared(dup_email).await.is_err(),
        "email is unique"
    );

    // Both pooled connections read the schema, so whichever does not run
    // the rollback remembers tables and indexes that it drops.
    let (a, b) = tokio::join!(tables(&db), tables(&db));
    assert_eq!((a.len(), b.len()), (TABLES.len(), TABLES.len()));
    backend::db::rollback(&db).await.unwrap();
    assert!(tables(&db).await.is_empty(), "down drops every table");
    backend::db::migrate(&db).await.unwrap();
    assert_eq!(tables(&db).await.len(), TABLES.len());
    db.close().await.unwrap();
}

#[tokio::test]
async fn migrations_up_down_up_on_postgres() {
    up_down_up(Db::Postgres).await;
}

#[tokio::test]
async fn migrations_up_down_up_on_sqlite() {
    up_down_up(Db::Sqlite).await;
}
