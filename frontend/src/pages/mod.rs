//! One module per route.

mod home;
mod login;

pub use home::HomePage;
pub use login::LoginPage;
