//! Fetches one page for a preview through the SSRF guard: http(s) only, on
//! allowed ports, every hop's address checked (`ssrf`), at most 3
//! redirects followed by hand and each re-checked, 3 s for everything
//! (DNS, connects, redirects, body), at most 100 KB of body read, only
//! `text/html`, no cookies, no proxy, a User-Agent that says who we are.
//!
//! It must never: follow a redirect reqwest would follow on its own, read
//! an unbounded body, or reach an address `ssrf` did not approve.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE, CONTENT_TYPE, LOCATION};
use url::Url;

use super::parse::{PageMeta, PageParser};
use super::ssrf::{CheckedResolver, Policy, Refusal};

/// Everything a fetch may take, redirects included.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(3);
/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 3;
/// Body bytes read at most; the metadata is in `<head>`.
pub const MAX_BODY_BYTES: usize = 100 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("timed out after {TOTAL_TIMEOUT:?}")]
    Timeout,
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("redirect without a usable Location")]
    BadRedirect,
    #[error("status {0}")]
    Status(u16),
    #[error("not HTML: {0:?}")]
    NotHtml(String),
    #[error("no title or description")]
    NothingToShow,
}

/// The preview HTTP client with its policy.
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<Policy>,
}

impl Fetcher {
    pub fn new(policy: Arc<Policy>, user_agent: &str) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .dns_resolver(CheckedResolver::new(policy.clone()))
            // A proxy would resolve names itself, past the guard.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .timeout(TOTAL_TIMEOUT)
            .connect_timeout(TOTAL_TIMEOUT)
            .pool_max_idle_per_host(0)
            .user_agent(user_agent)
            .build()
            .map_err(|e| format!("HTTP client setup: {e}"))?;
        Ok(Self { client, policy })
    }

    /// The page's metadata, within `TOTAL_TIMEOUT`.
    pub async fn fetch(&self, url: &Url) -> Result<PageMeta, FetchError> {
        tokio::time::timeout(TOTAL_TIMEOUT, self.fetch_within(url))
            .await
            .map_err(|_| FetchError::Timeout)?
    }

    async fn fetch_within(&self, url: &Url) -> Result<PageMeta, FetchError> {
        let mut current = url.clone();
        let mut redirects = 0;
        loop {
            self.policy.check_url(&current)?;
            let mut res = self
                .client
                .get(current.clone())
                .header(ACCEPT, "text/html,application/xhtml+xml;q=0.9")
                .header(ACCEPT_LANGUAGE, "pl,en;q=0.8")
                .send()
                .await?;
            // The resolver only hands out checked addresses; this is the
            // second lock on the same door.
            if let Some(addr) = res.remote_addr() {
                self.policy.check_ip(addr.ip())?;
            }
            let status = res.status();
            if status.is_redirection() {
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects);
                }
                let location = res
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(FetchError::BadRedirect)?;
                current = current
                    .join(location)
                    .map_err(|_| FetchError::BadRedirect)?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            let content_type = res
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let (essence, charset) = media_type(&content_type);
            if !essence.eq_ignore_ascii_case("text/html") {
                return Err(FetchError::NotHtml(content_type));
            }
            let mut parser = PageParser::new(charset.as_deref());
            let mut read = 0usize;
            while let Some(chunk) = res.chunk().await? {
                let take = chunk.len().min(MAX_BODY_BYTES - read);
                parser.write(&chunk[..take]);
                read += take;
                // Dropping the response closes the connection: the rest
                // of the page is never read.
                if read >= MAX_BODY_BYTES || parser.head_done() {
                    break;
                }
            }
            let meta = parser.finish(&current);
            if meta.is_empty() {
                return Err(FetchError::NothingToShow);
            }
            return Ok(meta);
        }
    }
}

/// `text/html; charset=ISO-8859-2` → ("text/html", Some("ISO-8859-2")).
fn media_type(value: &str) -> (String, Option<String>) {
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_owned();
    let charset = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_owned())
    });
    (essence, charset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert_eq!(media_type("text/html"), ("text/html".into(), None));
        assert_eq!(
            media_type("Text/HTML; Charset=\"windows-1250\""),
            ("Text/HTML".into(), Some("windows-1250".into()))
        );
        assert_eq!(
            media_type("text/html;charset=ISO-8859-2; foo=bar"),
            ("text/html".into(), Some("ISO-8859-2".into()))
        );
        assert_eq!(media_type(""), (String::new(), None));
    }
}
