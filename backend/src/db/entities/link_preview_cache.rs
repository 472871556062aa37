use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "link_preview_cache")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub url_hash: String,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// The `LinkPreview` JSON; `None` records a failed fetch.
    pub preview: Option<Json>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub fetched_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
