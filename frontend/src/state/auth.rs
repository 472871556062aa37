//! Who is signed in.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::ErrorCode;
use shared::dto::users::UserDto;

use crate::api::{self, ApiError};

/// The signed-in user and the state of the session check.
#[derive(Debug, Clone, Copy)]
pub struct AuthStore {
    /// The signed-in user; `None` while unknown or signed out.
    pub user: RwSignal<Option<UserDto>>,
    /// True while the session is being checked (`GET /api/auth/me`).
    pub loading: RwSignal<bool>,
    /// Why the last session check failed, unless it was `unauthenticated`
    /// (then we simply know nobody is signed in).
    pub error: RwSignal<Option<ApiError>>,
    /// Where to go after signing in (a deep link opened while signed out),
    /// relative to the app's base path.
    pub return_to: RwSignal<Option<String>>,
    /// Bumped on every change of the session, so a slow check that started
    /// before a login or logout cannot overwrite its result.
    generation: StoredValue<u64>,
}

impl AuthStore {
    /// A store that is loading; call [`AuthStore::refresh`] to check.
    pub fn new() -> Self {
        Self {
            user: RwSignal::new(None),
            loading: RwSignal::new(true),
            error: RwSignal::new(None),
            return_to: RwSignal::new(None),
            generation: StoredValue::new(0),
        }
    }

    /// Asks the server who is signed in (the session cookie decides).
    pub fn refresh(self) {
        let generation = self.bump();
        self.loading.set(true);
        self.error.set(None);
        spawn_local(async move {
            let result = api::me().await;
            if self.generation.get_value() != generation {
                return;
            }
            match result {
                Ok(user) => self.user.set(Some(user)),
                Err(err) if err.code() == Some(ErrorCode::Unauthenticated) => self.user.set(None),
                Err(err) => {
                    leptos::logging::warn!("session check failed: {err}");
                    self.user.set(None);
                    self.error.set(Some(err));
                }
            }
            self.loading.set(false);
        });
    }

    /// Records a successful login.
    pub fn signed_in(self, user: UserDto) {
        self.bump();
        self.user.set(Some(user));
        self.error.set(None);
        self.loading.set(false);
    }

    /// Records a logout (or a session the server no longer knows).
    pub fn signed_out(self) {
        self.bump();
        self.user.set(None);
        self.error.set(None);
        self.loading.set(false);
    }

    /// True once we know for sure that nobody is signed in.
    pub fn is_signed_out(self) -> bool {
        !self.loading.get() && self.error.with(Option::is_none) && self.user.with(Option::is_none)
    }

    fn bump(self) -> u64 {
        self.generation.update_value(|g| *g += 1);
        self.generation.get_value()
    }
}

impl Default for AuthStore {
    fn default() -> Self {
        Self::new()
    }
}

/// The app's `AuthStore` (provided by `App`).
pub fn use_auth() -> AuthStore {
    expect_context::<AuthStore>()
}
