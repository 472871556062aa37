use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "message_attachments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uploader_id: Option<i64>,
    pub message_id: Option<i64>,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    #[sea_orm(unique)]
    pub storage_key: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub has_thumbnail: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
