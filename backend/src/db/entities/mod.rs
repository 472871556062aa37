//! sea-orm entities: the generated shape, kept by hand in step with the
//! migrations. Entities never leave the backend; the API speaks `shared` DTOs.

pub mod api_tokens;
pub mod conv_messages;
pub mod conversation_members;
pub mod conversations;
pub mod email_outbox;
pub mod legacy_import_map;
pub mod link_preview_cache;
pub mod message_attachments;
pub mod message_pins;
pub mod message_reactions;
pub mod server_secrets;
pub mod sessions;
pub mod users;
