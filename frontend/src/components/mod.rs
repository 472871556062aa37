//! Small reusable pieces of the UI.

mod app_header;
mod language_switcher;

pub use app_header::AppHeader;
pub use language_switcher::LanguageSwitcher;
