//! The link-preview cache: one row per fetched URL with the preview (or
//! NULL when the fetch failed or found nothing), shared by every instance,
//! so a link posted in many messages is fetched once a day.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LinkPreviewCache {
    Table,
    /// SHA-256 (hex) of the normalized URL: a short, fixed-size key.
    UrlHash,
    Url,
    /// The `LinkPreview` JSON; NULL records a failure (cached too).
    Preview,
    /// Why the fetch failed, for operators.
    Error,
    FetchedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LinkPreviewCache::Table)
                    .col(string_len(LinkPreviewCache::UrlHash, 64).primary_key())
                    .col(text(LinkPreviewCache::Url))
                    .col(json_null(LinkPreviewCache::Preview))
                    .col(text_null(LinkPreviewCache::Error))
                    .col(timestamp_with_time_zone(LinkPreviewCache::FetchedAt))
                    .take(),
            )
            .await?;
        // Expired rows are deleted by age.
        manager
            .create_index(
                Index::create()
                    .name("idx_link_preview_cache_fetched_at")
                    .table(LinkPreviewCache::Table)
                    .col(LinkPreviewCache::FetchedAt)
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LinkPreviewCache::Table).take())
            .await
    }
}
