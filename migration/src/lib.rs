//! Every schema change of the service, in order. Each migration runs on both
//! PostgreSQL and SQLite and has a working `down`; a migration that has been
//! released is never edited, only followed by a new one.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_initial;
mod m20261128_000002_link_preview_cache;
mod m20261128_000003_notify;
mod m20261128_000005_legacy_import;

/// The trigram index behind message search on PostgreSQL (substring
/// `ILIKE '%q%'`), as the initial migration made it. `import-legacy` drops
/// it while it fills an empty service and builds it again afterwards.
pub const SEARCH_INDEX_NAME: &str = "idx_conv_messages_search";
/// Builds [`SEARCH_INDEX_NAME`] when it is missing.
pub const CREATE_SEARCH_INDEX: &str = "CREATE INDEX IF NOT EXISTS idx_conv_messages_search \
     ON conv_messages USING gin (content_search gin_trgm_ops)";

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_initial::Migration),
            Box::new(m20261128_000002_link_preview_cache::Migration),
            Box::new(m20261128_000003_notify::Migration),
            Box::new(m20261128_000005_legacy_import::Migration),
        ]
    }
}
