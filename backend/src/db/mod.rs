//! Database access: connecting (PostgreSQL or the embedded SQLite default),
//! migrating, and the sea-orm entities. Queries are written once against
//! sea-orm; a dialect difference lives here, next to a test of its SQL.

pub mod entities;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    TransactionTrait,
};

/// Which kind of database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Postgres,
    Sqlite,
}

impl DbKind {
    /// Recognises `postgres://`, `postgresql://` and `sqlite:` URLs.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else {
            None
        }
    }
}

/// How long `connect` waits for a connection by default.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a pool. SQLite gets WAL and a busy timeout so that concurrent
/// writers wait instead of failing with "database is locked".
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, max_connections, ACQUIRE_TIMEOUT).await
}

/// `connect` with the longest wait for a connection (from the pool or a new
/// one): past it a query fails with `ConnectionAcquire` (503) instead of
/// waiting for an unreachable database.
pub async fn connect_with(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    let kind = DbKind::from_url(url)
        .ok_or_else(|| DbErr::Custom(format!("unsupported database URL: {url}")))?;
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.connect_timeout(acquire_timeout)
        .acquire_timeout(acquire_timeout)
        .sqlx_logging(false);
    match kind {
        DbKind::Postgres => {
            opts.max_connections(max_connections).min_connections(1);
        }
        DbKind::Sqlite => {
            // One writer at a time is SQLite's model; a small pool keeps
            // readers concurrent under WAL.
            opts.max_connections(max_connections.min(8))
                .min_connections(1);
        }
    }
    let db = Database::connect(opts).await?;
    if kind == DbKind::Sqlite {
        for pragma in [
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA busy_timeout = 5000",
            "PRAGMA foreign_keys = ON",
        ] {
            db.execute_unprepared(pragma).await?;
        }
    }
    Ok(db)
}

/// Applies every pending migration.
///
/// On SQLite they all run in one transaction, so on one connection of the
/// pool and all or nothing. A pooled SQLite connection that has not read
/// the database since another connection changed its schema compiles DDL
/// against the schema it remembers, and refuses a `CREATE INDEX` of an
/// index dropped meanwhile with "already exists" (seen after a rollback).
/// PostgreSQL runs each migration in its own transaction already.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        let txn = db.begin().await?;
        Migrator::up(&txn, None).await?;
        return txn.commit().await;
    }
    Migrator::up(db, None).await
}

/// Rolls every applied migration back (`messaging migrate down`), on
/// SQLite in one transaction like `migrate`.
pub async fn rollback(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        let txn = db.begin().await?;
        Migrator::down(&txn, None).await?;
        return txn.commit().await;
    }
    Migrator::down(db, None).await
}
