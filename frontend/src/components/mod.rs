//! Pieces of the UI, named for what the user sees.

mod app_header;
mod avatar;
pub mod chat;
mod composer;
mod connection_banner;
mod conversation_list;
mod language_switcher;
mod message;
mod new_conversation_dialog;

pub use app_header::AppHeader;
pub use avatar::Avatar;
pub use chat::ChatView;
pub use composer::Composer;
pub use connection_banner::ConnectionBanner;
pub use conversation_list::ConversationList;
pub use language_switcher::LanguageSwitcher;
pub use message::MessageRow;
pub use new_conversation_dialog::NewConversationDialog;
