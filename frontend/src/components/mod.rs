//! Pieces of the UI, named for what the user sees.

mod app_header;
pub mod attachments;
mod avatar;
pub mod chat;
mod chat_header;
mod composer;
mod connection_banner;
mod conversation_list;
mod forward_dialog;
mod group_settings_dialog;
mod language_switcher;
mod message;
mod message_search;
mod new_conversation_dialog;
mod presence;
mod user_picker;

pub use app_header::AppHeader;
pub use avatar::Avatar;
pub use chat::ChatView;
pub use chat_header::{ChatHeader, PinnedBar};
pub use composer::Composer;
pub use connection_banner::ConnectionBanner;
pub use conversation_list::ConversationList;
pub use forward_dialog::ForwardDialog;
pub use group_settings_dialog::GroupSettingsDialog;
pub use language_switcher::LanguageSwitcher;
pub use message::MessageRow;
pub use message_search::MessageSearch;
pub use new_conversation_dialog::NewConversationDialog;
pub use presence::{PresenceDot, presence_line};
pub use user_picker::UserPicker;
