//! The initial schema: accounts (users, sessions, api_tokens), the
//! conversation tables of DESIGN.md §3 and the e-mail outbox.
//!
//! Foreign keys are declared inside CREATE TABLE because SQLite cannot add
//! them afterwards.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Name,
    PasswordHash,
    IsAdmin,
    IsActive,
    NotifyEmailMessages,
    Language,
    LastSeenAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    UserAgent,
    Ip,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    UserId,
    Name,
    TokenHash,
    TokenPrefix,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    Name,
    Description,
    IsGroup,
    OwnerId,
    /// "minUserId:maxUserId" for a 1:1, NULL for groups: makes the pair unique.
    DirectKey,
    LastMessageId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ConversationMembers {
    Table,
    ConversationId,
    UserId,
    Role,
    LastReadMessageId,
    LastReadAt,
    IsMuted,
    IsArchived,
    JoinedAt,
    AddedById,
}

#[derive(DeriveIden)]
enum ConvMessages {
    Table,
    Id,
    ConversationId,
    SenderId,
    Content,
    /// Sanitized HTML rendered from `content` when it is written.
    ContentHtml,
    /// Lower-cased plain text for case-insensitive search on both databases
    /// (SQLite's LIKE and lower() only fold ASCII).
    ContentSearch,
    ReplyToId,
    ForwardedFromId,
    ClientId,
    EditedAt,
    IsDeleted,
    DeletedAt,
    LinkPreview,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MessageReactions {
    Table,
    Id,
    MessageId,
    UserId,
    Emoji,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MessagePins {
    Table,
    Id,
    ConversationId,
    MessageId,
    PinnedById,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MessageAttachments {
    Table,
    Id,
    UploaderId,
    MessageId,
    Filename,
    ContentType,
    SizeBytes,
    StorageKey,
    Width,
    Height,
    HasThumbnail,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    Id,
    UserId,
    ConversationId,
    Kind,
    Payload,
    NotBefore,
    Attempts,
    LockedUntil,
    LastError,
    CreatedAt,
}

fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .take()
}

fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut idx = Index::create().name(name).table(table).take();
    for c in cols {
        idx.col(Alias::new(*c));
    }
    idx
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(string_len_uniq(Users::Email, 320))
                    .col(string_len(Users::Name, 200))
                    .col(string_len_null(Users::PasswordHash, 200))
                    .col(boolean(Users::IsAdmin).default(false))
                    .col(boolean(Users::IsActive).default(true))
                    .col(boolean(Users::NotifyEmailMessages).default(true))
                    .col(string_len(Users::Language, 8).default("pl"))
                    .col(timestamp_with_time_zone_null(Users::LastSeenAt))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(big_pk_auto(Sessions::Id))
                    .col(big_integer(Sessions::UserId))
                    .col(string_len_uniq(Sessions::TokenHash, 64))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastUsedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(string_len_null(Sessions::UserAgent, 500))
                    .col(string_len_null(Sessions::Ip, 64))
                    .foreign_key(&mut fk(
                        (Sessions::Table, Sessions::UserId),
                        (Users::Table, Users::Id),
                        Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("idx_sessions_user", Sessions::Table, &["user_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(big_pk_auto(ApiTokens::Id))
                    .col(big_integer(ApiTokens::UserId))
                    .col(string_len(ApiTokens::Name, 200))
                    .col(string_len_uniq(ApiTokens::TokenHash, 64))
                    .col(string_len(ApiTokens::TokenPrefix, 16))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .foreign_key(&mut fk(
                        (ApiTokens::Table, ApiTokens::UserId),
                        (Users::Table, Users::Id),
                        Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("idx_api_tokens_user", ApiTokens::Table, &["user_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .col(big_pk_auto(Conversations::Id))
                    .col(string_len_null(Conversations::Name, 200))
                    .col(text_null(Conversations::Description))
                    .col(boolean(Conversations::IsGroup))
                    .col(big_integer_null(Conversations::OwnerId))
                    .col(string_len_null(Conversations::DirectKey, 64).unique_key())
                    // No FK: conv_messages references conversations, and the
                    // pointer is maintained by the send path in one transaction.
                    .col(big_integer_null(Conversations::LastMessageId))
                    .col(timestamp_with_time_zone(Conversations::CreatedAt))
                    .col(timestamp_with_time_zone(Conversations::UpdatedAt))
                    .foreign_key(&mut fk(
                        (Conversations::Table, Conversations::OwnerId),
                        (Users::Table, Users::Id),
                        SetNull,
                    ))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ConversationMembers::Table)
                    .col(big_integer(ConversationMembers::ConversationId))
                    .col(big_integer(ConversationMembers::UserId))
                    .col(string_len(ConversationMembers::Role, 16).default("member"))
                    // Exact unread counts: messages with a greater id are unread.
                    .col(big_integer_null(ConversationMembers::LastReadMessageId))
                    .col(timestamp_with_time_zone_null(
                        ConversationMembers::LastReadAt,
                    ))
                    .col(boolean(ConversationMembers::IsMuted).default(false))
                    .col(boolean(ConversationMembers::IsArchived).default(false))
                    .col(timestamp_with_time_zone(ConversationMembers::JoinedAt))
                    .col(big_integer_null(ConversationMembers::AddedById))
                    .primary_key(
                        Index::create()
                            .col(ConversationMembers::ConversationId)
                            .col(ConversationMembers::UserId),
                    )
                    .foreign_key(&mut fk(
                        (
                            ConversationMembers::Table,
                            ConversationMembers::ConversationId,
                        ),
                        (Conversations::Table, Conversations::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (ConversationMembers::Table, ConversationMembers::UserId),
                        (Users::Table, Users::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (ConversationMembers::Table, ConversationMembers::AddedById),
                        (Users::Table, Users::Id),
                        SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_conversations_updated",
                Conversations::Table,
                &["updated_at", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_conversation_members_user",
                ConversationMembers::Table,
                &["user_id", "conversation_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ConvMessages::Table)
                    .col(big_pk_auto(ConvMessages::Id))
                    .col(big_integer(ConvMessages::ConversationId))
                    .col(big_integer_null(ConvMessages::SenderId))
                    .col(text(ConvMessages::Content))
                    .col(text(ConvMessages::ContentHtml))
                    .col(text(ConvMessages::ContentSearch))
                    .col(big_integer_null(ConvMessages::ReplyToId))
                    .col(big_integer_null(ConvMessages::ForwardedFromId))
                    .col(string_len_null(ConvMessages::ClientId, 64))
                    .col(timestamp_with_time_zone_null(ConvMessages::EditedAt))
                    .col(boolean(ConvMessages::IsDeleted).default(false))
                    .col(timestamp_with_time_zone_null(ConvMessages::DeletedAt))
                    .col(json_null(ConvMessages::LinkPreview))
                    .col(timestamp_with_time_zone(ConvMessages::CreatedAt))
                    .foreign_key(&mut fk(
                        (ConvMessages::Table, ConvMessages::ConversationId),
                        (Conversations::Table, Conversations::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (ConvMessages::Table, ConvMessages::SenderId),
                        (Users::Table, Users::Id),
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        (ConvMessages::Table, ConvMessages::ReplyToId),
                        (ConvMessages::Table, ConvMessages::Id),
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        (ConvMessages::Table, ConvMessages::ForwardedFromId),
                        (ConvMessages::Table, ConvMessages::Id),
                        SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_conv_messages_conversation_id",
                ConvMessages::Table,
                &["conversation_id", "id"],
            ))
            .await?;
        manager
            .create_index(
                index(
                    "uq_conv_messages_sender_client_id",
                    ConvMessages::Table,
                    &["sender_id", "client_id"],
                )
                .unique()
                .take(),
            )
            .await?;

        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            // Substring search (ILIKE/LIKE '%q%') served by a trigram index.
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE EXTENSION IF NOT EXISTS pg_trgm; \
                     CREATE INDEX idx_conv_messages_search ON conv_messages \
                     USING gin (content_search gin_trgm_ops)",
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(MessageReactions::Table)
                    .col(big_pk_auto(MessageReactions::Id))
                    .col(big_integer(MessageReactions::MessageId))
                    .col(big_integer(MessageReactions::UserId))
                    .col(string_len(MessageReactions::Emoji, 16))
                    .col(timestamp_with_time_zone(MessageReactions::CreatedAt))
                    .foreign_key(&mut fk(
                        (MessageReactions::Table, MessageReactions::MessageId),
                        (ConvMessages::Table, ConvMessages::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (MessageReactions::Table, MessageReactions::UserId),
                        (Users::Table, Users::Id),
                        Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_message_reactions",
                    MessageReactions::Table,
                    &["message_id", "user_id", "emoji"],
                )
                .unique()
                .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MessagePins::Table)
                    .col(big_pk_auto(MessagePins::Id))
                    .col(big_integer(MessagePins::ConversationId))
                    .col(big_integer(MessagePins::MessageId))
                    .col(big_integer_null(MessagePins::PinnedById))
                    .col(timestamp_with_time_zone(MessagePins::CreatedAt))
                    .foreign_key(&mut fk(
                        (MessagePins::Table, MessagePins::ConversationId),
                        (Conversations::Table, Conversations::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (MessagePins::Table, MessagePins::MessageId),
                        (ConvMessages::Table, ConvMessages::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (MessagePins::Table, MessagePins::PinnedById),
                        (Users::Table, Users::Id),
                        SetNull,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_message_pins",
                    MessagePins::Table,
                    &["conversation_id", "message_id"],
                )
                .unique()
                .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MessageAttachments::Table)
                    .col(big_pk_auto(MessageAttachments::Id))
                    .col(big_integer_null(MessageAttachments::UploaderId))
                    .col(big_integer_null(MessageAttachments::MessageId))
                    .col(string_len(MessageAttachments::Filename, 255))
                    .col(string_len(MessageAttachments::ContentType, 128))
                    .col(big_integer(MessageAttachments::SizeBytes))
                    .col(string_len_uniq(MessageAttachments::StorageKey, 255))
                    .col(integer_null(MessageAttachments::Width))
                    .col(integer_null(MessageAttachments::Height))
                    .col(boolean(MessageAttachments::HasThumbnail).default(false))
                    .col(timestamp_with_time_zone(MessageAttachments::CreatedAt))
                    .foreign_key(&mut fk(
                        (MessageAttachments::Table, MessageAttachments::UploaderId),
                        (Users::Table, Users::Id),
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        (MessageAttachments::Table, MessageAttachments::MessageId),
                        (ConvMessages::Table, ConvMessages::Id),
                        Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_message_attachments_message",
                MessageAttachments::Table,
                &["message_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EmailOutbox::Table)
                    .col(big_pk_auto(EmailOutbox::Id))
                    .col(big_integer(EmailOutbox::UserId))
                    .col(big_integer_null(EmailOutbox::ConversationId))
                    .col(string_len(EmailOutbox::Kind, 32))
                    .col(json(EmailOutbox::Payload))
                    .col(timestamp_with_time_zone(EmailOutbox::NotBefore))
                    .col(integer(EmailOutbox::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(EmailOutbox::LockedUntil))
                    .col(text_null(EmailOutbox::LastError))
                    .col(timestamp_with_time_zone(EmailOutbox::CreatedAt))
                    .foreign_key(&mut fk(
                        (EmailOutbox::Table, EmailOutbox::UserId),
                        (Users::Table, Users::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        (EmailOutbox::Table, EmailOutbox::ConversationId),
                        (Conversations::Table, Conversations::Id),
                        Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_email_outbox_due",
                EmailOutbox::Table,
                &["not_before"],
            ))
            .await?;
        manager
            .create_index(
                index(
                    "uq_email_outbox_user_conversation",
                    EmailOutbox::Table,
                    &["user_id", "conversation_id", "kind"],
                )
                .unique()
                .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents.
        for table in [
            EmailOutbox::Table.into_iden(),
            MessageAttachments::Table.into_iden(),
            MessagePins::Table.into_iden(),
            MessageReactions::Table.into_iden(),
            ConvMessages::Table.into_iden(),
            ConversationMembers::Table.into_iden(),
            Conversations::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
