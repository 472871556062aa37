use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_group: bool,
    pub owner_id: Option<i64>,
    /// "min:max" user ids of a 1:1; unique, so a pair has one conversation.
    #[sea_orm(unique)]
    pub direct_key: Option<String>,
    pub last_message_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
