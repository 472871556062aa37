//! How a composed mail leaves: over SMTP (`SMTP_URL`) or, in the embedded
//! default, into `DATA_DIR/outbox/` as an `.eml` file plus a log line, so a
//! developer sees every notification without a mail server.
//!
//! SMTP URLs: `smtps://user:pass@host[:465]` is TLS from the first byte;
//! `smtp://user:pass@host[:587]` upgrades with STARTTLS when the server
//! offers it (`?tls=required` insists on it, `?tls=none` never tries; with
//! `tls=none` and no port the port is 25). User and password come from the
//! URL (percent-encoded). TLS is rustls with the webpki roots.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Message;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use url::Url;

use crate::config::Settings;

pub enum Transport {
    Smtp {
        inner: AsyncSmtpTransport<Tokio1Executor>,
        /// Host and port, for logs (never the credentials).
        server: String,
    },
    Folder {
        dir: PathBuf,
    },
}

/// A failed delivery. `permanent`: the server refused for good (a 5xx
/// reply), so retrying the same mail will not help. `answered`: the server
/// replied (4xx/5xx) — as opposed to a connection, TLS or timeout failure,
/// after which other mails would fail the same way.
#[derive(Debug)]
pub struct SendError {
    pub permanent: bool,
    pub answered: bool,
    pub message: String,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The URL lettre is given: plain `smtp://` gets opportunistic STARTTLS (so
/// a password is not sent in clear to a server that can encrypt), and
/// `tls=none` is ours, not lettre's: it becomes no parameter at all.
pub fn lettre_url(smtp_url: &str) -> Result<String, String> {
    let mut u = Url::parse(smtp_url).map_err(|e| format!("SMTP_URL is not a valid URL: {e}"))?;
    if u.scheme() == "smtp" {
        let tls = u
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        match tls.as_deref() {
            None => {
                u.set_query(Some("tls=opportunistic"));
            }
            Some("none") => u.set_query(None),
            Some(_) => {}
        }
    }
    Ok(u.to_string())
}

impl Transport {
    /// SMTP when `SMTP_URL` is set, the outbox folder otherwise.
    pub fn from_settings(settings: &Settings) -> Result<Self, String> {
        match settings.smtp_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => {
                let parsed =
                    Url::parse(url).map_err(|e| format!("SMTP_URL is not a valid URL: {e}"))?;
                let server = format!(
                    "{}:{}",
                    parsed.host_str().unwrap_or_default(),
                    parsed.port().map(|p| p.to_string()).unwrap_or_default()
                );
                let inner = AsyncSmtpTransport::<Tokio1Executor>::from_url(&lettre_url(url)?)
                    .map_err(|e| format!("SMTP_URL cannot be used: {e}"))?
                    .timeout(Some(Duration::from_secs(settings.smtp_timeout_secs)))
                    .build();
                Ok(Self::Smtp { inner, server })
            }
            _ => Ok(Self::Folder {
                dir: settings.db.data_dir.join("outbox"),
            }),
        }
    }

    /// Delivers one mail; `name` (unique per mail) names the outbox file.
    pub async fn send(&self, message: &Message, name: &str) -> Result<(), SendError> {
        match self {
            Self::Smtp { inner, server } => {
                inner.send(message.clone()).await.map(|_| ()).map_err(|e| {
                    tracing::debug!(%server, error = %e, "SMTP delivery failed");
                    SendError {
                        permanent: e.is_permanent(),
                        answered: e.is_permanent() || e.is_transient(),
                        message: format!("SMTP {server}: {e}"),
                    }
                })
            }
            Self::Folder { dir } => {
                let dir = dir.clone();
                let path = dir.join(format!("{name}.eml"));
                let bytes = message.formatted();
                let written = path.clone();
                tokio::task::spawn_blocking(move || {
                    std::fs::create_dir_all(&dir)?;
                    // Write then rename: a reader never sees half a mail.
                    let tmp = written.with_extension("eml.tmp");
                    std::fs::write(&tmp, bytes)?;
                    std::fs::rename(&tmp, &written)
                })
                .await
                .map_err(|e| SendError {
                    permanent: false,
                    answered: false,
                    message: format!("outbox writer: {e}"),
                })?
                .map_err(|e| SendError {
                    permanent: false,
                    answered: false,
                    message: format!("cannot write {}: {e}", path.display()),
                })?;
                let to: Vec<String> = message
                    .envelope()
                    .to()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                tracing::info!(
                    to = %to.join(", "),
                    file = %path.display(),
                    "notification e-mail written to the outbox folder (no SMTP_URL)"
                );
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_smtp_gets_opportunistic_starttls() {
        assert_eq!(
            lettre_url("smtp://u:p@mail.example.pl:587").unwrap(),
            "smtp://u:p@mail.example.pl:587?tls=opportunistic"
        );
        assert_eq!(
            lettre_url("smtp://mail.example.pl:2525?tls=none").unwrap(),
            "smtp://mail.example.pl:2525"
        );
        assert_eq!(
            lettre_url("smtp://mail.example.pl?tls=required").unwrap(),
            "smtp://mail.example.pl?tls=required"
        );
        assert_eq!(
            lettre_url("smtps://u:p@mail.example.pl").unwrap(),
            "smtps://u:p@mail.example.pl"
        );
    }
}
