//! `messaging import-legacy`: the map from the old portal's ids to the new
//! rows. One row per imported thing, written in the same transaction as the
//! thing itself, so a second run imports nothing twice and a run that died
//! resumes where the last committed batch ended.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LegacyImportMap {
    Table,
    /// What was imported: user, group, pair (a 1:1 conversation), pm
    /// (private message), gm (group message), att (attachment).
    Kind,
    /// The old id (for a pair: the two old user ids, low << 32 | high).
    OldId,
    NewId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LegacyImportMap::Table)
                    .col(string_len(LegacyImportMap::Kind, 8))
                    .col(big_integer(LegacyImportMap::OldId))
                    .col(big_integer(LegacyImportMap::NewId))
                    .primary_key(
                        Index::create()
                            .col(LegacyImportMap::Kind)
                            .col(LegacyImportMap::OldId),
                    )
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LegacyImportMap::Table).take())
            .await
    }
}
