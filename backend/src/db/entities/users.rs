use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub is_active: bool,
    pub notify_email_messages: bool,
    pub language: String,
    pub last_seen_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for shared::dto::users::UserDto {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            email: m.email,
            name: m.name,
            is_admin: m.is_admin,
            notify_email_messages: m.notify_email_messages,
            language: m.language,
            created_at: m.created_at,
        }
    }
}
