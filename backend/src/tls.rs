//! The process's one TLS stack: rustls with the ring crypto provider (the
//! one sqlx already links). reqwest, object_store and lettre are built
//! without a provider of their own, so every `reqwest::Client` needs this
//! installed first; it never picks another provider.

use std::sync::Once;

/// Installs ring as the process's rustls crypto provider. Idempotent; call
/// before building any HTTP client (the server, the CLI and the tests do).
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first: that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
