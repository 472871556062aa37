//! Logging: tracing to stderr, text or JSON. Request spans (with the request
//! id) come from tracing-actix-web, so every line logged while handling a
//! request carries its id.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber; a second call is a no-op (tests).
pub fn init(log: &LogSettings) -> Result<(), String> {
    let filter = EnvFilter::try_new(&log.log_level)
        .map_err(|e| format!("LOG_LEVEL {:?} is not a valid filter: {e}", log.log_level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match log.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    // Already installed (several apps in one test process): keep the first.
    let _ = result;
    Ok(())
}
