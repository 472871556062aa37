//! One module per route.

mod login;
mod messenger;

pub use login::LoginPage;
pub use messenger::{ChatRoute, MessengerPage, NoChatSelected};
