//! Shared state of the running server, built once in `startup`.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::auth::rate_limit::RateLimiter;
use crate::config::{Settings, Validated};

/// Window of the login rate limits.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub config: Arc<Validated>,
    pub login_limiter: Arc<RateLimiter>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, settings: Settings, config: Validated) -> Self {
        Self {
            db,
            settings: Arc::new(settings),
            config: Arc::new(config),
            login_limiter: Arc::new(RateLimiter::new(LOGIN_WINDOW)),
        }
    }
}
