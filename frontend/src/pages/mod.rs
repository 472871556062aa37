//! One module per route.

mod login;
pub mod messenger;
mod settings;

pub use login::LoginPage;
pub use messenger::{ChatRoute, MessengerPage, NoChatSelected};
pub use settings::SettingsPage;
