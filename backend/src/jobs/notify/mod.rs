//! E-mail notifications about new messages: the worker that drains the
//! durable outbox `domain::notify` fills (`worker`), the mail it composes
//! (`mail`), how it is delivered (`transport`: SMTP or an outbox folder) and
//! the signed one-click unsubscribe links (`token`).
//!
//! This module never decides who is queued (that is `domain::notify`, inside
//! the sending transaction) and never blocks sending a message.

pub mod mail;
pub mod token;
pub mod transport;
pub mod worker;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::Settings;
use token::UnsubscribeKey;
use transport::Transport;

/// What sending notifications needs, built once at start.
pub struct Mailer {
    pub transport: Transport,
    pub key: UnsubscribeKey,
}

impl Mailer {
    /// Loads (or creates, once for all instances) the unsubscribe key and
    /// sets up the transport from SMTP_URL (or the outbox folder).
    pub async fn build(db: &DatabaseConnection, settings: &Settings) -> anyhow::Result<Arc<Self>> {
        let key = UnsubscribeKey::load_or_create(db)
            .await
            .map_err(|e| anyhow::anyhow!("cannot load the unsubscribe key: {e}"))?;
        let transport = Transport::from_settings(settings).map_err(anyhow::Error::msg)?;
        Ok(Arc::new(Self { transport, key }))
    }
}
