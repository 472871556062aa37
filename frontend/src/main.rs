//! The messaging SPA (Leptos, client-side rendered), served under
//! `/wiadomosci/` by the backend.

mod api;
mod app;
mod components;
mod i18n;
mod pages;
mod state;
mod text;
mod time;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
