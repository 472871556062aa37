//! Opaque random tokens and their stored form (SHA-256, hex).

use base64::Engine;
use rand::TryRngCore;
use sha2::{Digest, Sha256};

use crate::domain::DomainError;

/// Prefix of personal API tokens, so that leaked tokens are recognisable.
pub const API_TOKEN_PREFIX: &str = "msgp_";

/// 32 random bytes, URL-safe base64, with an optional prefix.
pub fn generate(prefix: &str) -> Result<String, DomainError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| DomainError::Internal(format!("random source: {e}")))?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The form stored in the database: tokens have 256 bits of entropy, so a
/// plain SHA-256 is enough (no salt or slow hash needed).
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random password of `len` letters and digits (for the first admin).
pub fn random_password(len: usize) -> Result<String, DomainError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 1];
    while out.len() < len {
        rand::rngs::OsRng
            .try_fill_bytes(&mut buf)
            .map_err(|e| DomainError::Internal(format!("random source: {e}")))?;
        // Rejection sampling keeps the distribution uniform.
        let limit = 256 - (256 % ALPHABET.len());
        if (buf[0] as usize) < limit {
            out.push(ALPHABET[buf[0] as usize % ALPHABET.len()] as char);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_is_stable() {
        let a = generate(API_TOKEN_PREFIX).unwrap();
        let b = generate(API_TOKEN_PREFIX).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(API_TOKEN_PREFIX));
        assert_eq!(hash(&a), hash(&a));
        assert_eq!(hash(&a).len(), 64);
    }

    #[test]
    fn random_password_has_the_length() {
        let p = random_password(16).unwrap();
        assert_eq!(p.len(), 16);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
